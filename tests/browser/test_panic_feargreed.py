"""The /panic page's Fear & Greed panel (static/js/feargreed.js) in Debian's Chromium, against the real site:
the stored days drawn as the API answers them, the range selector and its query parameter, the empty
state (no file: no request at all), the tooltip's screen-reader readout, the theme, and a phone's width.

The site reads ``site.fear_greed_file``, written here with ``liquidation.feargreed.write`` (the collector's
own writer) and deleted after each test. Every test also fails on a CSP violation, a console error, a
failed request or a request to another host (see ``make_page`` in conftest). Screenshots land in
artifacts/screenshots/ as ``feargreed-*.png``. The tests read only the panel's own ids.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from liquidation import feargreed
from tests.browser.conftest import minute_series, screenshot

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DAYS = 500
#: Days (counted back from today) alternative.me did not publish: the line breaks there.
MISSING = (12, 13)
#: What the page's main script dispatches each minute once the data is in.
REFRESH = "document.dispatchEvent(new CustomEvent('liqsite:refresh', {detail: {}}))"
#: The URL of the ECharts module the page loaded (content-hashed): importing another URL would give a
#: second module instance, which does not know the page's charts.
ECHARTS = 'performance.getEntriesByType("resource").map((e) => e.name).find((n) => n.includes("/echarts.esm.min."))'
SERIES = """
async () => {
  const echarts = await import(ECHARTS_URL);
  const option = echarts.getInstanceByDom(document.getElementById("fg-chart")).getOption();
  const data = option.series[0].data;
  return {
    points: data.filter((p) => p[1] !== null).length,
    nulls: data.filter((p) => p[1] === null).length,
    last: data.length ? data[data.length - 1][1] : null,
    shade: option.series[0].markArea.data[0][0].itemStyle.color,
  };
}
""".replace("ECHARTS_URL", ECHARTS)
SHADE = "() => getComputedStyle(document.documentElement).getPropertyValue('--fg-extreme-fear-shade').trim()"


def label(value: int) -> str:
    for top, name in ((25, "Extreme Fear"), (47, "Fear"), (55, "Neutral"), (75, "Greed")):
        if value < top:
            return name
    return "Extreme Greed"


def stored_days(count: int = DAYS) -> list[feargreed.Day]:
    """``count`` days up to today (UTC), midnight timestamps, values sweeping 0..100, two days missing."""
    today = datetime.now(UTC).date()
    days = []
    for back in range(count - 1, -1, -1):
        if back in MISSING:
            continue
        day = today - timedelta(days=back)
        ts = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        value = max(0, min(100, round(50 + 45 * math.sin(back / 23) + (back % 7) - 3)))
        days.append(feargreed.Day(date=day.isoformat(), ts=ts, value=value, classification=label(value)))
    return days


@pytest.fixture
def fear_greed(site):
    """The Fear & Greed store as the collector writes it, fetched ten minutes ago; removed afterwards."""
    site.seed(minute_series(180))
    days = stored_days()
    feargreed.write(site.fear_greed_file, days, int(time.time()) - 600)
    yield days
    site.fear_greed_file.unlink(missing_ok=True)


@pytest.fixture
def no_fear_greed(site):
    site.seed(minute_series(180))
    site.fear_greed_file.unlink(missing_ok=True)


def fg_requests(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: "/api/fear-greed" in r.url and seen.append(r.url))
    return seen


def wait_drawn(page, range_key: str) -> None:
    page.wait_for_selector(f"#fg-panel[data-state='ready'][data-range='{range_key}']", timeout=15000)


def open_panel(make_page, site, query: str = "", **options):
    page = make_page(**options)
    requests = fg_requests(page)
    page.goto(site.url + "/panic" + query)
    return page, requests


def drawn(page) -> dict:
    return page.evaluate(SERIES)


def api_results(site, days: int) -> list[dict]:
    return site.api(f"/api/fear-greed?days={days}")["results"]


def test_the_chart_draws_the_stored_days_below_the_1h_panel(make_page, site, fear_greed):
    page, requests = open_panel(make_page, site)
    wait_drawn(page, "90d")
    expected = api_results(site, 90)
    panel = page.locator("#fg-panel")
    assert panel.get_attribute("data-points") == str(len(expected))
    assert panel.get_attribute("data-last") == str(expected[-1]["value"])
    series = drawn(page)
    assert (series["points"], series["last"], series["nulls"]) == (len(expected), expected[-1]["value"], 1)
    assert [urlsplit(u).query for u in requests] == ["days=90"]
    order = page.eval_on_selector_all("main > section", "els => els.map(e => e.id)")
    assert order.index("liq-panel") < order.index("fg-panel")
    # The headline: the latest value and its label, in Chinese by default.
    latest = expected[-1]
    assert page.inner_text("#fg-now-value") == str(latest["value"])
    zh = {"Extreme Fear": "极度恐惧", "Fear": "恐惧", "Neutral": "中性", "Greed": "贪婪", "Extreme Greed": "极度贪婪"}
    assert page.inner_text("#fg-now-label") == zh[latest["classification"]]
    assert page.get_attribute("#fg-now", "data-band") == latest["classification"].lower().replace(" ", "_")
    link = page.locator("#fg-panel a[href^='https://alternative.me/']")
    assert link.count() == 1 and "alternative.me" in link.inner_text()


def test_the_title_in_chinese_and_english(make_page, site, fear_greed):
    page, _ = open_panel(make_page, site)
    wait_drawn(page, "90d")
    assert "恐惧贪婪指数历史图表" in page.inner_text("#fg-title")
    screenshot(page, "feargreed-zh-light")
    page, _ = open_panel(make_page, site, "?lang=en")
    wait_drawn(page, "90d")
    assert "Fear & Greed Index history" in page.inner_text("#fg-title")
    assert page.inner_text("#fg-now-label") == fear_greed[-1]["classification"]
    assert [b.inner_text() for b in page.locator(".fg-range").all()] == ["30d", "90d", "1y", "All"]
    screenshot(page, "feargreed-en-light")


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_dark_theme(make_page, site, fear_greed, lang):
    page, _ = open_panel(make_page, site, f"?lang={lang}", color_scheme="dark")
    wait_drawn(page, "90d")
    assert drawn(page)["shade"] == page.evaluate(SHADE)
    screenshot(page, f"feargreed-{'zh' if lang == 'zh-hans' else 'en'}-dark")


def test_the_theme_toggle_redraws_the_chart_in_the_other_theme(make_page, site, fear_greed):
    page, _ = open_panel(make_page, site, color_scheme="light")
    wait_drawn(page, "90d")
    light = drawn(page)["shade"]
    page.click("#theme-toggle")
    page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
    dark = page.evaluate(SHADE)
    assert dark != light
    page.wait_for_function(f"async () => ({SERIES})().then((s) => s.shade === {dark!r})")


def test_the_range_selector_changes_the_points_and_the_url(make_page, site, fear_greed):
    page, requests = open_panel(make_page, site)
    wait_drawn(page, "90d")
    assert page.get_attribute(".fg-range[data-fg='90d']", "aria-pressed") == "true"
    for key, days in (("30d", 30), ("1y", 365), ("all", 3650)):
        page.click(f".fg-range[data-fg='{key}']")
        wait_drawn(page, key)
        expected = api_results(site, days)
        assert page.get_attribute("#fg-panel", "data-points") == str(len(expected))
        assert drawn(page)["points"] == len(expected)
        assert parse_qs(urlsplit(page.url).query)["fg"] == [key]
        assert page.get_attribute(f".fg-range[data-fg='{key}']", "aria-pressed") == "true"
    assert int(page.get_attribute("#fg-panel", "data-points")) == DAYS - len(MISSING)
    page.click(".fg-range[data-fg='90d']")  # the default: cached, and out of the URL
    wait_drawn(page, "90d")
    assert "fg" not in parse_qs(urlsplit(page.url).query)
    assert [urlsplit(u).query for u in requests] == ["days=90", "days=30", "days=365", "days=3650"]


def test_the_range_comes_from_the_query_string(make_page, site, fear_greed):
    page, requests = open_panel(make_page, site, "?fg=30d")
    wait_drawn(page, "30d")
    assert page.get_attribute("#fg-panel", "data-points") == str(len(api_results(site, 30)))
    assert [urlsplit(u).query for u in requests] == ["days=30"]
    page, _ = open_panel(make_page, site, "?fg=5y")  # not a range: the default
    wait_drawn(page, "90d")


def test_the_minute_refresh_fetches_the_daily_index_again_only_after_an_hour(make_page, site, fear_greed):
    page = make_page()
    requests = fg_requests(page)
    page.clock.install()
    page.goto(site.url + "/panic")
    wait_drawn(page, "90d")
    page.evaluate(REFRESH)
    page.clock.fast_forward("30:00")  # the page's own minute refreshes run too
    page.evaluate(REFRESH)
    page.wait_for_timeout(300)
    assert len(requests) == 1
    page.clock.fast_forward("31:00")
    page.evaluate(REFRESH)
    deadline = time.monotonic() + 10  # the page's timers are the fake clock's: poll from here
    while len(requests) < 2:
        assert time.monotonic() < deadline, "no request an hour later"
        page.wait_for_timeout(50)
    assert [urlsplit(u).query for u in requests] == ["days=90", "days=90"]
    wait_drawn(page, "90d")


def test_hovering_and_arrow_keys_read_the_day_out(make_page, site, fear_greed):
    page, _ = open_panel(make_page, site, "?lang=en&fg=30d")
    wait_drawn(page, "30d")
    page.locator("#fg-chart").scroll_into_view_if_needed()
    box = page.locator("#fg-chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] - 30, box["y"] + box["height"] / 2)
    page.wait_for_function("() => document.getElementById('fg-readout').textContent.includes('Fear & Greed Index on')")
    page.focus("#fg-chart")
    page.keyboard.press("End")
    last = fear_greed[-1]
    expected = f"Fear & Greed Index on {last['date']}: {last['value']}, {last['classification']}"
    assert page.inner_text("#fg-readout") == expected
    page.keyboard.press("ArrowLeft")
    before = fear_greed[-2]
    assert page.inner_text("#fg-readout").startswith(f"Fear & Greed Index on {before['date']}: {before['value']}")


def test_without_stored_values_the_panel_says_so_and_asks_nothing(make_page, site, no_fear_greed):
    page, requests = open_panel(make_page, site)
    page.wait_for_selector("#fg-panel[data-state='off']", timeout=15000)
    assert page.locator("#fg-empty").is_visible()
    assert "暂无恐惧贪婪指数数据" in page.inner_text("#fg-empty")
    assert not page.locator("#fg-chart").is_visible() and not page.locator("#fg-ranges").is_visible()
    page.evaluate(REFRESH)
    page.wait_for_timeout(500)
    assert requests == []
    screenshot(page, "feargreed-zh-empty")
    page, requests = open_panel(make_page, site, "?lang=en")
    page.wait_for_selector("#fg-panel[data-state='off']", timeout=15000)
    assert "No Fear & Greed Index data yet" in page.inner_text("#fg-empty")
    assert requests == []


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_a_phone_has_no_horizontal_overflow(make_page, site, fear_greed, lang):
    page, _ = open_panel(make_page, site, f"?lang={lang}", **PHONE)
    wait_drawn(page, "90d")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    panel = page.locator("#fg-panel").bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= 390
    for box in [b.bounding_box() for b in page.locator(".fg-range").all()]:
        assert box["height"] >= 40
        assert box["x"] + box["width"] <= 390
    assert page.locator("#fg-chart canvas").first.bounding_box()["width"] > 300
    page.locator("#fg-panel").scroll_into_view_if_needed()
    screenshot(page, f"feargreed-mobile-{'zh' if lang == 'zh-hans' else 'en'}")
