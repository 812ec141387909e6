"""``manage.py rebuild_buckets``: recompute from the event store, idempotently, keeping pruned days."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, date, datetime

import pytest
from django.core.management import call_command

from liquidation.bucketread import BucketReader
from liquidation.bucketstore import BucketStore
from liquidation.eventstore import EventStore

DAY1, DAY2 = date(2026, 11, 29), date(2026, 11, 30)


def _ms(day: date, minute: int) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000) + minute * 60_000 + 1234


def _event(day: date, minute: int, usd: float, side: str = "long") -> dict:
    return {
        "exchange": "okx",
        "symbol": "BTC-USDT-SWAP",
        "ts_ms": _ms(day, minute),
        "side": side,
        "qty": 1.0,
        "price": usd,
        "usd": usd,
    }


@pytest.fixture
def stores(liq_settings, tmp_path):
    liq_settings.LIQUIDATION_EVENTS_DIR = tmp_path / "events"
    events = EventStore(tmp_path / "events", load_keys=False)
    events.append([_event(DAY1, 10, 100.0), _event(DAY1, 11, 50.0, "short"), _event(DAY2, 5, 7.5)])
    buckets = BucketStore(tmp_path / "events" / "buckets")
    now = _ms(DAY2, 600) / 1000
    buckets.fold(events, {"okx": int(now) - 3 * 86400}, now)
    return events, buckets


def _hashes(buckets: BucketStore) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(buckets.folder.glob("*-*.jsonl"))}


def _day_total(buckets: BucketStore, day: date) -> float:
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    x = BucketReader(buckets).total("venues", start, start + 86340)["x"]
    return sum(cell[0] for sides in x.values() for cell in sides.values())


def test_rebuild_twice_gives_the_same_bytes_and_the_same_sums(stores):
    _, buckets = stores
    before = (_day_total(buckets, DAY1), _day_total(buckets, DAY2))
    out = io.StringIO()
    call_command("rebuild_buckets", stdout=out)
    first = _hashes(buckets)
    call_command("rebuild_buckets", stdout=io.StringIO())
    assert _hashes(buckets) == first
    assert (_day_total(buckets, DAY1), _day_total(buckets, DAY2)) == before == (150.0, 7.5)
    assert "2026-11-29: 2 events" in out.getvalue() and "(2/2)" in out.getvalue()


def test_a_pruned_day_keeps_its_buckets_and_is_named(stores):
    events, buckets = stores
    events.path_for(DAY1).unlink()  # pruned
    kept = buckets.path("venues", DAY1).read_bytes()
    out = io.StringIO()
    call_command("rebuild_buckets", stdout=out)
    assert buckets.path("venues", DAY1).read_bytes() == kept
    assert "2026-11-29: events pruned, its buckets are kept" in out.getvalue()
    assert "1 day(s) kept because their events were pruned" in out.getvalue()
    assert _day_total(buckets, DAY1) == 150.0


def test_since_rebuilds_only_the_days_from_it(stores):
    out = io.StringIO()
    call_command("rebuild_buckets", "--since", "2026-11-30", stdout=out)
    assert "2026-11-29" not in out.getvalue()
    assert "2026-11-30: 1 events" in out.getvalue()
