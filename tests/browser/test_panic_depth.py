"""The /panic page's depth panels in Debian's Chromium, against the real site on 127.0.0.1: the summary
sentence, the by-exchange and top-coins tables and the live tape (static/js/depth.js), over events and
minute buckets written and folded into the site's events dir exactly as the keyless collector does.

Every test also fails on a CSP violation, a console error, a failed request or a request to another host
(see ``make_page`` in conftest). Screenshots land in artifacts/screenshots/ as ``depth-*.png``. The tests
read only the depth panels' own ids, so they do not depend on the page's main script.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest

from liquidation import venues
from liquidation.bucketstore import BucketStore
from liquidation.eventstore import EventStore
from tests.browser.conftest import ARTIFACTS, minute_series, screenshot

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
#: (exchange, symbol, price): three ways of naming BTC, so the coin rows merge venues.
MARKETS = [
    ("binance", "BTCUSDT", 90000.0),
    ("okx", "ETH-USDT-SWAP", 3000.0),
    ("bybit", "SOLUSDT", 150.0),
    ("binance", "1000PEPEUSDT", 0.012),
    ("gate", "BTC_USDT", 90010.0),
    ("bitget", "DOGEUSDT", 0.2),
    ("okx", "BTC-USDT-SWAP", 89990.0),
    ("bybit", "ETHUSDT", 3001.0),
]
SIZES = [2500.0, 15000.0, 45000.0, 180000.0, 650000.0, 1500000.0, 8000.0, 32000.0, 120000.0]
#: What the page's main script does each minute once the data is in.
REFRESH = "document.dispatchEvent(new CustomEvent('liqsite:refresh', {detail: {}}))"
#: Predicates for wait_for_function: functions (a bare expression is eval'd, which the page's CSP forbids).
ALL_COIN = """(coin) => {
  for (const tr of document.querySelectorAll("#depth-tape-body tr")) if (tr.dataset.coin !== coin) return false;
  return true;
}"""
ALL_AT_LEAST = """(usd) => {
  for (const tr of document.querySelectorAll("#depth-tape-body tr")) if (Number(tr.dataset.usd) < usd) return false;
  return true;
}"""
FIRST_TS = "(ts) => document.querySelector('#depth-tape-body tr')?.dataset.ts === String(ts)"
FORMAT = "async ([v, lang]) => (await import('/static/js/format.js')).formatUsd(v, lang)"


def _event(i: int, ts_ms: int, usd: float | None = None) -> dict:
    exchange, symbol, price = MARKETS[i % len(MARKETS)]
    usd = SIZES[(i * 5) % len(SIZES)] + i if usd is None else usd
    return {
        "exchange": exchange,
        "symbol": symbol,
        "ts_ms": ts_ms,
        "side": "long" if i % 3 else "short",
        "qty": round(usd / price, 6),
        "price": price,
        "usd": usd,
    }


def _live(now: float) -> dict[str, int]:
    """Every venue followed without a break for three days (coverage is complete)."""
    return {name: int(now) - 3 * 86400 for name in ("binance", "bybit", "okx", "gate", "bitget")}


def fold(site, rows: list[dict]) -> None:
    """Store ``rows`` in the site's event store and fold them into its minute buckets, as a collection does."""
    events = EventStore(site.events_dir, load_keys=False)
    events.append(rows)
    now = time.time()
    BucketStore(site.events_dir / "buckets").fold(events, _live(now), now)


#: Where windows (1h, 4h, 12h, 24h) and their previous windows start, in ms before now.
EDGES = [h * 3_600_000 for h in (1, 2, 4, 8, 12, 24)]


def _near_an_edge(age_ms: int) -> bool:
    """An event this old could change window while a test compares the page with the API a few seconds
    later (a minute boundary moves every window): the seeded events stay five minutes off every edge."""
    return any(abs(age_ms - edge) < 300_000 for edge in EDGES)


@pytest.fixture
def depth(site):
    """About 150 liquidations over the last 20 hours (newest two minutes ago; none near a window's edge) and 20
    more 26-30 hours ago (the 24 h window's previous one), folded; removed again after the test."""
    shutil.rmtree(site.events_dir, ignore_errors=True)
    site.seed(minute_series(60))
    now_ms = int(time.time() * 1000)
    ages = [120_000 + i * 450_000 + i for i in range(160)]
    recent = [_event(i, now_ms - age) for i, age in enumerate(ages) if not _near_an_edge(age)]
    older = [_event(i, now_ms - 26 * 3_600_000 - i * 720_000 + i) for i in range(20)]
    fold(site, older + recent)
    yield recent
    shutil.rmtree(site.events_dir, ignore_errors=True)


@pytest.fixture
def no_buckets(site):
    shutil.rmtree(site.events_dir, ignore_errors=True)
    site.seed(minute_series(60))


def summary(site, window: str = "24h") -> dict:
    return site.api(f"/api/liquidation-1h/summary?window={window}")


def tape(site, **params) -> list[dict]:
    """The API's newest 100 as the page reads them: a short first page continues once from next_before
    (the API starts from the day of now + a day when asked without ``before``; see depth-tape.js)."""
    first = site.api(f"/api/liquidation-1h/tape?{urlencode({'limit': 100, **params})}")
    rows = first["results"]
    if len(rows) < 100 and first["next_before"]:
        more = {"limit": 100 - len(rows), "before": first["next_before"], **params}
        rows += site.api(f"/api/liquidation-1h/tape?{urlencode(more)}")["results"]
    return rows


def open_panels(make_page, site, query: str = "", **options):
    page = make_page(**options)
    page.goto(f"{site.url}/panic{query}")
    for panel in ("depth-summary", "depth-breakdown", "depth-tape"):
        page.wait_for_selector(f"#{panel}:not([data-state='loading'])", timeout=15000)
    return page


def fixed1(value: float) -> str:
    """``value.toFixed(1)`` as JavaScript writes it: an exact tie rounds away from zero (Python's format
    rounds it to even)."""
    return str(Decimal(value).quantize(Decimal("0.1"), ROUND_HALF_UP))


def settle(page) -> None:
    """Wait until no request is in flight: leaving a page aborts the main script's requests, and the
    watch counts an aborted request as a failure."""
    page.wait_for_load_state("networkidle")


def usd(page, value: float, lang: str = "zh-hans") -> str:
    return page.evaluate(FORMAT, [value, lang])


def texts(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent.trim())")


def query_of(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_the_sentence_shows_the_apis_total_count_largest_and_change(make_page, site, depth):
    page = open_panels(make_page, site)
    assert page.get_attribute("#depth-summary", "data-state") == "ready"
    api = summary(site)
    assert page.inner_text("#depth-sentence .depth-count") == f"≥{api['count']:,}"
    assert page.inner_text("#depth-sentence .depth-total") == "≥" + usd(page, api["total_usd"])
    assert page.inner_text("#depth-sentence .depth-long") == usd(page, api["long_usd"])
    assert page.inner_text("#depth-sentence .depth-short") == usd(page, api["short_usd"])
    largest = api["largest"]
    assert page.inner_text(".depth-largest-venue") == venues.titles()[largest["exchange"]]
    assert page.inner_text(".depth-largest-symbol") == largest["symbol"]
    assert page.inner_text(".depth-largest-usd") == usd(page, largest["usd"])
    change = page.inner_text(".depth-change")
    assert change == ("+" if api["change_pct"] > 0 else "") + f"{fixed1(api['change_pct'])}%"
    assert "up" in page.get_attribute(".depth-change", "class")  # 160 orders against 20: more, in red
    strings = page.evaluate("JSON.parse(document.getElementById('panic-config').textContent).depthStrings")
    assert page.inner_text("#depth-sentence").startswith(strings["lead_24h"])
    assert page.is_visible("#depth-note")
    assert "≥" in page.inner_text("#depth-note")  # the lower bound is explained where it is shown
    assert page.get_attribute(".depth-window[data-window='24h']", "aria-pressed") == "true"


def test_window_tabs_change_the_sentence_and_the_url_and_a_reload_keeps_it(make_page, site, depth):
    page = open_panels(make_page, site)
    day = page.inner_text("#depth-sentence .depth-count")
    page.click("#depth-summary .depth-window[data-window='1h']")
    hour = summary(site, "1h")
    page.wait_for_function(
        "(t) => document.querySelector('#depth-sentence .depth-count')?.textContent === t", arg=f"≥{hour['count']:,}"
    )
    assert f"≥{hour['count']:,}" != day
    assert query_of(page)["window"] == ["1h"]
    for button in page.locator(".depth-window[data-window='1h']").all():  # both panels' tabs
        assert button.get_attribute("aria-pressed") == "true"
    assert texts(page, "#depth-exchanges-body tr th") == [venues.titles()[r["exchange"]] for r in hour["by_exchange"]]
    settle(page)
    page.reload()
    page.wait_for_selector("#depth-summary[data-state='ready']")
    assert page.inner_text("#depth-sentence .depth-count") == f"≥{hour['count']:,}"
    page.click("#depth-breakdown .depth-window[data-window='24h']")  # the lower tabs drive the same window
    page.wait_for_function("(t) => document.querySelector('#depth-sentence .depth-count')?.textContent === t", arg=day)
    assert "window" not in query_of(page)  # the default leaves the address clean


def test_the_by_exchange_table_and_the_top_coins_equal_the_api(make_page, site, depth):
    page = open_panels(make_page, site, "?window=12h")
    api = summary(site, "12h")
    rows = page.eval_on_selector_all(
        "#depth-exchanges-body tr",
        "trs => trs.map(tr => [tr.dataset.exchange, ...[...tr.cells].map(c => c.textContent.trim())])",
    )
    assert [r[0] for r in rows] == [r["exchange"] for r in api["by_exchange"]]
    for shown, row in zip(rows, api["by_exchange"], strict=True):
        assert shown[1] == venues.titles()[row["exchange"]]
        assert shown[2:5] == [usd(page, row[k]) for k in ("total_usd", "long_usd", "short_usd")]
        assert shown[5] == f"{fixed1(row['share'] * 100)}%"
        assert shown[6] == f"{row['count']:,}"
    coins = page.eval_on_selector_all("#depth-coins-body tr", "trs => trs.map(tr => tr.dataset.coin)")
    assert coins == [c["coin"] for c in api["by_coin"]]
    assert coins.count("BTC") == 1  # three venues' BTC contracts in one row
    assert texts(page, "#depth-coins-body tr:first-child .depth-total") == [usd(page, api["by_coin"][0]["total_usd"])]
    options = page.eval_on_selector_all("#depth-tape-coin option", "os => os.map(o => o.value)")
    assert options == ["", *coins]  # the tape's coin filter offers the top coins


def tape_rows(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#depth-tape-body tr",
        "trs => trs.map(tr => ({ts: Number(tr.dataset.ts), usd: Number(tr.dataset.usd), coin: tr.dataset.coin}))",
    )


def test_the_tape_is_newest_first_and_filters_by_size_and_coin(make_page, site, depth):
    page = open_panels(make_page, site)
    rows = tape_rows(page)
    assert [r["ts"] for r in rows] == [e["ts_ms"] for e in tape(site)]
    assert len(rows) == 100  # capped
    assert rows == sorted(rows, key=lambda r: -r["ts"])
    assert any(r["usd"] < 100_000 for r in rows)
    side = page.locator("#depth-tape-body tr:first-child td:nth-child(4) span")
    assert side.get_attribute("class") in ("side-long", "side-short")

    page.click(".depth-min[data-min='100000']")
    page.wait_for_function(ALL_AT_LEAST, arg=100_000)
    page.wait_for_selector("#depth-tape[data-state='ready']")
    big = tape_rows(page)
    assert [r["ts"] for r in big] == [e["ts_ms"] for e in tape(site, min_usd=100000)]
    assert big and all(r["usd"] >= 100_000 for r in big)
    assert query_of(page)["min"] == ["100000"]
    assert page.get_attribute(".depth-min[data-min='100000']", "aria-pressed") == "true"

    page.select_option("#depth-tape-coin", "ETH")
    page.wait_for_function(ALL_COIN, arg="ETH")
    page.wait_for_selector("#depth-tape[data-state='ready']")
    eth = tape_rows(page)
    assert [r["ts"] for r in eth] == [e["ts_ms"] for e in tape(site, min_usd=100000, coin="ETH")]
    assert eth and all(r["usd"] >= 100_000 for r in eth)
    assert query_of(page)["coin"] == ["ETH"]

    settle(page)
    page.reload()  # the filters are in the address
    page.wait_for_selector("#depth-tape[data-state='ready']")
    assert [r["ts"] for r in tape_rows(page)] == [r["ts"] for r in eth]
    assert page.input_value("#depth-tape-coin") == "ETH"
    settle(page)
    page.goto(f"{site.url}/panic?coin=XRP&min=1000000")  # a coin with no liquidation: the panel says so
    page.wait_for_selector("#depth-tape[data-state='empty']")
    assert page.input_value("#depth-tape-coin") == "XRP"
    assert page.get_attribute(".depth-min[data-min='1000000']", "aria-pressed") == "true"
    assert page.inner_text("#depth-tape-state") != ""
    assert not page.is_visible("#depth-tape-table")


def test_a_top_coin_button_filters_the_tape(make_page, site, depth):
    page = open_panels(make_page, site)
    page.click("#depth-coins-body tr[data-coin='SOL'] button")
    page.wait_for_function(ALL_COIN, arg="SOL")
    assert page.input_value("#depth-tape-coin") == "SOL"
    assert query_of(page)["coin"] == ["SOL"]


def test_a_new_liquidation_appears_on_the_minutes_refresh_without_a_reload(make_page, site, depth):
    page = open_panels(make_page, site)
    page.evaluate("window.__sameDocument = true")
    before = tape_rows(page)
    count = summary(site)["count"]
    fresh = _event(5, int(time.time() * 1000), usd=2_345_678.0)  # bitget DOGEUSDT, the window's largest
    fold(site, [fresh])
    page.evaluate(REFRESH)
    page.wait_for_function(FIRST_TS, arg=fresh["ts_ms"])
    rows = tape_rows(page)
    assert rows[0] == {"ts": fresh["ts_ms"], "usd": fresh["usd"], "coin": "DOGE"}
    assert rows[1:] == before[:99]  # prepended; the list stays at 100
    assert page.get_attribute("#depth-tape-body tr:first-child", "class") == "depth-new"
    page.wait_for_function(
        "(t) => document.querySelector('#depth-sentence .depth-count')?.textContent === t", arg=f"≥{count + 1:,}"
    )
    assert page.inner_text(".depth-largest-usd") == usd(page, fresh["usd"])
    assert page.evaluate("window.__sameDocument") is True


def test_tape_times_follow_the_pages_zone(make_page, site, depth):
    page = open_panels(make_page, site, timezone_id="America/New_York")
    first = "#depth-tape-body tr:first-child .depth-time"
    beijing = page.inner_text(first)
    ts = int(page.get_attribute("#depth-tape-body tr:first-child", "data-ts")) / 1000
    assert beijing == time.strftime("%m-%d %H:%M:%S", time.gmtime(ts + 8 * 3600))
    page.evaluate("document.dispatchEvent(new CustomEvent('liqsite:zone', {detail: {zone: 'local'}}))")
    page.wait_for_function(
        "(t) => document.querySelector('#depth-tape-body tr .depth-time').textContent !== t", arg=beijing
    )
    expected = datetime.fromtimestamp(ts, ZoneInfo("America/New_York"))
    assert page.inner_text(first) == expected.strftime("%m-%d %H:%M:%S")
    assert "Local" in page.inner_text("#depth-tape-zone") or "本地" in page.inner_text("#depth-tape-zone")


def test_a_broken_answer_shows_a_short_sentence_in_the_panel(make_page, site, depth):
    page = make_page()
    page.route("**/api/liquidation-1h/summary*", lambda route: route.fulfill(status=200, body="{not json"))
    page.goto(f"{site.url}/panic?lang=en")
    page.wait_for_selector("#depth-summary[data-state='error']")
    assert page.get_attribute("#depth-breakdown", "data-state") == "error"
    message = page.inner_text("#depth-summary-state")
    assert message == "Could not load this panel; trying again in a minute."
    assert not page.is_visible("#depth-sentence")
    page.wait_for_selector("#depth-tape[data-state='ready']")  # the tape has its own request


def test_without_buckets_the_panels_say_so_and_request_nothing(make_page, site, no_buckets):
    page = make_page()
    asked: list[str] = []
    page.on("request", lambda r: "/api/liquidation-1h/" in r.url and asked.append(r.url))
    page.goto(f"{site.url}/panic?lang=en")
    page.wait_for_selector("#depth-summary[data-state='unavailable']", state="attached")
    assert not page.is_visible("#depth-summary")  # nothing above the 1h panel pushes it down for nothing
    for panel in ("depth-breakdown", "depth-tape"):
        page.wait_for_selector(f"#{panel}[data-state='unavailable']")
        assert page.inner_text(f"#{panel}-state").startswith("Not available on this data source")
    page.evaluate(REFRESH)
    page.wait_for_timeout(300)
    assert not [u for u in asked if "/summary" in u or "/tape" in u]
    assert page.locator(".depth-window:visible").count() == 0
    assert not page.is_visible("#depth-tape-coin")
    screenshot(page, "depth-unavailable-en")


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_a_phone_shows_the_panels_without_horizontal_scroll(make_page, site, depth, lang):
    page = open_panels(make_page, site, f"?lang={lang}", **PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for panel in ("depth-summary", "depth-breakdown", "depth-tape"):
        box = page.locator(f"#{panel}").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    # The tables scroll inside their own boxes, if at all; the tape keeps its value column on screen.
    value = page.locator("#depth-tape-body tr:first-child td:last-child").bounding_box()
    assert value["x"] + value["width"] <= 390
    assert page.is_hidden("#depth-tape-body tr:first-child .depth-price")
    for box in [b.bounding_box() for b in page.locator("#depth-summary .depth-tab").all()]:
        assert box["height"] >= 40 and box["x"] + box["width"] <= 390
    short = "zh" if lang == "zh-hans" else "en"
    for section in ("depth-summary", "depth-breakdown", "depth-tape"):
        page.locator(f"#{section}").screenshot(path=str(_artifact(f"depth-mobile-{section[6:]}-{short}")))
    screenshot(page, f"depth-mobile-{short}")


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_in_both_languages_and_themes(make_page, site, depth, lang, scheme):
    page = open_panels(make_page, site, f"?lang={lang}", color_scheme=scheme)
    assert page.get_attribute("html", "data-theme") == scheme
    sentence = page.inner_text("#depth-sentence")
    if lang == "en":
        assert sentence.startswith("In the past 24 hours, ≥")
        assert "liquidation orders were recorded" in sentence
        assert page.inner_text("#depth-tape-body tr:first-child td:nth-child(6)").endswith(("K", "M"))
    else:
        assert page.inner_text("#depth-sentence .depth-total").endswith(("万", "亿"))
    long_colour = page.eval_on_selector("#depth-sentence .depth-long", "e => getComputedStyle(e).color")
    short_colour = page.eval_on_selector("#depth-sentence .depth-short", "e => getComputedStyle(e).color")
    assert long_colour != short_colour
    for section in ("depth-summary", "depth-breakdown", "depth-tape"):
        page.locator(f"#{section}").screenshot(
            path=str(_artifact(f"depth-{section[6:]}-{'zh' if lang == 'zh-hans' else 'en'}-{scheme}"))
        )
    screenshot(page, f"depth-desktop-{'zh' if lang == 'zh-hans' else 'en'}-{scheme}")


def _artifact(name: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
