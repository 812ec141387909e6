"""/panic after a second look at the rewrite: steps counted as the server counts minutes, the server's clock
from the first request on, local ticks through a daylight-saving change, the keyboard."""

from __future__ import annotations

import time

from tests.browser.conftest import minute_series, wait_ready
from tests.browser.pagetools import ECHARTS
from tests.browser.test_panic_review import open_panic

# Second look: steps counted as the server counts minutes, the server's clock from the first request on,
# ticks through a daylight-saving change, the keyboard.


def test_records_collected_late_or_early_in_their_minute_make_no_gap(make_page, site):
    records = minute_series(180)
    for i, record in enumerate(records):
        record["timestamp"] = record["timestamp"] // 60 * 60 + (58 if i % 2 else 1)
    del records[100]  # one missing minute, between a record at :58 and one at :01 two minutes later
    site.seed(records)
    page = open_panic(make_page, site, "?range=3h")
    gaps = page.evaluate(
        f"""async () => {{
        const echarts = await import({ECHARTS});
        const o = echarts.getInstanceByDom(document.getElementById("liq-chart")).getOption();
        return o.series.find((s) => s.id === "gaps").data.filter((p) => p[1] !== null).map((p) => p[0] / 1000);
    }}"""
    )
    missing = records[99]["timestamp"] // 60 * 60 + 60
    assert missing in gaps  # the one missing minute is a gap
    assert all(g <= missing or g > records[-1]["timestamp"] for g in gaps if g >= records[0]["timestamp"])


def test_a_browser_clock_two_days_fast_still_loads_the_whole_day(make_page, site):
    site.seed(minute_series(1440))
    page = make_page()
    page.clock.install(time=time.time() + 2 * 86400)  # the server's clock comes with the page
    page.goto(site.url + "/panic")
    wait_ready(page)
    assert int(page.get_attribute("#liq-panel", "data-points")) >= 1438  # and no 400 (the watch fails on one)


def test_local_ticks_stay_on_whole_hours_through_a_daylight_saving_change(make_page, site):
    site.seed(minute_series(10))
    page = open_panic(make_page, site, timezone_id="America/New_York")
    ticks = page.evaluate(
        """async () => {
        const axis = await import("/static/js/axis.js");
        const start = Date.UTC(2026, 2, 7, 5);  // 2026-03-07 00:00 in New York; clocks go forward on the 8th
        const { values } = axis.tickValues(start, start + 3 * 86400e3, 700, "local");
        return values.map((ms) => [new Date(ms).getHours(), new Date(ms).getMinutes()]);
    }"""
    )
    assert len(ticks) >= 6
    assert all(minutes == 0 and hours % 6 == 0 for hours, minutes in ticks)


def test_the_keyboard_walks_the_curve_and_the_readout_follows(make_page, site):
    records = minute_series(60)
    site.seed(records)
    page = open_panic(make_page, site, "?range=1h")
    page.focus("#liq-chart")
    page.keyboard.press("End")
    page.wait_for_function("() => document.getElementById('liq-readout').textContent.length > 0")
    newest = page.inner_text("#liq-readout").splitlines()[0]
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"() => !document.getElementById('liq-readout').textContent.startsWith({newest[:19]!r})")
    assert page.inner_text("#liq-readout").splitlines()[0] < newest
