"""The keyless exchanges source against a real local HTTP server playing every venue's REST API, with
the listener's event store and status file prepared as the listener leaves them. Sums are by hand."""

from __future__ import annotations

import json

import pytest
import time_machine

from liquidation.eventstore import EventStore
from liquidation.exchanges import ExchangesSource, aggregate
from liquidation.sources import SourceError
from tests.exchangetools import EXPECTED_OI, NOW, NOW_MS, collect, stream_state
from tests.upstream_server import Reply


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_the_record_sums_every_venue_and_side(tmp_path, venues):
    stream_state(tmp_path, {"binance": NOW - 30 * 3600, "bybit": None, "okx": NOW - 1800})
    reading = collect(ExchangesSource(tmp_path, urls=venues, pace=0))
    v = reading.values
    # BTC's mark: the median of Binance's BTCUSDT (11,793.63…) and Gate's BTC_USDT (6,534) marks
    assert reading.extra["prices"]["BTC"] == round((11793.63104562 + 6534) / 2, 2)
    hour_1 = 205.44 + 24783.15 + 10000 + 2000
    hour_24 = hour_1 + 8000 + 5900.24 + 5000
    assert v["hour_1_amount"] == round(hour_1 / 1e4, 2)
    assert v["hour_1_long"] == round(hour_1 / 1e4, 2)
    assert v["hour_1_short"] == 0
    assert v["hour_24_amount"] == round(hour_24 / 1e4, 2)
    assert v["hour_24_short"] == round((8000 + 5900.24 + 5000) / 1e4, 2)
    total_oi = sum(EXPECTED_OI.values())
    assert v["total_position"] == round(total_oi / 1e8, 4)
    assert v["panic_index"] == round(hour_24 / total_oi, 6)
    by = reading.extra["by_exchange"]
    assert by["gate"]["hour_1"] == 0.02  # 205.44 USD
    assert by["gate"]["hour_24_short"] == 0.8  # 8,000 USD
    assert by["bitget"]["hour_1_long"] == round(24783.15 / 1e4, 2)
    assert by["binance"]["hour_24"] == 1.5
    for venue, usd in EXPECTED_OI.items():
        assert by[venue]["open_interest"] == round(usd / 1e8, 4)
    assert reading.extra["lower_bound"] is True
    assert reading.source == "exchanges"


def test_coverage_on_a_fresh_start(tmp_path, venues):
    stream_state(tmp_path, {"binance": NOW - 30 * 3600, "bybit": None, "okx": NOW - 1800})
    coverage = collect(ExchangesSource(tmp_path, urls=venues, pace=0)).extra["coverage"]
    assert coverage["venues"] == ["binance", "okx", "gate", "bitget"]
    assert coverage["missing"] == ["bybit"]
    assert coverage["since"] == {
        "binance": NOW - 30 * 3600,
        "okx": NOW - 1800,
        "gate": NOW - 86400,
        "bitget": NOW - 86400,
    }
    assert coverage["hour_1_complete"] is False
    assert coverage["hour_24_complete"] is False
    assert coverage["oi_missing"] == []


def test_coverage_with_streams_running_for_a_day(tmp_path, venues):
    stream_state(tmp_path, {"binance": NOW - 25 * 3600, "bybit": NOW - 25 * 3600, "okx": NOW - 25 * 3600})
    (tmp_path / "pollers.json").write_text(
        json.dumps(
            {v: {"since_ms": (NOW - 26 * 3600) * 1000, "last_ms": (NOW - 60) * 1000} for v in ("gate", "bitget")}
        )
    )
    coverage = collect(ExchangesSource(tmp_path, urls=venues, pace=0)).extra["coverage"]
    assert coverage["missing"] == []
    assert coverage["hour_1_complete"] is True
    assert coverage["hour_24_complete"] is True


def test_gate_is_polled_in_windows_of_at_most_an_hour_then_incrementally(tmp_path, venues, upstream):
    stream_state(tmp_path, {"binance": NOW - 3600, "bybit": None, "okx": None})
    source = ExchangesSource(tmp_path, venues=["gate", "binance"], urls=venues)
    collect(source)
    windows = [
        (int(r.query["from"][0]), int(r.query["to"][0])) for r in upstream.requests if r.path.endswith("liq_orders")
    ]
    assert len(windows) == 24
    assert all(0 < b - a <= 3600 for a, b in windows)
    assert windows[0][0] == NOW - 86400
    assert windows[-1][1] == NOW
    upstream.requests.clear()
    with time_machine.travel(NOW + 60, tick=False):
        source.clock = lambda: NOW + 60
        collect(source)
    again = [
        (int(r.query["from"][0]), int(r.query["to"][0])) for r in upstream.requests if r.path.endswith("liq_orders")
    ]
    assert again == [(NOW - 600, NOW + 60)]  # from the last poll, with ten minutes of overlap
    events = list(EventStore(tmp_path).read((NOW - 86400) * 1000, (NOW + 60) * 1000))
    assert len([e for e in events if e["exchange"] == "gate"]) == 2  # the overlap stored nothing twice


def test_a_failing_venue_is_named_and_left_out_of_the_total(tmp_path, venues, upstream, fixture_path):
    stream_state(tmp_path, {"binance": NOW - 3600, "bybit": NOW - 3600, "okx": NOW - 3600})
    upstream.route("/api/v4/futures/usdt/tickers", Reply(200, b'{"label": "SERVER_ERROR", "message": "internal"}'))
    upstream.route_fn(
        "/api/v5/public/open-interest", lambda q, b: Reply.file(fixture_path("upstream/okx/error-envelope.json"))
    )
    upstream.route_fn(
        "/api/v4/futures/usdt/liq_orders", lambda q, b: Reply.file(fixture_path("upstream/gate/error-range.json"))
    )
    reading = collect(ExchangesSource(tmp_path, urls=venues, pace=0))
    coverage = reading.extra["coverage"]
    assert coverage["oi_missing"] == ["gate", "okx"]
    assert "gate" in coverage["missing"]
    assert "range from/to must in 1 hour" in coverage["errors"]["gate"]
    assert "50011" in coverage["errors"]["okx open interest"]
    expected = sum(usd for venue, usd in EXPECTED_OI.items() if venue not in ("gate", "okx"))
    assert reading.values["total_position"] == round(expected / 1e8, 4)
    assert "open_interest" not in reading.extra["by_exchange"].get("gate", {})


def test_no_venue_reachable_is_an_error_not_a_record_of_zeros(tmp_path, venues, upstream):
    stream_state(tmp_path, {"binance": NOW - 3600}, updated=NOW - 600)  # the listener stopped ten minutes ago
    upstream.route_fn("/api/v4/futures/usdt/contracts", lambda q, b: Reply(503, b"down"))
    upstream.route_fn("/api/v3/market/liquidations", lambda q, b: Reply(200, b'{"code": "40001", "msg": "bad"}'))
    with pytest.raises(SourceError, match="no exchange reachable") as e:
        collect(ExchangesSource(tmp_path, urls=venues, pace=0))
    assert "binance: listener not running" in str(e.value)


def test_binance_open_interest_fetches_every_symbol_first_then_rotates(tmp_path, venues, upstream):
    stream_state(tmp_path, {"binance": NOW - 3600})
    source = ExchangesSource(tmp_path, venues=["binance"], urls=venues)
    collect(source)
    assert upstream.hits("/fapi/v1/openInterest") == 1
    cache = json.loads((tmp_path / "binance_oi_cache.json").read_text())
    assert cache["BTCUSDT"]["oi"] == 10659.509


def test_the_event_store_keeps_each_event_once_and_aggregate_counts_only_its_window(tmp_path):
    twice = {"exchange": "x", "symbol": "A", "ts_ms": NOW_MS - 10, "side": "long", "qty": 1, "price": 1, "usd": 5.0}
    EventStore(tmp_path).append([twice, dict(twice)])
    EventStore(tmp_path).append([dict(twice)])  # a later process remembers it too
    assert len(list(EventStore(tmp_path).read(NOW_MS - 60_000, NOW_MS))) == 1
    events = [
        twice,
        {
            "exchange": "x",
            "symbol": "B",
            "ts_ms": NOW_MS - 2 * 3600_000,
            "side": "short",
            "qty": 1,
            "price": 1,
            "usd": 7.0,
        },
        {
            "exchange": "x",
            "symbol": "C",
            "ts_ms": NOW_MS - 86400_000,
            "side": "short",
            "qty": 1,
            "price": 1,
            "usd": 100.0,
        },
        {"exchange": "x", "symbol": "D", "ts_ms": NOW_MS + 1, "side": "short", "qty": 1, "price": 1, "usd": 100.0},
    ]
    assert aggregate(events, NOW_MS)["x"] == {
        "hour_1": 5.0,
        "hour_24": 12.0,
        "hour_1_long": 5.0,
        "hour_1_short": 0.0,
        "hour_24_long": 5.0,
        "hour_24_short": 7.0,
    }


def test_end_to_end_listener_then_collector_then_api(tmp_path, venues, liq_settings, store, monkeypatch):
    """The listener fills the event store from a local Binance websocket; the collector turns it into
    the minute's record with the REST venues; the API serves it."""
    import asyncio

    from django.core.management import call_command
    from rest_framework.test import APIClient

    from liquidation.streams import Listener
    from liquidation.venues.binance import Binance
    from tests.streamtools import BINANCE_PATH, binance_frame
    from tests.ws_server import WsServer, listen_in_thread

    events_dir = tmp_path / "events"
    ws = WsServer().start()

    async def play(conn, n):
        await conn.send(binance_frame("BTCUSDT", "SELL", "0.5", "100000", NOW_MS - 30_000))
        await conn.send(binance_frame("ETHUSDT", "BUY", "4", "2500", NOW_MS - 20_000))
        await asyncio.sleep(30)

    ws.route(BINANCE_PATH, play)
    listener = Listener(
        EventStore(events_dir),
        [Binance({"ws": ws.url()}, load_contracts=False)],
        events_dir / "status.json",
        status_interval=0.2,
    )
    halt = listen_in_thread(listener)
    try:
        import time as _time

        end = _time.monotonic() + 10
        while _time.monotonic() < end:
            status = (
                json.loads((events_dir / "status.json").read_text()) if (events_dir / "status.json").exists() else {}
            )
            if (status.get("venues") or {}).get("binance", {}).get("events_stored") == 2:
                break
            _time.sleep(0.1)
        liq_settings.LIQUIDATION_EVENTS_DIR = events_dir
        liq_settings.LIQUIDATION_EXCHANGES = ["binance", "gate", "okx"]
        for name in ("BINANCE", "BYBIT", "OKX", "GATE", "BITGET", "HYPERLIQUID"):
            liq_settings.EXCHANGE_URLS = {**liq_settings.EXCHANGE_URLS, f"EXCHANGE_{name}_REST_URL": venues["rest"]}
        # The frozen clock would make the listener's status look fresh forever; it is fresh here anyway.
        status = json.loads((events_dir / "status.json").read_text())
        status["updated"] = NOW
        (events_dir / "status.json").write_text(json.dumps(status))
        call_command("collect_liquidation", verbosity=0)
    finally:
        halt()
        ws.stop()
    latest = APIClient(HTTP_ACCEPT="application/json").get("/api/liquidation-1h/latest").json()
    assert latest["source"] == "exchanges"
    assert latest["by_exchange"]["binance"]["hour_1"] == 6.0  # 50,000 + 10,000 USD
    assert latest["by_exchange"]["binance"]["hour_1_long"] == 5.0
    assert latest["by_exchange"]["gate"]["hour_1"] == 0.02
    assert latest["hour_1_amount"] == round((60000 + 205.44) / 1e4, 2)
    assert latest["lower_bound"] is True
    assert latest["coverage"]["venues"] == ["binance", "gate"]
    assert latest["coverage"]["missing"] == ["okx"]  # its listener connection was not configured here
    assert latest["total_position"] == round(
        (EXPECTED_OI["binance"] + EXPECTED_OI["okx"] + EXPECTED_OI["gate"]) / 1e8, 4
    )


def test_a_gate_window_that_hits_the_1000_row_limit_is_split_until_nothing_is_cut(
    tmp_path, venues, upstream, fixture_path
):
    template = json.loads(fixture_path("upstream/gate/liq_orders.json").read_text())[0]
    orders = [  # a cascade: 1,500 liquidations in 750 seconds
        {**template, "time": NOW - 1800 + i // 2, "size": str(100 + i), "order_size": str(-(100 + i))}
        for i in range(1500)
    ]

    def liq_orders(query, body):
        a, b = int(query["from"][0]), int(query["to"][0])
        return Reply(200, json.dumps([o for o in orders if a <= o["time"] <= b][:1000]).encode())  # Gate's limit

    upstream.route_fn("/api/v4/futures/usdt/liq_orders", liq_orders)
    stream_state(tmp_path, {"binance": NOW - 3600})
    collect(ExchangesSource(tmp_path, venues=["gate", "binance"], urls=venues))
    gate = [e for e in EventStore(tmp_path).read((NOW - 3600) * 1000, NOW_MS) if e["exchange"] == "gate"]
    assert len(gate) == 1500


def test_a_binance_symbol_that_keeps_failing_does_not_freeze_the_rotation(tmp_path, venues, upstream):
    marks = [{"symbol": f"S{i}USDT", "markPrice": "10"} for i in range(100)]
    upstream.route("/fapi/v1/premiumIndex", Reply(200, json.dumps(marks).encode()))
    info = {"symbols": [{"symbol": m["symbol"], "marginAsset": "USDT", "contractType": "PERPETUAL"} for m in marks]}
    upstream.route("/fapi/v1/exchangeInfo", Reply(200, json.dumps(info).encode()))

    def open_interest(query, body):
        symbol = query["symbol"][0]
        if symbol == "S0USDT":
            return Reply(400, b'{"code": -1121, "msg": "Invalid symbol."}')
        return Reply(200, json.dumps({"symbol": symbol, "openInterest": "2", "time": NOW_MS}).encode())

    upstream.route_fn("/fapi/v1/openInterest", open_interest)
    stream_state(tmp_path, {"binance": NOW - 3600})
    source = ExchangesSource(tmp_path, venues=["binance"], urls=venues)
    collect(source)
    upstream.requests.clear()
    collect(source)
    asked = {r.query["symbol"][0] for r in upstream.requests if r.path == "/fapi/v1/openInterest"}
    assert len(asked) == 40  # the rotation goes on: 40 stalest, not just the failing one
