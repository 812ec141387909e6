"""JsonlStore: appends are whole, durable and ordered; reads never raise on bad data."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from liquidation.records import build_record, parse_line, to_line
from liquidation.store import DuplicateMinute, JsonlStore, OutOfOrder, StoreError

T0 = 1768583851  # 2026-01-17 01:17:31 Beijing time, the seed's sample record


def rec(ts: int, h1: float = 100.0, **extra) -> dict:
    values = {"hour_1_amount": h1, "panic_index": 0.07, "hour_24_amount": 9000.0, "total_position": 100.0}
    return build_record(ts, values, **extra)


def fill(store: JsonlStore, n: int, start: int = T0) -> list[dict]:
    records = [rec(start + 60 * i, h1=float(i)) for i in range(n)]
    for r in records:
        store.append(r)
    return records


def test_append_creates_folders_and_reads_back(store):
    assert not store.path.parent.exists()
    assert store.latest() is None
    assert store.count() == 0
    assert store.range() == []
    records = fill(store, 3)
    assert store.latest() == records[-1]
    assert store.count() == 3
    assert store.range() == records
    assert store.lock_path.exists()


def test_range_filters_inclusive_and_limit_keeps_the_most_recent_oldest_first(store):
    records = fill(store, 10)
    assert store.range(start=records[2]["timestamp"], end=records[5]["timestamp"]) == records[2:6]
    assert store.range(limit=3) == records[-3:]
    assert store.range(start=records[1]["timestamp"], end=records[8]["timestamp"], limit=2) == records[7:9]
    assert store.range(start=records[-1]["timestamp"] + 1) == []


def test_second_record_in_the_same_minute_is_refused_as_duplicate(store):
    store.append(rec(T0 - T0 % 60))
    before = store.path.read_bytes()
    with pytest.raises(DuplicateMinute) as e:
        store.append(rec(T0 - T0 % 60 + 59))
    assert e.value.existing["timestamp"] == T0 - T0 % 60
    assert store.path.read_bytes() == before


def test_a_record_older_than_the_newest_is_refused(store):
    store.append(rec(T0))
    before = store.path.read_bytes()
    with pytest.raises(OutOfOrder, match="older than the newest"):
        store.append(rec(T0 - 120))
    assert store.path.read_bytes() == before


def test_legacy_file_reads_back_exactly(store, fixture_path):
    legacy = fixture_path("legacy/liquidation_1h.jsonl")
    store.path.parent.mkdir(parents=True)
    shutil.copy(legacy, store.path)
    lines = legacy.read_text(encoding="utf-8").splitlines(keepends=True)
    records = store.range()
    assert [r["timestamp"] for r in records] == [parse_line(x)["timestamp"] for x in lines]
    assert records == [parse_line(x) for x in lines]
    assert store.latest()["hour_24_amount"] == 13601
    # appending to a legacy file keeps its lines byte for byte
    store.append(rec(records[-1]["timestamp"] + 60))
    assert store.path.read_text(encoding="utf-8").splitlines(keepends=True)[:6] == lines


def test_unknown_fields_survive_append_and_read(store):
    store.append(rec(T0, by_exchange={"binance": {"hour_1": 1.5}}, lower_bound=True, new_thing=[1, "二"]))
    got = store.latest()
    assert got["by_exchange"] == {"binance": {"hour_1": 1.5}}
    assert got["new_thing"] == [1, "二"]
    assert got["lower_bound"] is True


BAD_LINES = [
    b"   \n",
    b"{not json\n",
    b"[1, 2, 3]\n",
    b'"a string"\n',
    b"null\n",
    b'{"timestamp": 1768583000, "hour_1_amount": 1}\n',
    b'{"timestamp": 1768583000, "hour_1_amount": "x", "panic_index": 1, "hour_24_amount": 1, "total_position": 1}\n',
    b'{"timestamp": 1768583000, "hour_1_amount": NaN, "panic_index": 1, "hour_24_amount": 1, "total_position": 1}\n',
    b'{"timestamp": 1768583000, "hour_1_amount": Infinity, "panic_index": 1, "hour_24_amount": 1, "total_position": 1}'
    b"\n",
    b"\xff\xfe not utf-8\n",
]


@pytest.mark.parametrize("bad", BAD_LINES, ids=lambda b: b[:24].decode("utf-8", "replace").strip() or "blank")
def test_each_kind_of_bad_line_is_skipped_counted_and_warned_once(store, bad, caplog):
    good = fill(store, 2)
    with open(store.path, "ab") as f:
        f.write(bad)
    good.append(rec(T0 + 600))
    store.append(good[-1])
    with caplog.at_level(logging.WARNING, logger="liquidation.store"):
        assert store.range() == good
    assert store.last_report.skipped == 1
    assert store.last_report.first_line == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "skipped 1 bad line" in warnings[0].getMessage()
    assert "line 3" in warnings[0].getMessage()
    assert store.latest() == good[-1]
    assert store.count() == 3


def test_several_bad_lines_give_one_warning_with_count_and_first_line(store, caplog):
    fill(store, 1)
    with open(store.path, "ab") as f:
        f.write(b"garbage\n \n[]\n")
    with caplog.at_level(logging.WARNING, logger="liquidation.store"):
        assert len(store.range()) == 1
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert "skipped 3 bad line(s); first at line 2" in messages[0]


def test_empty_lines_are_ignored_not_counted(store):
    """With CR, LF and CRLF all line ends, an empty line is no more than a line end: not a bad line."""
    records = fill(store, 2)
    with open(store.path, "ab") as f:
        f.write(b"\n\n")
    assert store.range() == records
    assert store.last_report.skipped == 0


def test_latest_skips_bad_lines_at_the_end(store):
    records = fill(store, 2)
    with open(store.path, "ab") as f:
        f.write(b"{broken\n\n")
    assert store.latest() == records[-1]


def test_unterminated_last_line_is_invisible_to_readers(store):
    records = fill(store, 2)
    with open(store.path, "ab") as f:
        f.write(b'{"timestamp": 1768590000, "datetime": "2026-01-17 03:00:00", "hour_1_am')
    assert store.latest() == records[-1]
    assert store.range() == records
    assert store.last_report.skipped == 1


def test_torn_tail_is_moved_aside_and_next_append_is_intact(store):
    records = fill(store, 2)
    fragment = b'{"timestamp": 1768590000, "datetime": "2026-01-17 03:00:00", "hour_1_am'
    with open(store.path, "ab") as f:
        f.write(fragment)
    nxt = rec(T0 + 3600)
    store.append(nxt)
    assert store.range() == [*records, nxt]
    assert store.last_report.skipped == 0
    for line in store.path.read_bytes().splitlines():
        parse_line(line)
    torn = list(store.path.parent.glob(store.path.name + ".torn-*"))
    assert len(torn) == 1
    assert torn[0].read_bytes() == fragment


def test_torn_tail_without_any_complete_line(store):
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(b'{"timestamp": 17')
    store.append(rec(T0))
    assert store.count() == 1
    assert store.path.read_bytes().count(b"\n") == 1


def test_fsync_error_fails_the_append_and_is_not_retried(store, monkeypatch):
    fill(store, 1)
    calls = []

    def failing_fdatasync(fd):
        calls.append(fd)
        raise OSError(errno.EIO, "Input/output error")

    before = store.path.read_bytes()
    monkeypatch.setattr(os, "fdatasync", failing_fdatasync)
    with pytest.raises(StoreError, match=r"fsync .* failed"):
        store.append(rec(T0 + 60))
    assert len(calls) == 1
    monkeypatch.undo()
    # taken back out, so a second run in the same minute writes it instead of calling it a duplicate
    assert store.path.read_bytes() == before
    store.append(rec(T0 + 60))
    assert store.count() == 2


def test_short_write_is_undone_and_fails(store, monkeypatch):
    fill(store, 2)
    before = store.path.read_bytes()
    real_write = os.write

    def short_write(fd, data):
        return real_write(fd, data[: len(data) // 2])

    monkeypatch.setattr(os, "write", short_write)
    with pytest.raises(StoreError, match="short write"):
        store.append(rec(T0 + 600))
    monkeypatch.undo()
    assert store.path.read_bytes() == before


def test_write_error_leaves_the_file_unchanged(store, monkeypatch):
    fill(store, 1)
    before = store.path.read_bytes()

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", no_space)
    with pytest.raises(StoreError, match="No space left"):
        store.append(rec(T0 + 600))
    monkeypatch.undo()
    assert store.path.read_bytes() == before


def test_append_waits_for_the_lock_then_gives_up_with_a_clear_error(tmp_path):
    store = JsonlStore(tmp_path / "s.jsonl", lock_timeout=0.3)
    store.append(rec(T0))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import fcntl, os, sys, time
                fd = os.open({str(store.lock_path)!r}, os.O_RDWR)
                fcntl.flock(fd, fcntl.LOCK_EX)
                print("locked", flush=True)
                time.sleep(30)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError, match="locked by another process"):
            store.append(rec(T0 + 60))
    finally:
        holder.kill()
        holder.wait()
    store.append(rec(T0 + 60))  # the lock died with its process
    assert store.count() == 2


def test_lock_file_is_a_sidecar_that_survives_replacing_the_data_file(store):
    fill(store, 1)
    inode = store.lock_path.stat().st_ino
    replacement = store.path.with_suffix(".new")
    replacement.write_bytes(store.path.read_bytes())
    os.replace(replacement, store.path)
    store.append(rec(T0 + 60))
    assert store.lock_path.stat().st_ino == inode
    assert store.count() == 2


def test_concurrent_appends_from_processes_never_interleave(tmp_path):
    path = tmp_path / "c.jsonl"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(os.getcwd())!r})
        from liquidation.records import build_record
        from liquidation.store import JsonlStore, DuplicateMinute
        s = JsonlStore({str(path)!r})
        worker = int(sys.argv[1])
        for i in range(40):
            ts = 1768583820 + 60 * (i * 4 + worker)
            try:
                s.append(build_record(ts, {{"hour_1_amount": i, "panic_index": 0, "hour_24_amount": 1,
                         "total_position": 1}}, pad="x" * 5000))
            except Exception as e:
                print(type(e).__name__)
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(w)], stdout=subprocess.PIPE, text=True) for w in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    lines = path.read_bytes().splitlines(keepends=True)
    assert all(line.endswith(b"\n") for line in lines)
    parsed = [parse_line(line) for line in lines]  # every line is whole
    refused = sum(o.count("OutOfOrder") for o in outputs)
    assert len(parsed) + refused == 160
    stamps = [r["timestamp"] for r in parsed]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)


def test_tail_reads_match_a_full_scan(store):
    records = fill(store, 50)
    with open(store.path, "ab") as f:
        f.write(b"garbage\n")
    store.append(rec(T0 + 60 * 60))
    records.append(store.latest())
    for end in (None, records[10]["timestamp"], records[10]["timestamp"] + 30, records[-1]["timestamp"] + 1, T0 - 1):
        for limit in (1, 3, 50, 100):
            expected = [r for r in records if end is None or r["timestamp"] <= end][-limit:]
            assert store.range(end=end, limit=limit) == expected, (end, limit)


def test_a_huge_integer_line_is_skipped_not_raised(store):
    fill(store, 1)
    with open(store.path, "ab") as f:
        f.write(
            b'{"timestamp": 1768583951, "hour_1_amount": 1' + b"0" * 400 + b', "panic_index": 1, '
            b'"hour_24_amount": 1, "total_position": 1}\n'
        )
    assert store.count() == 1
    assert store.latest()["timestamp"] == T0


@pytest.mark.slow
def test_windowed_reads_match_a_naive_scan_on_a_file_larger_than_the_search_slack(tmp_path):
    import random

    store = JsonlStore(tmp_path / "big.jsonl")
    rng = random.Random(7)
    lines, expected = [], []
    ts = T0 - T0 % 60
    for i in range(6000):
        ts += 60 * rng.choice([1, 1, 1, 1, 2, 5])  # gaps
        r = rec(ts, h1=float(i), pad="x" * rng.randint(0, 200))
        expected.append(r)
        lines.append(to_line(r))
        if i % 700 == 0:
            lines.append(b"{broken line\n")
    store.path.write_bytes(b"".join(lines))
    assert store.path.stat().st_size > 10 * 64 * 1024
    first, last = expected[0]["timestamp"], expected[-1]["timestamp"]
    for _ in range(300):
        a = rng.randint(first - 600, last + 600)
        b = rng.randint(a, last + 1200)
        limit = rng.choice([None, 1, 7, 60, 1440, 10000])
        start = rng.choice([a, None])
        end = rng.choice([b, None])
        want = [
            r for r in expected if (start is None or r["timestamp"] >= start) and (end is None or r["timestamp"] <= end)
        ]
        if limit is not None:
            want = want[-limit:]
        assert store.range(start, end, limit) == want, (start, end, limit)
        if limit is None:
            assert list(store.iter_range(start, end)) == want


def test_repeated_reads_are_served_from_the_cache_until_the_file_changes(store, monkeypatch):
    fill(store, 30)
    first = store.range(start=T0, limit=10)
    calls = []
    real = os.pread
    monkeypatch.setattr(os, "pread", lambda *a: calls.append(a) or real(*a))
    assert store.range(start=T0, limit=10) is first
    assert calls == []
    monkeypatch.undo()
    store.append(rec(T0 + 60 * 40))
    assert store.range(start=T0, limit=10) is not first
