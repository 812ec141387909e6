"""The keyless source's test bench: every venue's REST API played by the loopback server from recorded
payloads, the listener's events and status as it leaves them, and one collection."""

from __future__ import annotations

import json
from pathlib import Path

from liquidation.eventstore import EventStore
from liquidation.exchanges import ExchangesSource
from liquidation.http import Deadline, HttpPolicy, make_session
from tests.upstream_server import Reply

NOW = 1795600830  # 2026-11-25 18:00:30 Beijing time
NOW_MS = NOW * 1000
POLICY = HttpPolicy(connect_timeout=1, read_timeout=2, retries=0, backoff=0.01, deadline=10)


def gate_liq_orders(fixture_path) -> list[dict]:
    template = json.loads(fixture_path("upstream/gate/liq_orders.json").read_text())[0]
    return [
        {**template, "time": NOW - 600},  # long: 600 contracts × 0.0001 × 3424 = 205.44 USD
        # short: (|50000| - |10000|) filled contracts × 0.0001 × 2000 = 8,000 USD
        {
            **template,
            "time": NOW - 7200,
            "size": "-50000",
            "order_size": "50000",
            "left": "10000",
            "fill_price": "2000",
        },
        {**template, "time": NOW - 900, "contract": "UNKNOWN_USDT"},  # no multiplier: skipped
    ]


def bitget_pages(fixture_path) -> dict:
    body = json.loads(fixture_path("upstream/bitget/liquidations.json").read_text())
    first, second = body["data"]["list"]
    first = {**first, "ts": str((NOW - 300) * 1000)}  # BTC long liquidated, 24,783.15 USD
    second = {**second, "ts": str((NOW - 5 * 3600) * 1000)}  # ETH short, 5,900.24 USD
    return {
        "code": "00000",
        "msg": "success",
        "data": {"list": [first, second], "cursor": str((NOW - 5 * 3600) * 1000)},
    }


def serve_venues(upstream, fixture_path) -> dict[str, str]:
    """Every REST endpoint the source calls, answering like the real venues (the ``venues`` fixture)."""
    f = fixture_path
    orders = gate_liq_orders(f)

    def liq_orders(query, body):
        a, b = int(query["from"][0]), int(query["to"][0])
        if b - a > 3600:
            return Reply.file(f("upstream/gate/error-range.json"), status=400)
        return Reply(200, json.dumps([o for o in orders if a <= o["time"] <= b]).encode())

    def bitget(query, body):
        if query["category"] == ["USDT-FUTURES"] and "cursor" not in query:
            return Reply(200, json.dumps(bitget_pages(f)).encode())
        return Reply(200, json.dumps({"code": "00000", "msg": "success", "data": {"list": []}}).encode())

    def okx_oi(query, body):
        name = "open-interest-swap.json" if query["instType"] == ["SWAP"] else "open-interest-futures.json"
        return Reply.file(f(f"upstream/okx/{name}"))

    def bybit_tickers(query, body):
        return Reply.file(f(f"upstream/bybit/tickers-{query['category'][0]}.json"))

    upstream.route("/api/v4/futures/usdt/contracts", Reply.file(f("upstream/gate/contracts.json")))
    upstream.route_fn("/api/v4/futures/usdt/liq_orders", liq_orders)
    upstream.route("/api/v4/futures/usdt/tickers", Reply.file(f("upstream/gate/tickers.json")))
    upstream.route_fn("/api/v3/market/liquidations", bitget)
    upstream.route_fn("/api/v5/public/open-interest", okx_oi)
    upstream.route_fn("/v5/market/tickers", bybit_tickers)
    upstream.route("/fapi/v1/exchangeInfo", Reply.file(f("upstream/binance/exchangeInfo.json")))
    upstream.route("/fapi/v1/premiumIndex", Reply.file(f("upstream/binance/premiumIndex.json")))
    upstream.route("/fapi/v1/openInterest", Reply.file(f("upstream/binance/openInterest.json")))
    upstream.route("/info", Reply.file(f("upstream/hyperliquid/metaAndAssetCtxs.json")))
    base = upstream.url("")
    return {"rest": base}  # every venue's REST base


def stream_state(folder: Path, connected_since: dict[str, int | None], updated: int = NOW - 2) -> None:
    """Events as the listener stores them, and its status.json."""
    EventStore(folder).append(
        [
            {
                "exchange": "binance",
                "symbol": "BTCUSDT",
                "ts_ms": NOW_MS - 120_000,
                "side": "long",
                "qty": 0.1,
                "price": 100000.0,
                "usd": 10000.0,
            },
            {
                "exchange": "binance",
                "symbol": "ETHUSDT",
                "ts_ms": NOW_MS - 3 * 3600_000,
                "side": "short",
                "qty": 2.0,
                "price": 2500.0,
                "usd": 5000.0,
            },
            {
                "exchange": "okx",
                "symbol": "BTC-USDT-SWAP",
                "ts_ms": NOW_MS - 60_000,
                "side": "long",
                "qty": 0.02,
                "price": 100000.0,
                "usd": 2000.0,
            },
            {
                "exchange": "binance",
                "symbol": "OLD",
                "ts_ms": NOW_MS - 25 * 3600_000,
                "side": "long",
                "qty": 1.0,
                "price": 1.0,
                "usd": 1.0,
            },
        ]
    )
    status = {
        "updated": updated,
        "venues": {
            name: {"connected": since is not None, "connected_since": since, "last_error": None if since else "refused"}
            for name, since in connected_since.items()
        },
    }
    (folder / "status.json").write_text(json.dumps(status))


def collect(source: ExchangesSource):
    deadline = Deadline(POLICY.deadline)
    session = make_session(POLICY, deadline)
    try:
        return source.fetch(session, POLICY, deadline)
    finally:
        session.close()


EXPECTED_OI = {
    "okx": 50000 + 25000,
    "bybit": 1_000_000 + 400_000 / 2 + 300_000,
    "gate": 32323904 * 0.0001 * 6534,
    "binance": 10659.509 * 11793.63104562,
    "hyperliquid": 688.11 * 14.3161 + 10.5 * 3000.2,
}
