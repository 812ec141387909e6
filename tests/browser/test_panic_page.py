"""The /panic page in Debian's Chromium, against the real site on 127.0.0.1.

Every test also fails on a CSP violation, a console error, a failed request or a request to another
host (see ``make_page`` in conftest). Screenshots land in artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.browser.conftest import minute_series, screenshot, wait_ready
from tests.browser.pagetools import CHART_POINTS
from tests.conftest import FIXTURES


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
