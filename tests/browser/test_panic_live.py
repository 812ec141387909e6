"""The /panic page over time: refresh while hidden or visible, zoom kept across refreshes, quick range
clicks, the strict CSP, the formatter's vectors, bucketed peaks, the collector's failure and the exchange
split, in Debian's Chromium."""

from __future__ import annotations

import json
import time

from tests.browser.conftest import minute_series, screenshot, wait_ready
from tests.browser.pagetools import CHART_POINTS, ECHARTS
from tests.conftest import FIXTURES


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
