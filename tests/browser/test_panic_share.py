"""/panic's shareable view, exports and the BTC price line (issue 22, section 2)."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.browser.conftest import minute_series, screenshot, wait_ready
from tests.browser.pagetools import ECHARTS

PRICES = {"prices": {"BTC": 97123.5, "ETH": 3456.7}}


def test_a_shared_link_opens_the_same_view(make_page, site):
    site.seed(minute_series(3 * 1440))
    page = make_page(color_scheme="light")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(site.url + "/panic?lang=en")
    wait_ready(page)
    page.click(".range[data-range='3d']")
    wait_ready(page)
    page.click("#zone-toggle")
    page.click("#theme-toggle")
    page.click("#copy-link")
    page.wait_for_function("() => document.getElementById('share-status').textContent.length > 0")
    link = page.evaluate("navigator.clipboard.readText()")
    query = parse_qs(urlsplit(link).query)
    assert query == {"range": ["3d"], "zone": ["local"], "theme": ["dark"], "lang": ["en"], "price": ["off"]}
    other = make_page(color_scheme="light", locale="zh-CN")  # another browser, nothing remembered
    other.goto(link)
    wait_ready(other)
    assert other.get_attribute(".range[data-range='3d']", "aria-pressed") == "true"
    assert other.get_attribute("html", "data-theme") == "dark"
    assert other.get_attribute("html", "lang") == "en"
    assert other.inner_text("#zone-toggle") == "Local time"
    screenshot(other, "share-opened-en-dark")


def test_the_language_switch_keeps_the_view(make_page, site):
    site.seed(minute_series(120))
    page = make_page()
    page.goto(site.url + "/panic?range=6h")
    wait_ready(page)
    page.click("text=English")
    wait_ready(page)
    assert parse_qs(urlsplit(page.url).query) == {"range": ["6h"], "lang": ["en"]}
    assert page.get_attribute(".range[data-range='6h']", "aria-pressed") == "true"


def test_exports_are_the_shown_range(make_page, site):
    records = minute_series(2 * 1440)
    site.seed(records)
    page = make_page()
    page.goto(site.url + "/panic?range=6h")
    wait_ready(page)
    csv_url = site.url + page.get_attribute("#export-csv", "href")
    json_url = site.url + page.get_attribute("#export-json", "href")
    with urllib.request.urlopen(csv_url) as response:
        rows = list(csv.DictReader(io.StringIO(response.read().decode("utf-8-sig"))))  # a BOM for Excel
    with urllib.request.urlopen(json_url) as response:
        body = json.loads(response.read())
    shown = int(page.get_attribute("#liq-panel", "data-points"))
    assert abs(len(rows) - shown) <= 1 and abs(body["count"] - shown) <= 1
    assert int(rows[-1]["timestamp"]) == records[-1]["timestamp"]
    page.click(".range[data-range='3d']")
    wait_ready(page)
    assert "interval=5m" in page.get_attribute("#export-csv", "href")
    assert "agg=max" in page.get_attribute("#export-json", "href")
    with page.expect_download() as download:
        page.click("#export-png")
    png = download.value
    assert png.suggested_filename.endswith(".png")
    assert Path(png.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_btc_price_line_is_a_toggle_from_the_records_prices(make_page, site):
    site.seed(minute_series(180, extra=PRICES))
    page = make_page()
    page.goto(site.url + "/panic?range=3h")
    wait_ready(page)
    series = f"""async () => {{
        const echarts = await import({ECHARTS});
        const o = echarts.getInstanceByDom(document.getElementById("liq-chart")).getOption();
        const price = o.series.find((s) => s.id === "price");
        return price ? price.data.filter((p) => p[1] !== null).map((p) => p[1]) : null;
    }}"""
    assert page.is_visible("#price-toggle")
    assert page.evaluate(series) is None
    page.click("#price-toggle")
    values = page.evaluate(series)
    assert len(values) >= 179 and set(values) == {97123.5}
    assert "price=btc" in page.url
    screenshot(page, "price-line-zh-light")
    page.reload()
    wait_ready(page)
    assert page.evaluate(series) is not None  # remembered through the URL
    site.seed(minute_series(60))  # a source without prices: no toggle
    page.goto(site.url + "/panic")
    wait_ready(page)
    assert not page.is_visible("#price-toggle")


def test_the_methodology_is_linked_from_the_panel_and_the_footer(make_page, site):
    site.seed(minute_series(30))
    page = make_page()
    page.goto(site.url + "/panic")
    wait_ready(page)
    assert page.get_attribute("#liq-legend a", "href") == "/methodology"
    page.click("footer >> text=统计方法")
    page.wait_for_url("**/methodology")
