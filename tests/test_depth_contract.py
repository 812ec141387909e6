"""Events, minute buckets and the tape: the same cases on the day files and on PostgreSQL (a throwaway server,
tests/pgserver.py). The database must answer exactly as the files do, from the same events stored in the
same order; then what only the database promises: any number of writers, each event once."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest

from liquidation.bucketread import reader_for
from liquidation.bucketstore import BucketStore
from liquidation.depth import Filters, bars, summary
from liquidation.eventstore import EventStore
from liquidation.maintenance import prune
from liquidation.store import JsonlStore
from tests.buckettools import ALL_LIVE, DAY, DAY_S, at, layered, ms


def _ev(ts_ms: int, usd: float, exchange: str = "okx", symbol: str = "BTC-USDT-SWAP", side: str = "long") -> dict:
    return {"exchange": exchange, "symbol": symbol, "ts_ms": ts_ms, "side": side, "qty": 1.0, "price": usd, "usd": usd}


@pytest.fixture
def pg_depth(pg_store):
    from liquidation.pgbuckets import PgBucketStore
    from liquidation.pgevents import PgEventStore
    from liquidation.pgstore import PgStateStore

    return PgEventStore(using=pg_store.using), PgBucketStore(PgStateStore(using=pg_store.using), using=pg_store.using)


@pytest.fixture(params=["files", "postgresql"])
def depth_stores(request, tmp_path):
    if request.param == "files":
        return EventStore(tmp_path / "events", load_keys=True), BucketStore(tmp_path / "events" / "buckets")
    return request.getfixturevalue("pg_depth")


def _rounded(value):
    """Sums compared to 1e-6 USD: the backends add the same cells in a different order."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items() if k not in ("o", "e")}  # file offsets: the files' own
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _answers(events, store) -> dict:
    reader = reader_for(store)
    now = at(12, 30)
    f = Filters()
    return {
        "venues": _rounded(reader.minutes("venues", DAY_S, DAY_S + 86340)),
        "coins": _rounded(reader.minutes("coins", DAY_S, DAY_S + 86340)),
        "total": _rounded(reader.total("venues", DAY_S, DAY_S + 86340)),
        "coin_total": _rounded(reader.total("coins", DAY_S + 5400, DAY_S + 50000)),
        # A rebuilt (compacted) file day records its venue total with the coin cells too; bars read coins
        # from the coin table, so only the venue cells and coverage are compared.
        "day": _rounded({k: v for k, v in reader.day_total("venues", DAY).items() if k != "c"}),
        "summary": _rounded(summary(reader, "24h", now, f)),
        "bars": _rounded(bars(reader, DAY_S, DAY_S + 86400, "1h", "exchange", now, f)),
        "coin_bars": _rounded(bars(reader, DAY_S - 86400, DAY_S + 86400, "1d", "coin", now, Filters(coin="BTC"))),
        "tape": [events.tape(reader, before_ms=ms(13, 0), limit=n)["results"] for n in (5, 17, 200)],
        "filtered": events.tape(reader, before_ms=ms(13, 0), limit=10, side="short", min_usd=150.0)["results"],
        "by_coin": events.tape(reader, before_ms=ms(12, 20), limit=7, f=Filters(coin="ETH"))["results"],
    }


def test_the_database_answers_exactly_as_the_day_files_do(tmp_path, pg_depth):
    files = EventStore(tmp_path / "events", load_keys=True), BucketStore(tmp_path / "events" / "buckets")
    for pair in (files, pg_depth):
        layered(*pair)
    expected, got = _answers(*files), _answers(*pg_depth)
    assert expected["total"]["n"] > 0 and expected["tape"][2]  # the comparison compares something
    for key in expected:
        assert got[key] == expected[key], key


def test_an_order_stored_twice_is_kept_once_and_reported_written_once(depth_stores):
    events, _ = depth_stores
    batch = [_ev(ms(9, 0, i), 1000.0 + i) for i in range(5)]
    assert len(events.append(batch)) == 5
    assert events.append([*batch, _ev(ms(9, 1), 7.0)]) == [_ev(ms(9, 1), 7.0)]
    assert len(list(events.read(ms(0, 0), ms(23, 59)))) == 6


def test_a_minute_live_without_orders_is_a_zero_and_one_not_live_is_a_gap(depth_stores):
    events, store = depth_stores
    events.append([_ev(ms(12, 3, 5), 50.0)])
    store.fold(events, {"okx": at(12, 2)}, at(12, 6, 1))
    minutes = reader_for(store).minutes("venues", at(12, 0), at(12, 5))
    assert sorted(minutes) == [at(12, 2), at(12, 3), at(12, 4), at(12, 5)]  # 12:00 and 12:01: gaps
    assert minutes[at(12, 2)]["x"] == {} and minutes[at(12, 2)]["live"] == ["okx"]  # a zero
    assert minutes[at(12, 3)]["x"]["okx"]["long"][:2] == [50.0, 1]


def test_a_backfill_refolds_only_its_own_minutes_and_keeps_their_coverage(depth_stores):
    events, store = depth_stores
    events.append([_ev(ms(12, 3, 5), 50.0)])
    store.fold(events, {"okx": at(11, 0)}, at(12, 6, 1))
    reader = reader_for(store)
    before = reader.total("venues", at(11, 0), at(12, 5))
    events.append([_ev(ms(11, 30, 1), 20.0), _ev(ms(12, 3, 9), 5.0)])
    store.fold(events, {"okx": at(11, 0)}, at(12, 7, 1))
    after = reader.total("venues", at(11, 0), at(12, 5))
    assert before["x"]["okx"]["long"][:2] == [50.0, 1]
    assert after["x"]["okx"]["long"][:2] == [75.0, 3]
    assert after["n"] == before["n"] == 66 and after["lv"] == {"okx": 66}  # coverage untouched by the refold


def test_prune_drops_whole_days_of_events(depth_stores, tmp_path):
    events, _ = depth_stores
    events.append([_ev(ms(10, 0), 1.0), _ev(ms(10, 0, day_s=DAY_S - 3 * 86400), 2.0)])
    result = prune(JsonlStore(tmp_path / "records.jsonl"), 2, now=DAY_S + 3600, events=events)
    assert result.event_days_removed == [(DAY - timedelta(days=3)).isoformat()]
    assert [e["usd"] for e in events.read(ms(0, 0, day_s=DAY_S - 9 * 86400), ms(23, 59))] == [1.0]


def test_the_tape_pages_back_past_two_days_on_the_database(pg_depth):
    events, store = pg_depth
    events.append([_ev(ms(10, 0, day_s=DAY_S - 5 * 86400), 9.0), _ev(ms(10, 0), 1.0)])
    store.fold(events, ALL_LIVE, at(10, 2))
    first = events.tape(reader_for(store), before_ms=ms(11, 0), limit=10)
    assert [r["usd"] for r in first["results"]] == [1.0]
    assert first["next_before"] == (DAY_S - 86400) * 1000  # two UTC days read, as the file tape reads two files
    second = events.tape(reader_for(store), before_ms=first["next_before"], limit=10)
    assert [r["usd"] for r in second["results"]] == [9.0] and second["next_before"] is None


def test_a_filtered_tape_reads_two_utc_days_on_every_backend(depth_stores):
    """The newest event's day and the one before: an older match is on the next page, on both backends."""
    events, store = depth_stores
    events.append([_ev(ms(12, 0, day_s=DAY_S - 2 * 86400), 7.0, symbol="ETH-USDT-SWAP"), _ev(ms(10, 0), 1.0)])
    store.fold(events, ALL_LIVE, at(10, 2))
    first = events.tape(reader_for(store), before_ms=ms(11, 0), limit=10, f=Filters(coin="ETH"))
    assert (first["results"], first["next_before"]) == ([], (DAY_S - 86400) * 1000)
    second = events.tape(reader_for(store), before_ms=first["next_before"], limit=10, f=Filters(coin="ETH"))
    assert [r["usd"] for r in second["results"]] == [7.0]


def test_two_folds_at_once_leave_the_buckets_a_fold_of_every_event(pg_depth):
    """Two collectors on two machines fold the same minute: whatever order their writes land in, the
    next fold leaves every minute the sum of all its events."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    events, store = pg_depth

    def fold(i: int) -> None:
        try:
            events.append([_ev(ms(12, 1, i / 10), 10.0 + i)])
            store.fold(events, {"okx": at(12, 0)}, at(12, 3))
        finally:
            connections[store.using].close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(fold, range(8)))
    store.fold(events, {"okx": at(12, 0)}, at(12, 4))
    cell = reader_for(store).total("venues", at(12, 0), at(12, 2))["x"]["okx"]["long"]
    assert cell[1] == 8 and math.isclose(cell[0], sum(10.0 + i for i in range(8)))
    assert store.committed() == 9


def test_the_event_line_is_stored_whole(pg_depth):
    from liquidation.models import Event

    events, _ = pg_depth
    e = {**_ev(ms(9, 0), 12.5, symbol="1000PEPEUSDT"), "tradfi": False, "extra": {"k": [1, 2]}}
    events.append([e])
    row = Event.objects.using(events.using).get()
    assert json.loads(row.line) == e and (row.coin, row.usd) == ("PEPE", 12.5)


def test_migrate_store_moves_events_buckets_and_coverage_both_ways(tmp_path, pg_depth):
    from liquidation import storemigrate

    files = EventStore(tmp_path / "events", load_keys=True), BucketStore(tmp_path / "events" / "buckets")
    layered(*files)
    files[1].fold(files[0], ALL_LIVE, at(12, 31))
    said: list[str] = []
    assert storemigrate.events_to_postgresql(*files, *pg_depth, said.append) == 116
    assert storemigrate.events_to_postgresql(*files, *pg_depth, said.append) == 0  # idempotent
    expected = _answers(*files)
    assert _answers(*pg_depth) == expected
    back = EventStore(tmp_path / "back", load_keys=False), BucketStore(tmp_path / "back" / "buckets")
    assert storemigrate.events_to_jsonl(*pg_depth, *back, said.append) == 116
    assert storemigrate.events_to_jsonl(*pg_depth, *back, said.append) == 0
    assert _answers(*back) == expected
    assert any("2026-10-09" in line for line in said)
