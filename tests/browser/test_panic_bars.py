"""Long/short bars under the 1h curve (issue 22, section 2) and what a tab with every panel costs."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from liquidation.records import to_line
from tests.browser.conftest import screenshot, wait_ready
from tests.browser.pagetools import ECHARTS
from tests.browser.test_panic_depth import _event, depth, fold, no_buckets  # noqa: F401 (fixtures)

BARS = f"""async () => {{
  const echarts = await import({ECHARTS});
  const o = echarts.getInstanceByDom(document.getElementById("liq-chart")).getOption();
  const bars = (id) => (o.series.find((s) => s.id === id) || {{ data: [] }}).data;
  return {{
    long: bars("bars-long"), short: bars("bars-short"),
    grids: o.grid.length, zoomAxes: o.dataZoom.map((z) => z.xAxisIndex),
    axes: o.xAxis.map((a) => [a.min, a.max]),
  }};
}}"""


def test_long_and_short_bars_share_the_curves_axis_and_zoom(make_page, site, depth):  # noqa: F811
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    page.wait_for_load_state("networkidle")
    shown = page.evaluate(BARS)
    assert shown["grids"] == 2
    assert all(axes == [0, 1] for axes in shown["zoomAxes"])  # one zoom moves both
    assert shown["axes"][0] == shown["axes"][1]  # one time axis
    start, end = shown["axes"][0][0] // 1000, shown["axes"][0][1] // 1000
    api = site.api(f"/api/liquidation-1h/bars?{urlencode({'start_time': start, 'end_time': end, 'step': '15m'})}")
    expected = {s["key"]: {ms: v for ms, v in s["values"] if v} for s in api["series"]}
    for key in ("long", "short"):
        drawn = {ms: v for ms, v in shown[key] if v}
        assert drawn == expected[key]
        assert drawn  # the fixture's liquidations are there
    box = page.locator("#liq-chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.78)  # over the bars
    page.wait_for_timeout(200)
    screenshot(page, "bars-zh-light")


def test_a_minute_folded_after_the_page_read_it_is_read_again(make_page, site, depth):  # noqa: F811
    """The collector folds a minute's events after the page's refresh (3 s into the next minute) has
    read its bar; late rows from polled venues land in minutes already read. The newest ten minutes are
    read again on every refresh."""
    page = make_page()
    page.goto(site.url + "/panic?range=1h")
    wait_ready(page)
    page.wait_for_load_state("networkidle")
    minute_ms = (int(time.time()) // 60 - 3) * 60_000  # three minutes ago: already read
    before = {ms: v for ms, v in page.evaluate(BARS)["long"]}.get(minute_ms) or 0
    fold(site, [{**_event(1, minute_ms + 5_000, 123_456.0), "side": "long"}])
    page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_function(
        f"""async () => {{
        const echarts = await import({ECHARTS});
        const o = echarts.getInstanceByDom(document.getElementById("liq-chart")).getOption();
        const bar = o.series.find((s) => s.id === "bars-long").data.find((p) => p[0] === {minute_ms});
        return !!bar && bar[1] >= {before + 123_456.0 - 0.01};
    }}"""
    )


def test_without_buckets_there_are_no_bars_and_no_bars_request(make_page, site, no_buckets):  # noqa: F811
    page = make_page()
    asked: list[str] = []
    page.on("request", lambda r: "/bars?" in r.url and asked.append(r.url))
    page.goto(site.url + "/panic")
    wait_ready(page)
    assert page.evaluate(BARS)["grids"] == 1
    assert asked == []


def test_a_tab_with_every_panel_stays_under_10_mb_a_day(make_page, site, depth):  # noqa: F811
    """The page, the bars, the summary and the live tape over ten refreshes, one new record each (the
    refresh is the one a tab runs when it becomes visible: the same requests as each minute's). Bytes as
    transferred: headers and the compressed body."""
    page = make_page()
    seen: list[tuple[str, int]] = []

    def finished(request) -> None:
        sizes = request.sizes()
        seen.append((request.url, sizes["responseHeadersSize"] + sizes["responseBodySize"]))

    page.on("requestfinished", finished)
    page.goto(site.url + "/panic")
    wait_ready(page)
    page.wait_for_load_state("networkidle")
    first = len(seen)
    newest = site.api("/api/liquidation-1h/history?limit=1")["results"][-1]
    newest.pop("time")
    with site.data_file.open("ab") as f:
        for minute in range(1, 11):
            f.write(to_line({**newest, "timestamp": newest["timestamp"] + minute}))  # newer, never ahead of now
            f.flush()
            page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
            deadline = time.monotonic() + 10
            while sum("/tape?" in u for u, _ in seen[first:]) < minute:  # the tape is asked last
                assert time.monotonic() < deadline, f"minute {minute}: {seen[first:]}"
                page.wait_for_timeout(50)
    later = seen[first:]
    per_minute = sum(n for _, n in later) / 10
    kinds = {k for u, _ in later for k in ("history", "summary", "tape", "bars") if f"/{k}?" in u}
    assert kinds == {"history", "summary", "tape", "bars"}
    print(f"every panel: {per_minute:.0f} B a minute, {per_minute * 1440 / 1e6:.2f} MB a day")
    assert per_minute * 1440 <= 10_000_000, f"{per_minute:.0f} bytes a minute"
