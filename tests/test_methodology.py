"""The /methodology page: generated from the venue registry and the code's constants, in both languages,
under the strict CSP; and ``liquidation.methodology``, the plain module that assembles it."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from liquidation import guards, methodology, methodology_formulas, panicband, records
from liquidation import venues as registry
from liquidation.summary import WAN, YI
from liquidation.venues.base import THIRD_PARTY, Fact, OpenInterest, Venue
from tests.conftest import PROJECT

LANGS = ("zh-hans", "en")


@pytest.fixture
def client(liq_settings) -> Client:
    return Client()


def get(client: Client, lang: str) -> str:
    response = client.get(f"/methodology?lang={lang}")
    assert response.status_code == 200
    return response.content.decode()


def rows(html: str, table_id: str) -> list[tuple[str, str]]:
    """(attributes, inner HTML) of each body row of the table ``table_id``."""
    table = re.search(rf'<table class="facts" id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert table, table_id
    return re.findall(r"<tr([^>]*)>(.*?)</tr>", table.group(1), re.S)


def attr(attrs: str, name: str) -> str | None:
    match = re.search(rf'{name}="([^"]*)"', attrs)
    return match.group(1) if match else None


def text_of(fragment: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_it_answers_in_chinese_by_default_and_in_english(client):
    zh = client.get("/methodology", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="zh-CN">' in zh
    assert "<h1>数据口径与方法</h1>" in zh
    assert "<title>数据口径与方法 · liqsite</title>" in zh
    en = get(client, "en")
    assert '<html lang="en">' in en
    assert "<h1>Methodology</h1>" in en
    assert "Throttled feeds: the totals are a lower bound" in en


@pytest.mark.parametrize("lang", LANGS)
def test_every_registered_venue_is_named_with_its_proper_title(client, lang):
    html = get(client, lang)
    table = rows(html, "venue-table")
    named = {attr(a, "data-venue"): text_of(body) for a, body in table if attr(a, "data-venue")}
    assert list(named) == list(registry.names())
    for name, title in registry.titles().items():
        assert title in named[name]
        assert f'<section class="venue" id="venue-{name}" data-venue="{name}">' in html
        assert f"<h3>{title} " in html


@pytest.mark.parametrize("lang", LANGS)
def test_each_venue_shows_its_feed_kind_and_what_it_publishes(client, lang):
    html = get(client, lang)
    table = {attr(a, "data-venue"): attr(a, "data-feed") for a, _ in rows(html, "venue-table")}
    for venue in registry.VENUES:
        expected = "websocket" if venue.streamed else ("rest" if venue.polled else "none")
        assert table[venue.name] == expected
        card = re.search(rf'id="venue-{venue.name}".*?</section>', html, re.S).group(0)
        publishes = venue.publishes.en if lang == "en" else venue.publishes.zh
        assert text_of(card).count(publishes.replace("`", "")) == 1


@pytest.mark.parametrize("lang", LANGS)
def test_throttled_venues_are_marked_and_listed_with_their_throttle(client, lang):
    html = get(client, lang)
    marked = {attr(a, "data-venue") for a, _ in rows(html, "venue-table") if attr(a, "data-throttled") == "true"}
    throttled = {v.name for v in registry.VENUES if v.throttle is not None}
    assert marked == throttled
    assert throttled  # the lower bound is the page's point: some feeds are throttled
    listed = set(re.findall(r'<li data-venue="([^"]+)"><strong>', html))
    assert listed == throttled
    binance = registry.get("binance").throttle
    assert (binance.en if lang == "en" else binance.zh).replace("`", "") in text_of(html)
    assert "lower_bound: true" in html


@pytest.mark.parametrize("lang", LANGS)
def test_guard_thresholds_are_the_code_constants(client, lang):
    html = get(client, lang)
    table = rows(html, "guard-table")
    shown = {attr(a, "data-constant"): (float(attr(a, "data-value")), text_of(body)) for a, body in table}
    names = ("MAX_ORDER_USD", "MAX_SYMBOL_OI_USD", "MAX_OI_CHANGE", "MAX_HOUR_USD")
    constants = {name: getattr(guards, name) for name in names}
    assert {name: value for name, (value, _) in shown.items()} == constants
    for name in ("MAX_ORDER_USD", "MAX_SYMBOL_OI_USD", "MAX_HOUR_USD"):
        assert f"{constants[name]:,.0f}" in shown[name][1]
    assert f"> {guards.MAX_OI_CHANGE:g}×" in shown["MAX_OI_CHANGE"][1]


@pytest.mark.parametrize("lang", LANGS)
def test_record_bounds_are_the_code_bounds(client, lang):
    html = get(client, lang)
    shown = {}
    for a, _ in rows(html, "bound-table"):
        for field in attr(a, "data-fields").split():
            shown[field] = float(attr(a, "data-value"))
    assert shown == records.BOUNDS


@pytest.mark.parametrize("lang", LANGS)
def test_units_formulas_and_bands_come_from_the_code(client, lang):
    html = get(client, lang)
    text = text_of(html)
    assert f"{WAN:,.0f}" in text and f"{YI:,.0f}" in text
    assert "UTC+8" in text
    units = {attr(a, "data-field") for a, _ in rows(html, "unit-table")}
    assert {"timestamp", "datetime", "*_usd", *records.VALUE_FIELDS, *records.OPTIONAL_NUMBER_FIELDS} <= units
    example = methodology_formulas.panic_example()
    assert f"{example['panic_index']}" in text


@pytest.mark.parametrize("lang", LANGS)
def test_the_percentile_bands_are_the_code_rule(client, lang):
    html = get(client, lang)
    text = text_of(html)
    bands = {attr(a, "data-band"): text_of(body) for a, body in rows(html, "band-table")}
    assert list(bands) == ["calm", "elevated", "panic"]
    assert f"p < {panicband.CALM_BELOW:g}" in bands["calm"]
    assert f"{panicband.CALM_BELOW:g} ≤ p < {panicband.PANIC_FROM:g}" in bands["elevated"]
    assert f"p ≥ {panicband.PANIC_FROM:g}" in bands["panic"]
    assert f"{panicband.WINDOW_DAYS}" in text and f"{panicband.MIN_SAMPLES}" in text


@pytest.mark.parametrize("lang", LANGS)
def test_links_to_the_page_the_api_docs_and_every_venue_doc(client, lang):
    html = get(client, lang)
    assert 'href="/panic"' in html
    assert 'href="/api/docs/"' in html
    assert 'href="/api/schema/"' in html
    for venue in registry.VENUES:
        assert venue.doc_urls
        for url in venue.doc_urls.values():
            assert f'href="{url}"' in html


@pytest.mark.parametrize("lang", LANGS)
def test_no_inline_script_or_style_and_a_strict_csp(client, lang):
    response = client.get(f"/methodology?lang={lang}")
    html = response.content.decode()
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
        assert "src=" in attrs
        assert body.strip() == ""
    assert " style=" not in html
    assert "<style" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    assert "/static/css/methodology.css" in html
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self';" in csp + ";"
    assert "unsafe" not in csp


def test_the_api_docs_link_to_the_methodology(client):
    assert "[/methodology](/methodology)" in settings.SPECTACULAR_SETTINGS["DESCRIPTION"]
    schema = client.get("/api/schema/?format=json").content.decode()
    assert "(/methodology)" in schema


def test_the_prose_names_no_venue_so_only_the_registry_can():
    """The templates carry no venue name and no threshold: both come from the code, so they cannot drift."""
    folder = PROJECT / "templates" / "liquidation"
    files = [folder / "methodology.html", *folder.glob("methodology_*.html"), *folder.glob("methodology_parts/*.html")]
    names = re.compile("|".join(re.escape(t) for t in registry.titles().values()), re.I)
    numbers = re.compile(r"2,000,000,000|200,000,000,000|20,000,000,000|\b1e9\b|10,000 USD")
    for path in files:
        text = Path(path).read_text(encoding="utf-8")
        assert not names.search(text), path
        assert not numbers.search(text), path


# -- the module the page is built from ---------------------------------------------------------------------


def test_the_panic_example_is_the_code_ratio_of_24h_liquidations_to_open_interest():
    example = methodology_formulas.panic_example()
    hour_24, oi = methodology_formulas.EXAMPLE_SUMS["hour_24"], methodology_formulas.EXAMPLE_OI_USD
    assert example["panic_index"] == round(hour_24 / oi, 6)
    assert example["hour_1_amount"] == methodology_formulas.EXAMPLE_SUMS["hour_1"] / WAN
    assert example["hour_24_amount"] == hour_24 / WAN
    assert example["total_position"] == oi / YI


def test_the_bands_are_what_panicband_computes():
    rows_ = {r["band"]: r for r in methodology_formulas.band_rows("en")}
    assert panicband.band_name(panicband.CALM_BELOW - 0.1) == "calm"
    assert panicband.band_name(panicband.CALM_BELOW) == "elevated"
    assert panicband.band_name(panicband.PANIC_FROM - 0.1) == "elevated"
    assert panicband.band_name(panicband.PANIC_FROM) == "panic"
    assert list(rows_) == ["calm", "elevated", "panic"]


def test_every_numeric_record_field_has_a_unit():
    assert {*records.VALUE_FIELDS, *records.OPTIONAL_NUMBER_FIELDS, *records.BOUNDS} <= set(methodology.RECORD_UNITS)


def test_backticks_become_code_parts():
    assert methodology.parts("sum `z × ap` USD") == [
        {"code": False, "text": "sum "},
        {"code": True, "text": "z × ap"},
        {"code": False, "text": " USD"},
    ]


def test_evidence_is_verified_only_from_docs_or_captured_payloads():
    assert Fact("a", "甲").verified
    assert not Fact("a", "甲", THIRD_PARTY).verified
    with pytest.raises(ValueError, match="evidence"):
        Fact("a", "甲", "rumour")
    with pytest.raises(ValueError, match="Chinese"):
        Fact("a", " ")


class Toy(Venue):
    name = "toy"
    title = "ToyEx"
    endpoints = {"ws": "ws://127.0.0.1:9"}
    streamed = True
    has_open_interest = True
    publishes = Fact("A toy stream of every liquidation.", "玩具交易所的全部强平。")
    throttle = Fact("One per toy per second.", "每个玩具每秒一笔。", THIRD_PARTY)
    side_rule = Fact("`side` as given.", "`side` 原样使用。")
    usd_rule = Fact("`qty × px`.", "`qty × px`。")
    oi_rule = Fact("A constant.", "常数。")
    doc_urls = {"liquidations": "https://toy.example/docs"}

    def open_interest_by_symbol(self, session, policy, deadline) -> dict[str, OpenInterest]:
        return {}


def test_a_venue_added_to_the_registry_appears_on_the_page_with_no_other_change(client, monkeypatch):
    monkeypatch.setattr(registry, "VENUES", (*registry.VENUES, Toy))
    html = get(client, "en")
    toy = [a for a, _ in rows(html, "venue-table") if attr(a, "data-venue") == "toy"]
    assert toy and attr(toy[0], "data-throttled") == "true"
    assert "One per toy per second." in html
    assert 'href="https://toy.example/docs"' in html
    assert "ToyEx" in text_of(re.search(r'<ul class="throttled-list">.*?</ul>', html, re.S).group(0))
