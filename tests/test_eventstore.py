"""EventStore: per-day files, batched durable appends, de-duplication across restarts, window reads."""

from __future__ import annotations

import errno
import os
import time

import pytest

from liquidation.eventstore import EventStore
from liquidation.store import StoreError

DAY_MS = 86400000


def ev(ts_ms: int, symbol: str = "BTCUSDT", usd: float = 100.0, exchange: str = "binance") -> dict:
    return {
        "exchange": exchange,
        "symbol": symbol,
        "ts_ms": ts_ms,
        "side": "long",
        "qty": usd / 50000,
        "price": 50000.0,
        "usd": usd,
    }


@pytest.fixture
def now_ms() -> int:
    return int(time.time() * 1000)


def test_events_go_to_the_file_of_their_utc_day(tmp_path, now_ms):
    store = EventStore(tmp_path)
    midnight = now_ms - now_ms % DAY_MS
    written = store.append([ev(midnight - 1000), ev(midnight + 1000), ev(midnight + 2000, "ETHUSDT")])
    assert len(written) == 3
    names = sorted(p.name for p in tmp_path.glob("liquidations-*.jsonl"))
    assert len(names) == 2
    assert len(store.days()) == 2
    assert [e["ts_ms"] for e in store.read(midnight, midnight + 5000)] == [midnight + 1000, midnight + 2000]


def test_one_write_and_one_fsync_per_day_file_per_batch(tmp_path, now_ms, monkeypatch):
    store = EventStore(tmp_path)
    calls = {"write": 0, "fdatasync": 0}
    real_write, real_sync = os.write, os.fdatasync

    def counting_write(fd, data):
        calls["write"] += 1
        return real_write(fd, data)

    def counting_sync(fd):
        calls["fdatasync"] += 1
        return real_sync(fd)

    monkeypatch.setattr(os, "write", counting_write)
    monkeypatch.setattr(os, "fdatasync", counting_sync)
    store.append([ev(now_ms - i, symbol=f"S{i}") for i in range(1000)])
    assert calls == {"write": 1, "fdatasync": 1} or now_ms % DAY_MS < 1000


def test_duplicates_are_dropped_within_a_batch_across_batches_and_after_a_restart(tmp_path, now_ms):
    store = EventStore(tmp_path)
    assert len(store.append([ev(now_ms), ev(now_ms)])) == 1
    assert store.append([ev(now_ms)]) == []
    restarted = EventStore(tmp_path)
    assert restarted.remembered == 1
    assert restarted.append([ev(now_ms), ev(now_ms + 1)]) == [ev(now_ms + 1)]
    assert len(list(restarted.read(now_ms - 1, now_ms + 1))) == 2


def test_reading_a_window_opens_only_the_days_it_covers(tmp_path, now_ms, monkeypatch):
    store = EventStore(tmp_path)
    store.append([ev(now_ms - 3 * DAY_MS), ev(now_ms)])
    opened = []
    real_open = open

    def spy(path, *a, **k):
        opened.append(os.path.basename(str(path)))
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", spy)
    got = list(store.read(now_ms - 1000, now_ms + 1000))
    assert [e["ts_ms"] for e in got] == [now_ms]
    assert len(opened) == 1


def test_a_failed_batch_is_not_remembered_so_it_can_be_retried(tmp_path, now_ms, monkeypatch):
    store = EventStore(tmp_path)

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", no_space)
    with pytest.raises(StoreError):
        store.append([ev(now_ms)])
    monkeypatch.undo()
    assert store.append([ev(now_ms)]) == [ev(now_ms)]


def test_torn_tail_and_bad_lines_are_skipped(tmp_path, now_ms):
    store = EventStore(tmp_path)
    store.append([ev(now_ms)])
    path = next(tmp_path.glob("liquidations-*.jsonl"))
    with open(path, "ab") as f:
        f.write(b"garbage\n" + b'{"exchange": "bin')
    assert [e["ts_ms"] for e in store.read(now_ms - 1, now_ms + 10)] == [now_ms]
    store.append([ev(now_ms + 5)])  # cuts the torn tail first
    assert [e["ts_ms"] for e in store.read(now_ms - 1, now_ms + 10)] == [now_ms, now_ms + 5]
    assert list(tmp_path.glob("liquidations-*.jsonl.torn-*"))
