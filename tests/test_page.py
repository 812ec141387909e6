"""The /panic page as HTML: language choice, config for the script, no inline code, strict CSP."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client


@pytest.fixture
def client(liq_settings) -> Client:
    return Client()


def config_of(html: str) -> dict:
    match = re.search(r'<script id="panic-config" type="application/json">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


def test_chinese_by_default_even_for_an_english_browser(client):
    html = client.get("/panic", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "1小时爆仓金额曲线图" in html
    assert '<html lang="zh-CN">' in html
    assert config_of(html)["lang"] == "zh-hans"


def test_lang_parameter_switches_and_is_remembered_in_a_cookie(client):
    response = client.get("/panic?lang=en")
    assert "1h liquidation amount chart" in response.content.decode()
    assert response.cookies["django_language"].value == "en"
    again = client.get("/panic").content.decode()
    assert config_of(again)["lang"] == "en"
    assert config_of(again)["strings"]["h1"] == "1h liquidations"
    back = client.get("/panic?lang=zh-hans").content.decode()
    assert config_of(back)["strings"]["h1"] == "1小时爆仓"


def test_unknown_language_falls_back_to_chinese(client):
    html = client.get("/panic?lang=xx").content.decode()
    assert config_of(html)["lang"] == "zh-hans"


def test_config_carries_urls_ranges_and_strings_not_data(client, liq_settings):
    liq_settings.LIQUIDATION_STALE_SECONDS = 240
    config = config_of(client.get("/panic").content.decode())
    assert config["urls"]["history"] == "/api/liquidation-1h/history"
    assert config["urls"]["panicBand"] == "/api/liquidation-1h/panic-band"
    assert config["staleSeconds"] == 240
    assert config["ranges"]["30d"] == {"seconds": 30 * 86400, "interval": "1h", "bars": "4h"}
    seconds = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400}
    for r in config["ranges"].values():
        assert r["seconds"] / seconds[r["interval"]] <= 2000  # history points
        assert 30 <= r["seconds"] / seconds[r["bars"]] <= 180  # bars that stay readable
    assert config["strings"]["empty_title"] == "暂无数据"


def test_panels_without_data_are_flagged_so_the_page_never_asks(client, liq_settings, tmp_path):
    liq_settings.LIQUIDATION_EVENTS_DIR = tmp_path / "events"
    config = config_of(client.get("/panic").content.decode())
    assert config["panels"] == {"depth": False, "fearGreed": False}


def test_every_translated_string_keeps_its_placeholders(client):
    zh = config_of(client.get("/panic").content.decode())
    en = config_of(client.get("/panic?lang=en").content.decode())
    for group in ("strings", "depthStrings", "fearGreedStrings"):
        assert zh[group].keys() == en[group].keys()
        for key, text in en[group].items():
            assert zh[group][key].count("%s") == text.count("%s"), key
            assert sorted(re.findall(r"\{\w+\}", zh[group][key])) == sorted(re.findall(r"\{\w+\}", text)), key


def test_no_inline_script_or_style_and_a_strict_csp(client):
    response = client.get("/panic")
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    for attrs, body in scripts:
        assert "src=" in attrs or 'type="application/json"' in attrs
        if "src=" in attrs:
            assert body.strip() == ""
    assert " style=" not in html
    assert "<style" not in html
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self';" in csp + ";"
    assert "unsafe" not in csp


def test_root_redirects_to_panic(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/panic"


def test_vendored_echarts_is_the_pinned_file():
    import hashlib
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "static" / "vendor" / "echarts" / "6.1.0"
    digest = hashlib.sha256((folder / "echarts.esm.min.js").read_bytes()).hexdigest()
    assert digest in (folder / "README.md").read_text()
    assert (folder / "LICENSE").read_text().startswith("\n") or "Apache License" in (folder / "LICENSE").read_text()
