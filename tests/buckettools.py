"""Helpers for the minute-bucket tests: the sample events, hand sums with plain loops, fresh stores."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from liquidation.bucketread import BucketReader
from liquidation.bucketstore import BucketStore
from liquidation.coins import coin_of
from liquidation.eventstore import EventStore

SAMPLE = Path(__file__).parent / "fixtures" / "events" / "sample-events.jsonl"
DAY = date(2026, 10, 9)
DAY_S = int(datetime(2026, 10, 9, tzinfo=UTC).timestamp())
VENUES = ["binance", "bitget", "bybit", "gate", "hyperliquid", "okx"]
#: Every venue complete since 08:00 of DAY (an hour before the first sample event).
ALL_LIVE = {v: DAY_S + 8 * 3600 for v in VENUES}


def at(hh: int, mm: int, ss: int = 0, day_s: int = DAY_S) -> int:
    """Unix seconds of DAY (or ``day_s``) at hh:mm:ss UTC."""
    return day_s + hh * 3600 + mm * 60 + ss


def ms(hh: int, mm: int, ss: float = 0.0, day_s: int = DAY_S) -> int:
    """Unix milliseconds of DAY (or ``day_s``) at hh:mm:ss.fff UTC."""
    return (day_s + hh * 3600 + mm * 60) * 1000 + round(ss * 1000)


def sample() -> list[dict[str, Any]]:
    """The fixture's 40 events, in file order (the last one is the late one)."""
    return [json.loads(line) for line in SAMPLE.read_text().splitlines()]


def counted(event: dict[str, Any]) -> bool:
    """Written out independently of ``buckets.countable``: what the hand sums include."""
    usd = event["usd"]
    return not event.get("tradfi") and 0 < usd <= 2e9 and event["side"] in ("long", "short")


def stores(tmp_path: Path) -> tuple[EventStore, BucketStore]:
    return EventStore(tmp_path, load_keys=False), BucketStore(tmp_path / "buckets")


def folded_sample(tmp_path: Path) -> tuple[EventStore, BucketStore]:
    """The sample stored in two batches: all but the last event, a fold at 12:05, the late event, a fold
    at 12:06; every venue live since 08:00."""
    events, store = stores(tmp_path)
    rows = sample()
    events.append(rows[:-1])
    store.fold(events, ALL_LIVE, at(12, 5, 3))
    events.append(rows[-1:])
    store.fold(events, ALL_LIVE, at(12, 6, 3))
    return events, store


def reader(store: BucketStore) -> BucketReader:
    return BucketReader(store)


def hand_venue_cells(events: list[dict[str, Any]]) -> dict[int, dict[str, dict[str, list[float]]]]:
    """minute → venue → side → [usd, count, largest usd], with plain loops."""
    out: dict[int, dict[str, dict[str, list[float]]]] = {}
    for e in events:
        if not counted(e):
            continue
        minute = e["ts_ms"] // 1000 // 60 * 60
        cell = out.setdefault(minute, {}).setdefault(e["exchange"], {}).setdefault(e["side"], [0.0, 0, 0.0])
        cell[0] += e["usd"]
        cell[1] += 1
        cell[2] = max(cell[2], e["usd"])
    return out


def hand_coin_cells(events: list[dict[str, Any]]) -> dict[int, dict[str, dict[str, dict[str, list[float]]]]]:
    """minute → coin → venue → side → [usd, count], with plain loops."""
    out: dict[int, dict[str, dict[str, dict[str, list[float]]]]] = {}
    for e in events:
        if not counted(e):
            continue
        minute = e["ts_ms"] // 1000 // 60 * 60
        venues = out.setdefault(minute, {}).setdefault(coin_of(e["symbol"]), {})
        cell = venues.setdefault(e["exchange"], {}).setdefault(e["side"], [0.0, 0])
        cell[0] += e["usd"]
        cell[1] += 1
    return out


def hand_total(events: list[dict[str, Any]], start_ms: int, end_ms: int, **match: Any) -> tuple[float, int]:
    """(usd, count) of the counted events with ``start_ms <= ts_ms <= end_ms`` whose fields equal ``match``
    (``coin`` is compared with ``coin_of(symbol)``)."""
    usd, n = 0.0, 0
    for e in events:
        if not counted(e) or not start_ms <= e["ts_ms"] <= end_ms:
            continue
        if any((coin_of(e["symbol"]) if k == "coin" else e.get(k)) != v for k, v in match.items()):
            continue
        usd += e["usd"]
        n += 1
    return usd, n


def bucket_usd(bucket_or_total: dict[str, Any]) -> float:
    """Sum of the venue cells' USD of a merged bucket or a total."""
    return sum(cell[0] for sides in (bucket_or_total.get("x") or {}).values() for cell in sides.values())


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _event(ts_ms: int, usd: float, exchange: str = "okx", symbol: str = "BTC-USDT-SWAP", side: str = "long") -> dict:
    return {"exchange": exchange, "symbol": symbol, "ts_ms": ts_ms, "side": side, "qty": 1.0, "price": usd, "usd": usd}


def layered(events: Any, store: Any) -> None:
    """The sample in two batches with two folds; then a backfill of 01:00–07:59 stored after newer events
    and folded; then events of 12:10–12:29 stored after the last fold."""
    rows = sample()
    events.append(rows[:-1])
    store.fold(events, ALL_LIVE, at(12, 5, 3))
    events.append(rows[-1:])
    store.fold(events, ALL_LIVE, at(12, 6, 3))
    events.append(
        [_event(ms(1 + i // 8, (i * 7) % 60, 11), 100.0 + i, "bitget", "ETHUSDT", "short") for i in range(56)]
    )
    store.fold(events, ALL_LIVE, at(12, 8))
    events.append([_event(ms(12, 10 + i, 3), 500.0 + i, "gate", "SOL_USDT") for i in range(20)])
