"""The listener against real local websocket servers playing Binance, Bybit and OKX (plus their REST
instrument lists on a local HTTP server): the store ends up with exactly the expected events, each once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import threading
import time

import pytest

from liquidation.eventstore import EventStore
from liquidation.http import HttpPolicy
from liquidation.streams import Listener
from liquidation.venues.base import chunk_by_chars as _chunk_by_chars
from liquidation.venues.binance import Binance
from liquidation.venues.bybit import Bybit
from liquidation.venues.okx import Okx
from tests.conftest import MANAGE, PROJECT, subprocess_env
from tests.streamtools import BINANCE_PATH, binance_frame, now_ms
from tests.upstream_server import Reply, wait_for
from tests.ws_server import replies


def BinanceVenue(ws_url: str) -> Binance:
    return Binance({"ws": ws_url}, load_contracts=False)


def BybitVenue(ws_url: str, rest_url: str, policy) -> Bybit:
    return Bybit({"ws": ws_url, "rest": rest_url}, policy)


def OkxVenue(ws_url: str, rest_url: str, policy, *, ping_every: float | None = None) -> Okx:
    venue = Okx({"ws": ws_url, "rest": rest_url}, policy)
    if ping_every is not None:
        venue.ping_every = ping_every
    return venue


POLICY = HttpPolicy(connect_timeout=1, read_timeout=2, retries=0, backoff=0.01, deadline=5)


def run_listener(listener: Listener, seconds: float) -> None:
    """Run the listener for ``seconds`` in a thread of its own (a fresh event loop, whatever else,
    such as Playwright's sync API, runs one in this thread)."""

    async def main():
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await listener.run(stop)

    errors: list[BaseException] = []

    def target():
        try:
            asyncio.run(main())
        except BaseException as e:  # reported in the test's thread
            errors.append(e)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(seconds + 30)
    assert not thread.is_alive(), "the listener did not stop"
    if errors:
        raise errors[0]


def test_binance_disconnect_mid_stream_reconnects_without_duplicates(tmp_path, ws):
    t = now_ms() - 2000
    first = [
        binance_frame("BTCUSDT", "SELL", "0.190", "82651.9", t),
        binance_frame("ETHUSDT", "BUY", "2", "2400", t + 1),
    ]
    second = [
        first[1],  # seen again after the reconnect: stored once
        binance_frame("SOLUSDT", "SELL", "10", "140", t + 2, status="PARTIALLY_FILLED"),
        "{malformed",
        binance_frame("SOLUSDT", "SELL", "48", "142", t + 3),
    ]

    async def handler(conn, n):
        for frame in first if n == 0 else second:
            await conn.send(frame)
        if n == 0:
            await conn.close()  # drop the connection mid-stream
        else:
            await asyncio.sleep(30)

    ws.route(BINANCE_PATH, handler)
    store = EventStore(tmp_path / "events")
    listener = Listener(store, [BinanceVenue(ws.url())], tmp_path / "events" / "status.json", backoff_base=0.05)
    run_listener(listener, 2.0)
    events = list(store.read(t - 1000, t + 1000))
    assert [(e["symbol"], e["side"]) for e in events] == [
        ("BTCUSDT", "long"),
        ("ETHUSDT", "short"),
        ("SOLUSDT", "long"),
    ]
    assert events[0]["usd"] == pytest.approx(0.19 * 82651.9)
    status = json.loads((tmp_path / "events" / "status.json").read_text())["venues"]["binance"]
    assert status["events_stored"] == 3
    assert status["duplicates"] == 1
    assert status["reconnects"] >= 1
    assert status["skipped"] == {"not_filled": 1, "bad_json": 1}
    assert status["last_event_ms"] == t + 3
    assert ws.connections[BINANCE_PATH] == 2


def test_a_silent_connection_is_recycled(tmp_path, ws):
    t = now_ms()

    async def handler(conn, n):
        if n == 1:
            await conn.send(binance_frame("BTCUSDT", "SELL", "1", "50000", t))
        await asyncio.sleep(30)  # accepts, then says nothing (the old-path trap)

    ws.route(BINANCE_PATH, handler)
    store = EventStore(tmp_path)
    listener = Listener(store, [BinanceVenue(ws.url())], tmp_path / "status.json", silence=0.5, backoff_base=0.05)
    run_listener(listener, 2.0)
    assert ws.connections[BINANCE_PATH] >= 2
    assert len(list(store.read(t - 1, t + 1))) == 1
    assert "no data" in listener.status["binance"].last_error


def test_bybit_pages_instruments_batches_subscriptions_and_answers_pings(tmp_path, ws, upstream, fixture_path):
    bybit = "upstream/bybit/"
    upstream.route(
        "/v5/market/instruments-info",
        Reply.file(fixture_path(bybit + "instruments-info-linear-page1.json")),
        Reply.file(fixture_path(bybit + "instruments-info-linear-page2.json")),
        Reply.file(fixture_path(bybit + "instruments-info-inverse.json")),
    )
    t = now_ms() - 1000
    linear_frames = [
        json.dumps(
            {
                "topic": "allLiquidation.BTCUSDT",
                "type": "snapshot",
                "ts": t,
                "data": [
                    {"T": t, "s": "BTCUSDT", "S": "Buy", "v": "0.006", "p": "82396.90"},
                    {"T": t + 1, "s": "BTCUSDT", "S": "Buy", "v": "0.038", "p": "82394.30"},
                ],
            }
        ),
        json.dumps(
            {
                "topic": "allLiquidation.ETHUSDT",
                "type": "snapshot",
                "ts": t,
                "data": [{"T": t + 2, "s": "ETHUSDT", "S": "Sell", "v": "abc", "p": "2429.80"}],
            }
        ),
    ]
    inverse_frames = [
        json.dumps(
            {
                "topic": "allLiquidation.BTCUSD",
                "type": "snapshot",
                "ts": t,
                "data": [{"T": t + 3, "s": "BTCUSD", "S": "Sell", "v": "2500", "p": "82000"}],
            }
        ),
    ]

    def make(path, frames):
        async def handler(conn, n):
            def answer(message):
                op = json.loads(message).get("op")
                return json.dumps(
                    {"success": True, "ret_msg": "pong" if op == "ping" else "", "op": op, "conn_id": "x"}
                )

            first = await conn.recv()
            ws.record(path, first)
            await conn.send(answer(first))
            for frame in frames:
                await conn.send(frame)
            await replies(conn, ws, path, answer)

        return handler

    ws.route("/v5/public/linear", make("/v5/public/linear", linear_frames))
    ws.route("/v5/public/inverse", make("/v5/public/inverse", inverse_frames))
    venue = BybitVenue(ws.url(), upstream.url(""), POLICY)
    store = EventStore(tmp_path)
    listener = Listener(store, [venue], tmp_path / "status.json")
    run_listener(listener, 1.5)
    events = sorted(store.read(t - 1, t + 10), key=lambda e: e["ts_ms"])
    assert [(e["symbol"], e["side"], e["usd"]) for e in events] == [
        ("BTCUSDT", "long", pytest.approx(0.006 * 82396.9)),
        ("BTCUSDT", "long", pytest.approx(0.038 * 82394.3)),
        ("BTCUSD", "short", 2500),
    ]
    subscribe = json.loads(ws.received["/v5/public/linear"][0])
    assert subscribe == {
        "op": "subscribe",
        "args": ["allLiquidation.BTCUSDT", "allLiquidation.ETHUSDT", "allLiquidation.ROSEUSDT"],
    }
    assert json.loads(ws.received["/v5/public/inverse"][0])["args"] == ["allLiquidation.BTCUSD"]
    cursors = [r.query.get("cursor") for r in upstream.requests]
    assert cursors == [None, ["first%3DBTCUSDT%26last%3DROSEUSDT"], None]
    assert listener.status["bybit"].skipped == {"bad_number": 1}


def test_bybit_topics_are_split_to_stay_under_the_connection_limit():
    topics = [f"allLiquidation.SYMBOL{i:05d}USDT" for i in range(2000)]
    chunks = _chunk_by_chars(topics, 20000)
    assert sum(len(c) for c in chunks) == 2000
    assert all(sum(len(t) + 3 for t in c) <= 20000 for c in chunks)
    assert len(chunks) > 1


def test_okx_converts_with_contract_values_and_pings(tmp_path, ws, upstream, fixture_path):
    upstream.route(
        "/api/v5/public/instruments",
        Reply.file(fixture_path("upstream/okx/instruments-swap.json")),
        Reply.file(fixture_path("upstream/okx/instruments-futures.json")),
    )
    t = now_ms() - 1000
    frames = [
        json.dumps({"event": "subscribe", "arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "connId": "a"}),
        json.dumps(
            {
                "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
                "data": [
                    {
                        "instId": "BTC-USDT-SWAP",
                        "details": [{"bkPx": "82655.7", "posSide": "long", "side": "sell", "sz": "8.55", "ts": str(t)}],
                    }
                ],
            }
        ),
        json.dumps(
            {
                "arg": {"channel": "liquidation-orders", "instType": "FUTURES"},
                "data": [
                    {
                        "instId": "BTC-USD-261225",
                        "details": [{"bkPx": "82610.4", "posSide": "net", "side": "buy", "sz": "25", "ts": str(t + 1)}],
                    }
                ],
            }
        ),
        json.dumps({"event": "error", "code": "60012", "msg": "Invalid request", "connId": "a"}),
    ]

    async def handler(conn, n):
        ws.record("/ws/v5/public", await conn.recv())
        for frame in frames:
            await conn.send(frame)
        await replies(conn, ws, "/ws/v5/public", lambda m: "pong" if m == "ping" else None)

    ws.route("/ws/v5/public", handler)
    venue = OkxVenue(ws.url(), upstream.url(""), POLICY)
    store = EventStore(tmp_path)
    listener = Listener(store, [venue], tmp_path / "status.json")
    run_listener(listener, 1.5)
    events = sorted(store.read(t - 1, t + 10), key=lambda e: e["ts_ms"])
    assert [(e["symbol"], e["side"]) for e in events] == [("BTC-USDT-SWAP", "long"), ("BTC-USD-261225", "short")]
    assert events[0]["usd"] == pytest.approx(8.55 * 0.01 * 82655.7)
    assert events[1]["usd"] == pytest.approx(25 * 100)
    assert json.loads(ws.received["/ws/v5/public"][0])["args"] == [
        {"channel": "liquidation-orders", "instType": "SWAP"},
        {"channel": "liquidation-orders", "instType": "FUTURES"},
    ]
    status = listener.status["okx"]
    assert status.skipped == {"error_envelope": 1}
    assert status.last_error.startswith("60012")
    assert [r.query["instType"] for r in upstream.requests] == [["SWAP"], ["FUTURES"]]


def test_pings_are_sent_and_their_pongs_keep_a_quiet_feed_connected(tmp_path, ws, upstream, fixture_path):
    upstream.route("/api/v5/public/instruments", Reply.file(fixture_path("upstream/okx/instruments-swap.json")))

    async def handler(conn, n):
        await replies(conn, ws, "/ws/v5/public", lambda m: "pong" if m == "ping" else None)

    ws.route("/ws/v5/public", handler)
    venue = OkxVenue(ws.url(), upstream.url(""), POLICY, ping_every=0.2)
    listener = Listener(EventStore(tmp_path), [venue], tmp_path / "status.json", silence=1.0, backoff_base=0.05)
    run_listener(listener, 2.5)
    pings = [m for m in ws.received["/ws/v5/public"] if m == "ping"]
    assert len(pings) >= 4
    # A quiet market is not a dead feed when the exchange answers our pings: no reconnect churn.
    assert ws.connections["/ws/v5/public"] == 1
    assert listener.status["okx"].reconnects == 0


def test_a_recycled_connection_keeps_its_since(tmp_path, ws):
    t = now_ms()

    async def handler(conn, n):
        await conn.send(binance_frame("BTCUSDT", "SELL", "1", "50000", t + n))
        await asyncio.sleep(30)

    ws.route(BINANCE_PATH, handler)
    listener = Listener(
        EventStore(tmp_path),
        [BinanceVenue(ws.url())],
        tmp_path / "status.json",
        max_age=0.6,
        silence=30,
        status_interval=0.1,
    )
    seen = []

    def watch():
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            with contextlib.suppress(OSError, ValueError, KeyError):
                seen.append(json.loads((tmp_path / "status.json").read_text())["venues"]["binance"]["connected_since"])
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    run_listener(listener, 2.0)
    watcher.join()
    assert ws.connections[BINANCE_PATH] >= 2
    since = [x for x in seen if x is not None]
    assert since
    assert len(set(since)) == 1  # the first connection's time, kept across planned recycles


def test_unreachable_instrument_list_is_retried_not_fatal(tmp_path, upstream):
    upstream.route("/api/v5/public/instruments", Reply(500, b"down"))
    venue = OkxVenue("ws://127.0.0.1:9", upstream.url(""), POLICY)
    listener = Listener(EventStore(tmp_path), [venue], tmp_path / "status.json", backoff_base=0.05)
    run_listener(listener, 1.0)
    assert "listing instruments" in listener.status["okx"].last_error
    assert upstream.hits("/api/v5/public/instruments") >= 2


@pytest.mark.slow
def test_sigterm_during_a_burst_loses_nothing_that_was_acknowledged(tmp_path, ws):
    base = now_ms() - 60000

    async def burst(conn, n):
        for i in range(200000):
            await conn.send(binance_frame(f"S{i % 500}", "SELL", "1", str(100 + i), base + i))
            if i % 200 == 0:
                await asyncio.sleep(0)

    ws.route(BINANCE_PATH, burst)
    events_dir = tmp_path / "events"
    env = subprocess_env(tmp_path, EXCHANGE_BINANCE_WS_URL=ws.url(), LIQUIDATION_EVENTS_DIR=str(events_dir))
    proc = subprocess.Popen(
        [*MANAGE, "stream_liquidations", "--exchanges", "binance"],
        env=env,
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: any(events_dir.glob("liquidations-*.jsonl")), timeout=20)
        time.sleep(0.7)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    status = json.loads((events_dir / "status.json").read_text())["venues"]["binance"]
    stored = EventStore(events_dir, load_keys=False)
    on_disk = list(stored.read(base - 1, base + 10**6))
    assert status["events_stored"] > 0
    assert len(on_disk) == status["events_stored"]  # every acknowledged event is there, once
    assert len({(e["symbol"], e["ts_ms"]) for e in on_disk}) == len(on_disk)
