"""``manage.py check_sources`` against local fake venues (a real HTTP server and a real websocket server on
127.0.0.1): both output forms, the cross-check, the unit line, recording, and the exit status."""

from __future__ import annotations

import asyncio
import json
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.streamtools import BINANCE_PATH, binance_frame
from tests.upstream_server import Reply
from tests.ws_server import WsServer

NAMES = "binance,gate,bitget,hyperliquid"


@pytest.fixture
def fakes(liq_settings, upstream, fixture_path):
    f = fixture_path
    now = int(time.time())
    bucket = (now - 60) // 300 * 300
    row = {"contract": "BTC_USDT", "left": "0", "size": "10", "order_size": "-10", "fill_price": "60000"}
    upstream.route_fn(
        "/api/v4/futures/usdt/liq_orders", lambda q, b: Reply(200, json.dumps([{**row, "time": now - 60}]).encode())
    )
    stats = [
        {"time": bucket - 300, "long_liq_usd": 0, "short_liq_usd": 0},
        {"time": bucket, "long_liq_usd": 60, "short_liq_usd": 0},  # 10 × 0.0001 × 60,000 USD
        # still filling: its liquidations are not compared; its open interest is (tickers: 32,323,904 × 0.0001 × 6,534)
        {"time": bucket + 300, "long_liq_usd": 999, "short_liq_usd": 0, "open_interest_usd": 32323904 * 0.0001 * 6534},
    ]
    upstream.route("/api/v4/futures/usdt/contract_stats", Reply(200, json.dumps(stats).encode()))
    upstream.route("/api/v4/futures/usdt/contracts", Reply.file(f("upstream/gate/contracts.json")))
    upstream.route("/api/v4/futures/usdt/tickers", Reply.file(f("upstream/gate/tickers.json")))
    bitget_row = {"symbol": "BTCUSDT", "side": "buy", "price": "80000", "amount": "0.5", "ts": str((now - 30) * 1000)}
    bitget = {"code": "00000", "msg": "success", "data": {"list": [bitget_row], "cursor": ""}}
    upstream.route("/api/v3/market/liquidations", Reply(200, json.dumps(bitget).encode()))
    upstream.route("/info", Reply.file(f("upstream/hyperliquid/metaAndAssetCtxs.json")))
    upstream.route("/fapi/v1/exchangeInfo", Reply.file(f("upstream/binance/exchangeInfo.json")))
    upstream.route("/dapi/v1/exchangeInfo", Reply(200, b'{"symbols": []}'))
    upstream.route("/fapi/v1/premiumIndex", Reply.file(f("upstream/binance/premiumIndex.json")))
    upstream.route("/fapi/v1/openInterest", Reply.file(f("upstream/binance/openInterest.json")))
    ws = WsServer().start()

    async def play(conn, n):
        await conn.send(binance_frame("BTCUSDT", "SELL", "0.5", "100000", int(time.time() * 1000) - 500))
        await asyncio.sleep(30)

    ws.route(BINANCE_PATH, play)
    base = upstream.url("")
    liq_settings.EXCHANGE_URLS = {
        **{f"EXCHANGE_{n.upper()}_REST_URL": base for n in NAMES.split(",")},
        "EXCHANGE_BINANCE_COINM_URL": base,
        "EXCHANGE_BINANCE_WS_URL": ws.url(),
    }
    yield liq_settings
    ws.stop()


def run(*args: str) -> str:
    out = StringIO()
    call_command("check_sources", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_json_form_reports_every_venue_and_nothing_else_on_stdout(fakes, tmp_path):
    body = json.loads(run("--exchanges", NAMES, "--seconds", "2", "--json", "--record", str(tmp_path / "rec")))
    by = {v["name"]: v for v in body["venues"]}
    assert body["ok"] is True
    binance = by["binance"]
    assert binance["reachable"] and binance["ws_connect_s"] is not None and binance["first_frame_s"] is not None
    assert binance["events"] == 1 and binance["largest"]["usd"] == pytest.approx(50000)
    assert binance["top"][0]["symbol"] == "BTCUSDT" and binance["top"][0]["price"] > 0
    assert by["gate"]["events"] == 1 and by["gate"]["largest"]["usd"] == pytest.approx(60)
    notes = by["gate"]["notes"]
    assert any("liq_orders" in note and "ratio 1.00" in note for note in notes)  # vs contract_stats
    assert any("open interest tickers" in note and "ratio 1.00" in note for note in notes)  # two endpoints
    assert by["bitget"]["notes"] == ["BTCUSDT amount 0.5 × price 80000 = 40,000.00 USD"]
    assert by["hyperliquid"]["oi_usd"] > 0
    shares = body["open_interest_shares"]
    assert shares[0]["share"] >= shares[-1]["share"] and sum(s["share"] for s in shares) == pytest.approx(1, abs=1e-3)
    recorded = {p.relative_to(tmp_path / "rec").as_posix() for p in (tmp_path / "rec").rglob("*") if p.is_file()}
    assert "binance/binance.frames.jsonl" in recorded
    assert any(name.startswith("gate/api-v4-futures-usdt-liq-orders") for name in recorded)


def test_table_form_is_plain_when_piped(fakes):
    text = run("--exchanges", NAMES, "--seconds", "1")
    assert "Binance      OK" in text and "Gate         OK" in text
    assert "open interest shares:" in text
    assert "\033[" not in text  # no colour codes when not a terminal


def test_an_unreachable_venue_fails_the_check_and_says_why(liq_settings):
    with pytest.raises(CommandError, match="unreachable or suspect: Hyperliquid") as e:
        call_command("check_sources", "--exchanges", "hyperliquid", "--seconds", "1", stdout=StringIO())
    assert e.value.returncode == 1
