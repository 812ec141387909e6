"""What the trader's review of /panic found (issue 22, section 1), one test per finding, each failing on
the page as it was: long ranges hiding peaks, developer-output states, unreadable pins, a 700 px tooltip,
a three-row phone top bar, a bare-ratio panic index, 2 GB a day per tab, the polish list, the state
signals and the fresh install. Chromium under the strict CSP; see conftest for the watch on every page.
"""

from __future__ import annotations

import json
import time

import pytest

from liquidation.records import to_line
from tests.browser.conftest import minute_series, screenshot, wait_ready
from tests.browser.pagetools import ECHARTS

OPTION = f"""async (id) => {{
  const echarts = await import({ECHARTS});
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  const o = chart.getOption();
  const grid = chart.getModel().getComponent("grid", 0).coordinateSystem.getRect();
  return {{
    xMin: o.xAxis[0].min, xMax: o.xAxis[0].max,
    ticks: o.xAxis[o.xAxis.length - 1].axisLabel.customValues,
    marks: ((o.series[0].markPoint || {{}}).data || []).map((m) => ({{
      value: m.value, coord: m.coord, y: chart.convertToPixel({{ xAxisIndex: 0, yAxisIndex: 0 }}, m.coord)[1],
      fontSize: m.label.fontSize, color: m.label.color, background: m.label.backgroundColor, position: m.label.position,
    }})),
    grid: {{ x: grid.x, y: grid.y, width: grid.width, height: grid.height }},
    average: o.series[0].markLine && o.series[0].markLine.label ? o.series[0].markLine.label.position : null,
    areas: o.series[0].markArea ? o.series[0].markArea.data.length : 0,
    lone: (o.series.find((s) => s.id === "lone") || {{ data: [] }}).data.length,
    zoomFill: o.dataZoom && o.dataZoom[1] ? o.dataZoom[1].fillerColor : null,
    seriesIds: o.series.map((s) => s.id),
  }};
}}"""


def chart(page, element_id: str = "liq-chart") -> dict:
    return page.evaluate(OPTION, element_id)


def open_panic(make_page, site, query: str = "", state: str = "ready", **options):
    page = make_page(**options)
    page.goto(f"{site.url}/panic{query}")
    wait_ready(page, state)
    page.wait_for_timeout(150)
    return page


def luminance(colour: str) -> float:
    colour = colour.strip()
    if colour.startswith("#"):
        rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    else:
        rgb = [float(v) / 255 for v in colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3]]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted([luminance(a), luminance(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture
def month(site):
    """30 days of minutes with a 1.71亿 one-minute peak inside an hour bucket, and a 2-hour gap."""
    records = minute_series(30 * 1440, gap=range(3000, 3120))
    records[-20000]["hour_1_amount"] = 17100.0
    site.seed(records)
    return records


# 1. Long ranges hide peaks -----------------------------------------------------------------------------


def test_the_30_day_view_labels_the_true_maximum_inside_the_plot(make_page, site, month):
    page = open_panic(make_page, site, "?range=30d")
    shown = chart(page)
    assert page.get_attribute("#liq-panel", "data-max") == "17100"
    peak = shown["marks"][0]
    assert peak["value"] == 17100.0  # the bucket maximum, not the bucket's last record
    assert peak["y"] - 30 >= shown["grid"]["y"]  # room for its label above it, inside the plot
    assert all(m["y"] <= shown["grid"]["y"] + shown["grid"]["height"] for m in shown["marks"])
    screenshot(page, "review-30d-zh-light")


# 2. Empty and failure states ---------------------------------------------------------------------------


def failing_collector(site) -> None:
    site.last_run.write_text(
        json.dumps(
            {
                "time": int(time.time()) - 30,
                "outcome": "error",
                "source": "exchanges",
                "error": "source exchanges: HTTPSConnectionPool(host='fapi.binance.com'): Max retries; run `manage.py "
                "stream_liquidations` and check https://fapi.binance.com/fapi/v1/openInterest",
                "error_class": "no-exchange-reachable",
                "last_success": int(time.time()) - 7200,
            }
        )
    )


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_failing_collector_is_a_short_localized_sentence_on_a_phone(make_page, site, lang, scheme):
    site.seed([])
    failing_collector(site)
    try:
        page = open_panic(
            make_page,
            site,
            f"?lang={lang}",
            "empty",
            viewport={"width": 390, "height": 844},
            is_mobile=True,
            color_scheme=scheme,
        )
        hint = page.inner_text("#liq-empty-hint")
        assert ("自" in hint and "起没有数据" in hint) if lang == "zh-hans" else hint.startswith("No data since")
        page.click("#liq-empty-details summary")
        detail = page.inner_text("#liq-empty-detail")
        assert "no-exchange-reachable" in detail
        for leak in ("http", "binance.com", "manage.py", "HTTPSConnectionPool"):
            assert leak not in hint + detail
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.locator("#liq-empty").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        for chart_empty in ("#panic-empty", "#oi-empty"):  # every chart says it has nothing, not bare axes
            assert page.is_visible(chart_empty)
        screenshot(page, f"review-failing-{lang}-{scheme}-phone")
    finally:
        site.last_run.unlink(missing_ok=True)


# 3. Pins ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_max_and_min_labels_are_readable_in_both_themes(make_page, site, month, scheme):
    page = open_panic(make_page, site, "?range=7d", color_scheme=scheme)
    marks = chart(page)["marks"]
    assert len(marks) == 2
    for mark in marks:
        assert mark["fontSize"] >= 11
        assert contrast(mark["color"], mark["background"]) >= 4.5
        assert mark["position"] == "top"  # above its point: never on the x-axis labels
    screenshot(page, f"review-7d-zh-{scheme}")


# 4. Tooltip -------------------------------------------------------------------------------------------

TOOLTIP = f"""async () => {{
  const echarts = await import({ECHARTS});
  const chart = echarts.getInstanceByDom(document.getElementById("liq-chart"));
  const tip = chart.getOption().tooltip[0];
  const view = [chart.getWidth(), chart.getHeight()];
  const out = [];
  for (const [fx, fy] of [[0.9, 0.2], [0.1, 0.2], [0.5, 0.9], [0.5, 0.05]]) {{
    const point = [view[0] * fx, view[1] * fy];
    const size = [Math.min(240, view[0] - 20), 120];
    const [left, top] = tip.position(point, [], null, null, {{ contentSize: size, viewSize: view }});
    out.push({{ point, left, top, size, view }});
  }}
  return out;
}}"""


@pytest.mark.parametrize("phone", [False, True])
def test_the_tooltip_sits_beside_the_point_inside_the_chart(make_page, site, month, phone):
    viewport = {"width": 390, "height": 844} if phone else {"width": 1440, "height": 900}
    page = open_panic(make_page, site, viewport=viewport)
    for t in page.evaluate(TOOLTIP):
        (x, y), (w, h), (vw, vh) = t["point"], t["size"], t["view"]
        assert t["left"] >= 0 and t["left"] + w <= vw and t["top"] >= 0 and t["top"] + h <= vh
        covers = t["left"] <= x <= t["left"] + w and t["top"] <= y <= t["top"] + h
        assert not covers
    box = page.locator("#liq-chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.3)
    page.wait_for_function("() => document.getElementById('liq-readout').textContent.length > 0")
    screenshot(page, f"review-tooltip-zh-{'phone' if phone else 'desktop'}")


def test_the_tooltip_names_venues_properly_and_keys_long_and_short(make_page, site):
    split = {"binance": {"hour_1": 200.5}, "okx": {"hour_1": 99.5}}
    site.seed(minute_series(120, extra={"by_exchange": split}))
    page = open_panic(make_page, site, "?range=1h")
    text = page.evaluate(
        f"""async () => {{
        const echarts = await import({ECHARTS});
        const chart = echarts.getInstanceByDom(document.getElementById("liq-chart"));
        const tip = chart.getOption().tooltip[0];
        const h1 = chart.getOption().series[0].data;
        const i = h1.length - 5;
        return tip.formatter([{{ seriesId: "h1", dataIndex: i, value: h1[i] }}]);
    }}"""
    )
    lines = text.split('<div class="tip-line">')[1:]
    assert len(lines) <= 6  # compact
    assert '<span class="tip-h">$' in lines[1]  # the 1h amount emphasised
    assert '<span class="tip-lk">■</span>' in text and '<span class="tip-sk">■</span>' in text  # colour keys
    assert "Binance" in text and "OKX" in text and "binance" not in text
    assert "style=" not in text  # classes only: the strict CSP allows no style attribute


# 5. Phone ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_on_a_phone_the_top_bar_is_one_row_and_the_panel_starts_on_the_first_screen(make_page, site, month, lang):
    page = open_panic(
        make_page, site, f"?lang={lang}", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    assert page.locator(".topbar").bounding_box()["height"] <= 56
    assert page.locator("#liq-panel h2").bounding_box()["y"] < 900 - 40
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, f"review-phone-{lang}")


# 6. Panic index ---------------------------------------------------------------------------------------


def test_the_panic_index_is_a_percentage_with_its_30_day_band(make_page, site, month):
    page = open_panic(make_page, site)
    band = site.api("/api/liquidation-1h/panic-band")
    assert page.inner_text("#card-panic").endswith("%")
    assert page.inner_text("#card-panic") == f"{band['value'] * 100:.2f}%"
    assert page.is_visible("#card-panic-band")
    assert f"P{round(band['percentile'])}" in page.inner_text("#card-panic-band")
    assert band["band"] in page.get_attribute("#card-panic-band", "class")
    trend = page.evaluate(
        f"""async () => {{
        const echarts = await import({ECHARTS});
        const o = echarts.getInstanceByDom(document.getElementById("panic-chart")).getOption();
        return {{ label: o.yAxis[0].axisLabel.formatter(0.05), lines: o.series[0].markLine.data.length }};
    }}"""
    )
    assert trend == {"label": "5.00%", "lines": 2}  # percent axis, the p50 and p90 lines


# 7. Bytes ---------------------------------------------------------------------------------------------


def test_an_open_24h_tab_costs_under_10_mb_a_day(make_page, site):
    """Ten minutes with the browser's clock advanced (a record appended each minute): what the tab
    downloads, extrapolated to a day."""
    records = minute_series(1440, end_ago=11)
    site.seed(records)
    page = make_page()
    page.clock.install()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    seen: list[int] = []
    cdp.on("Network.loadingFinished", lambda e: seen.append(int(e["encodedDataLength"])))
    page.goto(site.url + "/panic")
    wait_ready(page)
    page.wait_for_timeout(500)
    first_load = sum(seen)
    newest = records[-1]
    with site.data_file.open("ab") as f:
        for minute in range(1, 11):
            record = {**newest, "timestamp": newest["timestamp"] + 60 * minute, "hour_1_amount": 400.0 + minute}
            f.write(to_line(record))
            f.flush()
            before = len(seen)
            page.clock.fast_forward("01:05")
            deadline = time.monotonic() + 10  # the page's timers are the fake clock's: poll from here
            while page.evaluate("document.getElementById('liq-panel').dataset.newest") != str(record["timestamp"]):
                assert time.monotonic() < deadline, f"minute {minute}: the record never arrived"
                time.sleep(0.05)
            assert len(seen) > before  # it did ask
    per_minute = (sum(seen) - first_load) / 10
    print(f"first load {first_load} B; {per_minute:.0f} B a minute, {per_minute * 1440 / 1e6:.2f} MB a day")
    assert per_minute * 1440 <= 10_000_000, f"{per_minute:.0f} bytes a minute"
    points = int(page.get_attribute("#liq-panel", "data-points"))
    assert points >= 1440 - 12  # the day is still whole after ten incremental refreshes


# 8. Polish --------------------------------------------------------------------------------------------


def test_the_average_label_sits_at_the_oldest_end_and_the_zoom_is_themed(make_page, site, month):
    page = open_panic(make_page, site, color_scheme="dark")
    shown = chart(page)
    assert shown["average"] == "insideStartTop"
    assert shown["zoomFill"] == page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--zoom-fill').trim()"
    )


def test_30_day_ticks_fall_on_beijing_midnights_in_new_york(make_page, site, month):
    page = open_panic(make_page, site, "?range=30d", timezone_id="America/New_York")
    ticks = chart(page)["ticks"]
    assert len(ticks) >= 4
    assert all((ms + 8 * 3600_000) % 86_400_000 == 0 for ms in ticks)


def test_a_24h_axis_shows_the_date_where_it_crosses_midnight(make_page, site, month):
    page = open_panic(make_page, site)
    labels = page.evaluate(
        f"""async () => {{
        const echarts = await import({ECHARTS});
        const o = echarts.getInstanceByDom(document.getElementById("liq-chart")).getOption();
        const axis = o.xAxis[o.xAxis.length - 1];
        return axis.axisLabel.customValues.map((v) => axis.axisLabel.formatter(v));
    }}"""
    )
    dated = [label for label in labels if label.startswith("{date|")]
    assert len(dated) == 1  # one Beijing midnight in any 24 hours
    assert any(":" in label for label in labels)


def test_no_doubled_parentheses_and_english_amounts_share_one_precision(make_page, site, month):
    page = open_panic(make_page, site, "?lang=en")
    text = page.inner_text("main")
    for doubled in ("((", "))", "（（", "））", "）)", "(（"):
        assert doubled not in text
    for card in ("#card-h1", "#card-h24", "#card-oi"):
        value = page.inner_text(card)
        assert value[-1] in "KMBT" and value[-4] == "."  # two decimals in the unit: $7.00M beside $4.07M


# 9. State signals -------------------------------------------------------------------------------------


def test_a_gap_is_shaded_and_its_tooltip_says_how_long(make_page, site):
    site.seed(minute_series(600, gap=range(100, 130)))
    page = open_panic(make_page, site, "?range=12h")
    assert chart(page)["areas"] >= 1
    text = page.evaluate(
        f"""async () => {{
        const echarts = await import({ECHARTS});
        const chart = echarts.getInstanceByDom(document.getElementById("liq-chart"));
        const o = chart.getOption();
        const gaps = o.series.find((s) => s.id === "gaps").data;
        const i = gaps.findLastIndex((p) => p[1] !== null);  // in the 30-minute hole (the first is the range's start)
        return o.tooltip[0].formatter([{{ seriesId: "gaps", dataIndex: i, value: gaps[i] }}]);
    }}"""
    )
    assert "30 分钟 无记录" in text


def test_stale_data_turns_live_into_stale_and_says_why(make_page, site):
    site.seed(minute_series(120, end_ago=30, extra={"lower_bound": True}))
    failing_collector(site)
    try:
        page = open_panic(make_page, site)
        assert page.inner_text("#live-mark") == "[数据延迟]"
        assert page.is_visible("#liq-state")
        assert "无法连接任何交易所" in page.inner_text("#liq-state-text")
        assert page.inner_text("#card-h24").startswith("≥")
        assert page.is_visible("#liq-lower-bound")
        screenshot(page, "review-stale-zh-light")
    finally:
        site.last_run.unlink(missing_ok=True)


# 11. Fresh install ------------------------------------------------------------------------------------


def test_a_fresh_install_draws_its_one_record_as_a_dot_at_now(make_page, site):
    site.seed(minute_series(1))
    page = open_panic(make_page, site)
    shown = chart(page)
    now_ms = time.time() * 1000
    assert abs(shown["xMax"] - now_ms) <= 120_000  # the axis ends at now
    assert shown["xMax"] - shown["xMin"] == 86_400_000  # and spans the chosen range
    assert shown["lone"] == 1
    assert len(shown["marks"]) == 1  # one label when max equals min
    assert chart(page, "panic-chart")["lone"] == 1  # the other charts draw their one point too
    screenshot(page, "review-fresh-install-zh-light")
