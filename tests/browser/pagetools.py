"""Shared by the /panic page's browser tests: the page's ECharts module, its points, its history requests."""

from __future__ import annotations

from urllib.parse import urlsplit

#: A JS expression: the URL of the ECharts module the page loaded (a content-hashed name). Importing
#: any other URL would give a second module instance, which does not know the page's chart.
ECHARTS = 'performance.getEntriesByType("resource").map((e) => e.name).find((n) => n.includes("/echarts.esm.min."))'

CHART_POINTS = """
async (id) => {
  const echarts = await import(ECHARTS_URL);
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  const data = chart.getOption().series[0].data;
  return {
    points: data.filter((p) => p[1] !== null).length,
    nulls: data.filter((p) => p[1] === null).map((p) => p[0]),
    first: data.length ? data[0][0] : null,
    last: data.length ? data[data.length - 1][0] : null,
  };
}
""".replace("ECHARTS_URL", ECHARTS)


def history_requests(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: "/api/liquidation-1h/history?" in r.url and seen.append(r.url))
    return seen


def api_count(site, url: str) -> int:
    parts = urlsplit(url)
    return site.api(f"{parts.path}?{parts.query}")["count"]
