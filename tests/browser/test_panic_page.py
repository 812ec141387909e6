"""The /panic page in Debian's Chromium, against the real site on 127.0.0.1.

Every test also fails on a CSP violation, a console error, a failed request or a request to another
host (see ``make_page`` in conftest). Screenshots land in artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import minute_series, screenshot, wait_ready
from tests.conftest import FIXTURES

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


@pytest.fixture
def day_with_gap(site):
    """24 h of minutes, with a 10-minute hole 100 minutes ago."""
    records = minute_series(1440, gap=range(100, 110))
    site.seed(records)
    return records


def test_panel_sits_below_the_panic_trend_and_draws(make_page, site, day_with_gap):
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    order = page.eval_on_selector_all("main > section", "els => els.map(e => e.id)")
    # As the seed has it: the panic trend, then the 1h panel, then the Fear & Greed history.
    assert order.index("panic-panel") < order.index("liq-panel") < order.index("fg-panel") < order.index("oi-panel")
    title = page.inner_text("#liq-panel h2")
    assert "💥 1小时爆仓金额曲线图" in title
    assert "[实时追踪]" in title
    box = page.locator("#liq-chart canvas").first.bounding_box()
    assert box["width"] > 600
    assert box["height"] > 300
    assert page.inner_text("#card-h1").startswith("$")
    assert page.inner_text("#card-h1").endswith("万")
    screenshot(page, "desktop-zh")


def test_root_redirects_to_the_panic_page(make_page, site, day_with_gap):
    page = make_page()
    page.goto(site.url + "/")
    assert page.url.endswith("/panic")


@pytest.mark.parametrize(("key", "minutes"), [("1h", 60), ("24h", 1440)])
def test_point_count_matches_the_api(make_page, site, day_with_gap, key, minutes):
    """Ranges up to 24 h are slices of the day the page holds: as many points as the API has records."""
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    page.click(f".range[data-range='{key}']")
    wait_ready(page)
    page.wait_for_timeout(200)
    shown = page.evaluate(CHART_POINTS, "liq-chart")
    start = int(time.time()) // 60 * 60 - minutes * 60
    assert abs(shown["points"] - site.api(f"/api/liquidation-1h/history?start_time={start}&limit=2000")["count"]) <= 1
    assert shown["points"] > 0
    assert page.get_attribute(f".range[data-range='{key}']", "aria-pressed") == "true"


def test_switching_range_changes_the_series(make_page, site, day_with_gap):
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    day = page.evaluate(CHART_POINTS, "liq-chart")["points"]
    page.click(".range[data-range='3h']")
    wait_ready(page)
    page.wait_for_timeout(200)
    three = page.evaluate(CHART_POINTS, "liq-chart")["points"]
    assert three < day
    assert 168 <= three <= 181  # 3 h of minutes less the 10-minute hole (a minute boundary may pass meanwhile)
    page.reload()
    wait_ready(page)
    assert page.get_attribute(".range[data-range='3h']", "aria-pressed") == "true"  # remembered


def test_a_gap_in_the_data_is_a_gap_in_the_series(make_page, site, day_with_gap):
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    shown = page.evaluate(CHART_POINTS, "liq-chart")
    newest = day_with_gap[-1]["timestamp"]
    inside = [ms for ms in shown["nulls"] if newest - 111 * 60 <= ms / 1000 <= newest - 99 * 60]
    assert len(inside) == 10  # one break per missing minute, never a bridge
    assert page.get_attribute("#liq-panel", "data-gaps") in (
        "1",
        "2",
    )  # the hole (and at most the range's first minute)
    assert [ms for ms in page.evaluate(CHART_POINTS, "panic-chart")["nulls"] if ms in inside] == inside


def test_hover_shows_the_values_of_the_point(make_page, site, day_with_gap):
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    box = page.locator("#liq-chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.45)
    page.wait_for_function("document.getElementById('liq-readout').textContent.length > 0")
    text = page.inner_text("#liq-readout")
    stamp = text.splitlines()[0][:19]
    when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone(timedelta(hours=8)))
    record = next(r for r in day_with_gap if r["timestamp"] == int(when.timestamp()))
    cases = json.loads((FIXTURES / "format-cases.json").read_text())
    assert cases  # the formatter's vectors are tested separately; here: values of the right record
    amount = page.evaluate(
        "async (v) => (await import('/static/js/format.js')).formatWan(v, 'zh-hans')", record["hour_1_amount"]
    )
    assert f"1小时爆仓: {amount}" in text
    assert "恐慌指数: " in text
    assert "多单 $150.50万 · 空单 $120.25万" in text
    assert "北京时间 (UTC+8)" in text
    screenshot(page, "desktop-zh-tooltip")


def test_times_are_beijing_time_whatever_the_browser_zone_and_switch_to_local(make_page, site, day_with_gap):
    page = make_page(timezone_id="America/New_York")
    page.goto(site.url + "/panic")
    wait_ready(page)
    box = page.locator("#liq-chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.45)
    page.wait_for_function("document.getElementById('liq-readout').textContent.length > 0")
    beijing = page.inner_text("#liq-readout").splitlines()[0]
    page.click("#zone-toggle")
    assert page.inner_text("#zone-toggle") == "本地时间"
    page.mouse.move(box["x"] + box["width"] * 0.5 + 1, box["y"] + box["height"] * 0.45)
    page.wait_for_function(f"!document.getElementById('liq-readout').textContent.startsWith({beijing[:19]!r})")
    local = page.inner_text("#liq-readout").splitlines()[0]
    b = datetime.strptime(beijing[:19], "%Y-%m-%d %H:%M:%S")
    n = datetime.strptime(local[:19], "%Y-%m-%d %H:%M:%S")
    assert timedelta(hours=12) <= b - n <= timedelta(hours=13)  # New York is 12 or 13 h behind Beijing


def test_empty_store_shows_the_empty_state(make_page, site):
    site.seed([])
    site.last_run.unlink(missing_ok=True)
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page, "empty")
    assert page.is_visible("#liq-empty")
    assert "暂无数据" in page.inner_text("#liq-empty-title")
    hint = page.inner_text("#liq-empty-hint")
    assert "采集器还没有写入第一条记录" in hint
    for operator_advice in ("LIQUIDATION_", "COINGLASS", "KEY", "manage.py", ".env", "http"):
        assert operator_advice not in hint  # the default source needs no key; visitors get no commands
    assert page.inner_text("#card-h1") == "—"
    screenshot(page, "desktop-zh-empty")


def test_stale_data_shows_the_badge(make_page, site):
    site.seed(minute_series(120, end_ago=10))
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    assert page.is_visible("#stale-badge")
    assert "分钟前" in page.inner_text("#card-updated")
    site.seed(minute_series(120))
    page.reload()
    wait_ready(page)
    assert not page.is_visible("#stale-badge")


def test_a_newest_record_dated_after_the_servers_clock_shows_the_stale_badge(make_page, site):
    """A clock that jumped ahead and came back: no collection can append after such a record, so the
    page must not call it fresh."""
    site.seed(minute_series(120, end_ago=-60))
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    assert page.is_visible("#stale-badge")


def test_lower_bound_records_show_the_coverage_note(make_page, site):
    coverage = {"venues": ["binance", "okx"], "missing": ["bybit"], "hour_1_complete": False, "hour_24_complete": False}
    site.seed(minute_series(30, extra={"lower_bound": True, "coverage": coverage}))
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    assert page.is_visible("#lower-bound-note")
    assert page.get_attribute("#lower-bound-note a", "href") == "/methodology"
    assert page.inner_text("#card-h1").startswith("≥$")  # a lower bound says so on the card
    site.seed(minute_series(30))
    page.reload()
    wait_ready(page)
    assert not page.is_visible("#lower-bound-note")


def test_english_switch_is_remembered(make_page, site, day_with_gap):
    page = make_page(locale="zh-CN")
    page.goto(site.url + "/panic")
    wait_ready(page)
    page.click("text=English")
    wait_ready(page)
    assert "1h liquidation amount chart" in page.inner_text("#liq-panel h2")
    assert page.inner_text("#card-h1").endswith("M")
    assert page.get_attribute("html", "lang") == "en"
    page.goto(site.url + "/panic")  # no ?lang=: the cookie remembers
    wait_ready(page)
    assert "Panic index trend" in page.inner_text("#panic-panel h2")
    screenshot(page, "desktop-en")
    page.click("text=中文")
    wait_ready(page)
    assert "恐慌清洗指数趋势" in page.inner_text("#panic-panel h2")


def test_dark_theme_follows_the_system_and_the_toggle_is_remembered(make_page, site, day_with_gap):
    page = make_page(color_scheme="dark")
    page.goto(site.url + "/panic")
    wait_ready(page)
    assert page.get_attribute("html", "data-theme") == "dark"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 20, 25)"
    screenshot(page, "desktop-zh-dark")
    page.click("#theme-toggle")
    assert page.get_attribute("html", "data-theme") == "light"
    page.reload()
    wait_ready(page)
    assert page.get_attribute("html", "data-theme") == "light"  # the choice beats the system setting


def test_phone_has_no_horizontal_scroll_and_tappable_controls(make_page, site, day_with_gap):
    page = make_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2)
    page.goto(site.url + "/panic")
    wait_ready(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    for box in [b.bounding_box() for b in page.locator(".range").all()]:
        assert box["height"] >= 40
        assert box["x"] + box["width"] <= 390
    assert page.locator("#liq-chart canvas").first.bounding_box()["width"] > 300
    screenshot(page, "mobile-zh")


def test_chart_resizes_with_the_window(make_page, site, day_with_gap):
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    before = page.locator("#liq-chart canvas").first.bounding_box()["width"]
    page.set_viewport_size({"width": 800, "height": 900})
    page.wait_for_timeout(300)
    after = page.locator("#liq-chart canvas").first.bounding_box()["width"]
    assert after < before - 200


def test_refresh_pauses_while_hidden_and_runs_on_becoming_visible(make_page, site, day_with_gap):
    page = make_page()
    latest_calls: list[float] = []
    page.on("request", lambda r: "/history?start_time=" in r.url and latest_calls.append(time.monotonic()))
    page.goto(site.url + "/panic")
    wait_ready(page)
    assert len(latest_calls) == 1
    page.evaluate(
        """() => {
        Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    )
    page.wait_for_timeout(300)
    assert len(latest_calls) == 1
    page.evaluate(
        """() => {
        Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    )
    page.wait_for_timeout(1000)
    assert len(latest_calls) == 2


def test_the_page_is_served_with_the_strict_csp(make_page, site, day_with_gap):
    page = make_page()
    response = page.goto(site.url + "/panic")
    csp = response.headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    html = response.text()  # as sent: ECharts' own CSSOM styles on its canvases are fine under the CSP
    assert " style=" not in html
    wait_ready(page)
    box = page.locator("#liq-chart").bounding_box()
    for x in (0.2, 0.5, 0.8):  # tooltips included
        page.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] * 0.5)
        page.wait_for_timeout(100)


def test_the_formatter_matches_every_vector(make_page, site, day_with_gap):
    page = make_page()
    page.goto(site.url + "/panic")
    cases = json.loads((FIXTURES / "format-cases.json").read_text())
    failures = page.evaluate(
        """async (cases) => {
        const f = await import("/static/js/format.js");
        const bad = [];
        for (const lang of ["zh-hans", "en"]) {
          for (const c of cases.usd) {
            const got = f.formatUsd(c.usd, lang);
            if (got !== c[lang]) bad.push([c.usd, lang, got]);
          }
          for (const c of cases.compact) {
            const got = f.formatUsd(c.usd, lang, { compact: true });
            if (got !== c[lang]) bad.push(["compact", c.usd, lang, got]);
          }
          for (const c of cases.wan) if (f.formatWan(c.wan, lang) !== c[lang]) bad.push(["wan", c.wan, lang]);
          for (const c of cases.yi) if (f.formatYi(c.yi, lang) !== c[lang]) bad.push(["yi", c.yi, lang]);
        }
        for (const c of cases.index) if (f.formatIndex(c.value) !== c.text) bad.push(["index", c.value]);
        for (const c of cases.percent) if (f.formatPercent(c.value) !== c.text) bad.push(["percent", c.value]);
        return bad;
    }""",
        cases,
    )
    assert failures == []


def test_a_quick_second_range_click_wins(make_page, site, day_with_gap):
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    page.click(".range[data-range='1h']")
    page.click(".range[data-range='3h']")
    wait_ready(page)
    page.wait_for_timeout(500)
    points = page.evaluate(CHART_POINTS, "liq-chart")["points"]
    assert 168 <= points <= 181  # the 3 h series, not the 1 h one that answered first or last
    assert page.get_attribute(".range[data-range='3h']", "aria-pressed") == "true"


def test_zoom_survives_the_minute_refresh(make_page, site, day_with_gap):
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    zoom = f"""async () => {{
        const echarts = await import({ECHARTS});
        return echarts.getInstanceByDom(document.getElementById("liq-chart")).getOption().dataZoom[0].start;
    }}"""
    page.evaluate(
        f"""async () => {{
        const echarts = await import({ECHARTS});
        const chart = echarts.getInstanceByDom(document.getElementById("liq-chart"));
        chart.dispatchAction({{type: "dataZoom", start: 60, end: 100}});
    }}"""
    )
    assert page.evaluate(zoom) == 60
    page.evaluate('() => document.dispatchEvent(new Event("visibilitychange"))')  # visible: refresh now
    page.wait_for_timeout(1000)
    assert page.evaluate(zoom) == 60


def test_bucketed_ranges_mark_the_peak_inside_a_bucket(make_page, site):
    records = minute_series(3 * 1440)
    spike = records[-500]
    spike["hour_1_amount"] = 99999.0  # a one-minute spike in the middle of a 5-minute bucket
    site.seed(records)
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    page.click(".range[data-range='3d']")
    wait_ready(page)
    page.wait_for_timeout(300)
    peak = page.evaluate(
        f"""async () => {{
        const echarts = await import({ECHARTS});
        const option = echarts.getInstanceByDom(document.getElementById("liq-chart")).getOption();
        return option.series[0].markPoint.data[0].value;
    }}"""
    )
    assert peak == 99999.0


def test_empty_store_says_why_when_the_collector_failed(make_page, site):
    site.seed([])
    site.last_run.write_text(
        json.dumps(
            {
                "time": int(time.time()) - 30,
                "outcome": "error",
                "source": "exchanges",
                "error": "source exchanges: no exchange reachable: start `manage.py stream_liquidations`",
                "error_class": "no-exchange-reachable",
            }
        )
    )
    try:
        page = make_page()
        page.goto(site.url + "/panic")
        wait_ready(page, "empty")
        hint = page.inner_text("#liq-empty-hint")
        assert "采集器无法获取数据" in hint
        assert "无法连接任何交易所" in hint  # the error class, said for a visitor
        assert not page.is_visible("#liq-empty-detail")  # the operator's part waits behind "details"
        page.click("#liq-empty-details summary")
        detail = page.inner_text("#liq-empty-detail")
        assert "exchanges" in detail
        assert "no-exchange-reachable" in detail
        for leak in ("manage.py", "stream_liquidations", "http", "`"):
            assert leak not in hint + detail  # never a command or a URL on the public page
    finally:
        site.last_run.unlink()


def test_exchange_split_and_coverage_are_shown(make_page, site):
    coverage = {
        "venues": ["binance", "okx"],
        "missing": ["bybit"],
        "since": {},
        "hour_1_complete": False,
        "hour_24_complete": False,
        "suspect": {"gate": "BTC_USDT open interest 300,000,000,000 USD is over 200,000,000,000"},
    }
    split = {
        "binance": {"hour_1": 200.5, "hour_24": 900},
        "okx": {"hour_1": 99.5, "hour_24": 300},
        "gate": {"hour_1": 0},
    }
    site.seed(minute_series(120, extra={"lower_bound": True, "coverage": coverage, "by_exchange": split}))
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    note = page.inner_text("#lower-bound-note")
    assert "当前计入：Binance, OKX。" in note  # venues by their proper names
    assert "当前未计入：Bybit。" in note
    assert "数值异常、已剔除：Gate。" in note  # a venue the plausibility guards left out
    assert "过去一小时数据完整：否。" in note
    page.locator("#liq-chart").scroll_into_view_if_needed()
    box = page.locator("#liq-chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.97, box["y"] + box["height"] * 0.4)  # the last two hours
    page.wait_for_function("() => document.getElementById('liq-readout').textContent.includes('各交易所')")
    assert "各交易所: Binance $200.50万 · OKX $99.50万" in page.inner_text("#liq-readout")
    screenshot(page, "desktop-zh-coverage")
