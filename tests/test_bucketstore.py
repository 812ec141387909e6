"""BucketStore on disk: crash replay without double counting, torn and garbage lines, late events and
backfills, compaction, rebuilds, and ``stored_since``."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import timedelta

import pytest

from liquidation.bucketstore import CLOSE_AFTER
from tests.buckettools import (
    ALL_LIVE,
    DAY,
    DAY_S,
    at,
    bucket_usd,
    folded_sample,
    hand_total,
    hand_venue_cells,
    lines_of,
    ms,
    reader,
    sample,
    stores,
)

WHOLE_DAY = (DAY_S, DAY_S + 86340)
EVER = (0, 2**62)


def _day_usd(store, day_s: int = DAY_S) -> float:
    return bucket_usd(reader(store).total("venues", day_s, day_s + 86340))


def _shifted(rows: list[dict], days: int) -> list[dict]:
    return [{**e, "ts_ms": e["ts_ms"] + days * 86_400_000} for e in rows]


def _lose_last_commit(store) -> None:
    """A crash after a fold's delta lines were written and before its commit line was."""
    lines = store.folds_path.read_bytes().splitlines(keepends=True)
    store.folds_path.write_bytes(b"".join(lines[:-1]))


def test_a_fold_whose_commit_line_was_lost_is_replayed_under_the_same_seq_and_counted_once(tmp_path):
    events, store = stores(tmp_path)
    rows = sample()
    events.append(rows[:20])
    store.fold(events, ALL_LIVE, at(12, 5))
    events.append(rows[20:])
    crashed = store.fold(events, ALL_LIVE, at(12, 6))
    _lose_last_commit(store)
    cached = reader(store)
    assert cached.committed() == crashed.seq - 1
    assert _day_usd(store) == pytest.approx(hand_total(rows[:20], *EVER)[0])  # uncommitted lines not read
    assert bucket_usd(cached.total("venues", *WHOLE_DAY)) == pytest.approx(hand_total(rows[:20], *EVER)[0])
    extra = {**rows[-1], "ts_ms": rows[-1]["ts_ms"] + 5, "usd": 7.0}  # stored before the replay, same minute
    events.append([extra])
    replay = store.fold(events, ALL_LIVE, at(12, 7))
    assert replay.seq == crashed.seq and (crashed.events, replay.events) == (20, 21)
    committed = store.folds_path.read_bytes()
    _lose_last_commit(store)
    cached.total("venues", *WHOLE_DAY)  # holds both writings of that fold as pending
    store.folds_path.write_bytes(committed)
    seqs = Counter(line["seq"] for line in lines_of(store.path("venues", DAY)) if "x" in line)
    assert seqs[crashed.seq] > 0 and seqs[crashed.seq] % 2 == 0  # every delta of that fold is there twice
    want = hand_total([*rows, extra], *EVER)
    for r in (cached, reader(store)):  # the one that held the crashed lines as pending, and a fresh one
        total = r.total("venues", *WHOLE_DAY)
        assert bucket_usd(total) == pytest.approx(want[0])
        assert sum(c[1] for sides in total["x"].values() for c in sides.values()) == want[1]


def test_a_torn_last_bucket_line_is_ignored_and_the_next_fold_appends_whole_lines(tmp_path):
    events, store = stores(tmp_path)
    rows = sample()
    events.append(rows[:20])
    store.fold(events, ALL_LIVE, at(12, 5))
    path = store.path("venues", DAY)
    torn = b'{"live":["binance"],"m":%d,"o":0,"seq":2,"x":{"binance":{"long":[99999' % at(9, 0)
    with open(path, "ab") as f:
        f.write(torn)
    cached = reader(store)
    assert bucket_usd(cached.total("venues", *WHOLE_DAY)) == pytest.approx(hand_total(rows[:20], *EVER)[0])
    events.append(rows[20:])
    store.fold(events, ALL_LIVE, at(12, 6))
    assert path.read_bytes().endswith(b"\n")
    assert all(isinstance(json.loads(line), dict) for line in path.read_bytes().splitlines())  # no torn piece
    assert [p.read_bytes() for p in path.parent.glob(path.name + ".torn-*")] == [torn]  # set aside
    want = hand_total(rows, *EVER)[0]
    assert bucket_usd(cached.total("venues", *WHOLE_DAY)) == pytest.approx(want)
    assert _day_usd(store) == pytest.approx(want)


def test_garbage_bucket_lines_are_skipped_and_counted_and_the_rest_is_read(tmp_path, caplog):
    _, store = folded_sample(tmp_path)
    path = store.path("venues", DAY)
    lines = path.read_bytes().splitlines(keepends=True)
    garbage = [b"\x00\x00\x00\x00\n", b"not json\n", b'{"m": 61, "seq": 1, "x": {}}\n', b'{"m": 60, "seq": -1}\n']
    path.write_bytes(b"".join(lines[:3] + garbage + lines[3:]))
    with caplog.at_level(logging.WARNING):
        total = reader(store).total("venues", *WHOLE_DAY)
    assert bucket_usd(total) == pytest.approx(hand_total(sample(), *EVER)[0])
    assert "bucket lines skipped as unreadable: 4" in caplog.text


def test_an_event_stored_after_its_minute_was_folded_is_a_new_delta_line_of_the_next_fold(tmp_path):
    events, store = stores(tmp_path)
    first = {"exchange": "okx", "symbol": "BTC-USDT-SWAP", "ts_ms": ms(12, 0, 10), "side": "long"}
    first.update(qty=0.1, price=80000.0, usd=8000.0)
    events.append([first])
    store.fold(events, ALL_LIVE, at(12, 9, 50))
    overlap = {**first, "ts_ms": ms(12, 0, 40), "usd": 1000.0, "qty": 0.0125}  # the next poll's overlap
    events.append([overlap])
    result = store.fold(events, ALL_LIVE, at(12, 10, 50))
    assert result.events == 1
    lines = [line for line in lines_of(store.path("venues", DAY)) if line["m"] == at(12, 0)]
    assert [(line["seq"], line["x"]["okx"]["long"][:2]) for line in lines] == [(1, [8000.0, 1]), (2, [1000.0, 1])]
    assert reader(store).minutes("venues", at(12, 0), at(12, 0))[at(12, 0)]["x"]["okx"]["long"][:2] == [9000.0, 2]


def test_a_24h_backfill_appended_after_newer_events_is_folded_into_every_minute(tmp_path):
    events, store = stores(tmp_path)
    today = sample()
    events.append(today)
    store.fold(events, ALL_LIVE, at(12, 10))
    backfill = _shifted(today, -1) + [{**e, "ts_ms": e["ts_ms"] - 2 * 3600_000} for e in today[:10]]
    events.append(backfill)  # a venue's first poll: the last 24 h, stored after the newer events
    result = store.fold(events, ALL_LIVE, at(12, 11))
    assert result.events == len(backfill)
    everything = today + backfill
    yesterday = DAY_S - 86400
    minutes = reader(store).minutes("venues", yesterday, DAY_S + 86340)
    want = hand_venue_cells(everything)
    got = {m: {v: {s: c[:2] for s, c in sides.items()} for v, sides in b["x"].items()} for m, b in minutes.items()}
    assert {m: g for m, g in got.items() if g}.keys() == want.keys()
    for m, venues in want.items():
        for v, sides in venues.items():
            for s, cell in sides.items():
                assert got[m][v][s] == pytest.approx(cell[:2]), (m, v, s)


def test_the_first_fold_over_several_days_of_events_folds_every_minute_and_compacts_two_days(tmp_path):
    events, store = stores(tmp_path)
    days = {k: _shifted(sample(), k) for k in (-3, -2, -1, 0)}
    for rows in days.values():
        events.append(rows)
    first = store.fold(events, ALL_LIVE, at(12, 10))
    assert first.events == 160
    assert first.compacted == [(DAY - timedelta(days=3)).isoformat(), (DAY - timedelta(days=2)).isoformat()]
    # Yesterday can still be in a 24 h window: it is compacted a day and 15 minutes after it ends.
    assert store.fold(events, ALL_LIVE, at(12, 11)).compacted == []
    for k, rows in days.items():
        day_s = DAY_S + k * 86400
        total = reader(store).total("venues", day_s, day_s + 86340)
        usd, n = hand_total(rows, *EVER)
        assert bucket_usd(total) == pytest.approx(usd), k
        assert sum(c[1] for sides in total["x"].values() for c in sides.values()) == n


def test_a_day_is_compacted_once_it_ended_close_after_ago_with_the_same_sums_and_coverage(tmp_path):
    events, store = folded_sample(tmp_path)
    next_day = DAY_S + 86400
    assert store.fold(events, ALL_LIVE, next_day + 60).compacted == []  # covers the rest of the day
    assert store.fold(events, ALL_LIVE, next_day + CLOSE_AFTER - 1).compacted == []
    before = {t: reader(store).minutes(t, *WHOLE_DAY) for t in ("venues", "coins")}
    assert sum(1 for line in lines_of(store.path("venues", DAY)) if line["m"] == at(11, 58)) == 2
    assert store.fold(events, ALL_LIVE, next_day + CLOSE_AFTER).compacted == [DAY.isoformat()]
    for table in ("venues", "coins"):
        lines = lines_of(store.path(table, DAY))
        assert {line["seq"] for line in lines} == {0}
        assert max(Counter(line["m"] for line in lines).values()) == 1
        assert reader(store).minutes(table, *WHOLE_DAY) == before[table]
    assert len(before["venues"]) == 1440 - 8 * 60  # every venue live since 08:00: each minute since has one
    assert store.mark().compacted == DAY.isoformat()
    fresh = reader(store)
    assert fresh.day_total("venues", DAY) == fresh.total("venues", *WHOLE_DAY)


def test_a_late_event_for_a_compacted_day_is_a_new_delta_line_and_is_counted(tmp_path):
    events, store = folded_sample(tmp_path)
    store.fold(events, ALL_LIVE, DAY_S + 86400 + CLOSE_AFTER)
    before = _day_usd(store)
    late = {"exchange": "gate", "symbol": "BTC_USDT", "ts_ms": ms(23, 50), "side": "short"}
    late.update(qty=0.5, price=80000.0, usd=40000.0)
    events.append([late])
    store.fold(events, ALL_LIVE, DAY_S + 86400 + CLOSE_AFTER + 60)
    lines = lines_of(store.path("venues", DAY))
    delta = [line for line in lines if line["seq"] > 0]
    cell = [40000.0, 1, 40000.0, "BTC_USDT", ms(23, 50)]
    assert [(line["m"], line["x"]) for line in delta] == [(at(23, 50), {"gate": {"short": cell}})]
    assert _day_usd(store) == pytest.approx(before + 40000.0)
    assert bucket_usd(reader(store).day_total("venues", DAY)) == pytest.approx(before + 40000.0)


def _bytes(store, day=DAY) -> tuple[bytes, bytes]:
    return store.path("venues", day).read_bytes(), store.path("coins", day).read_bytes()


def test_rebuilding_a_day_twice_gives_the_same_bytes_and_the_hand_sums(tmp_path):
    events, store = folded_sample(tmp_path)
    covered = reader(store).minutes("venues", *WHOLE_DAY)
    assert len(covered) == (12 * 60 + 5) - 8 * 60 + 1  # 08:00 to 12:05, the last closed minute of the fold
    assert store.rebuild_day(events, DAY, now=at(12, 7)) == (40, len(covered))
    first = _bytes(store)
    store.rebuild_day(events, DAY, now=at(12, 8))
    assert _bytes(store) == first
    assert {line["seq"] for line in lines_of(store.path("venues", DAY))} == {0}
    assert _day_usd(store) == pytest.approx(hand_total(sample(), *EVER)[0])


def test_a_rebuild_keeps_the_coverage_and_a_new_event_minute_is_live_for_its_venues(tmp_path):
    events, store = folded_sample(tmp_path)
    before = reader(store).minutes("venues", *WHOLE_DAY)
    unfolded = {"exchange": "bitget", "symbol": "SOLUSDT", "ts_ms": ms(12, 30, 5), "side": "long"}
    unfolded.update(qty=1.0, price=170.0, usd=170.0)
    events.append([unfolded])
    store.rebuild_day(events, DAY, now=at(12, 31))
    after = reader(store).minutes("venues", *WHOLE_DAY)
    assert {m: b["live"] for m, b in after.items() if m != at(12, 30)} == {m: b["live"] for m, b in before.items()}
    assert after[at(12, 30)]["live"] == ["bitget"] and at(12, 30) not in before


def test_the_fold_after_a_rebuild_does_not_count_the_rebuilt_events_again(tmp_path):
    events, store = stores(tmp_path)
    rows = sample()
    events.append(rows[:20])
    store.fold(events, ALL_LIVE, at(12, 5))
    events.append(rows[20:])  # stored, not folded yet: the rebuild folds them
    store.rebuild_day(events, DAY, now=at(12, 5, 30))
    assert _day_usd(store) == pytest.approx(hand_total(rows, *EVER)[0])
    assert store.fold(events, ALL_LIVE, at(12, 6)).events == 0
    assert _day_usd(store) == pytest.approx(hand_total(rows, *EVER)[0])


def test_a_rebuild_after_a_crashed_fold_does_not_make_the_crash_count_twice(tmp_path):
    events, store = stores(tmp_path)
    yesterday, today = _shifted(sample(), -1), sample()
    events.append(yesterday[:20] + today[:20])
    store.fold(events, ALL_LIVE, at(12, 5))
    events.append(yesterday[20:] + today[20:])
    store.fold(events, ALL_LIVE, at(12, 6))
    _lose_last_commit(store)  # its delta lines for both days are on disk, uncommitted
    store.rebuild_day(events, DAY - timedelta(days=1), now=at(12, 6, 30))
    store.fold(events, ALL_LIVE, at(12, 7))
    assert _day_usd(store) == pytest.approx(hand_total(today, *EVER)[0])
    assert _day_usd(store, DAY_S - 86400) == pytest.approx(hand_total(yesterday, *EVER)[0])


def test_stored_since_returns_the_events_appended_after_the_fold_at_or_before_at(tmp_path):
    events, store = stores(tmp_path)
    rows = sample()
    events.append(rows[:20])
    store.fold(events, ALL_LIVE, at(12, 5))
    events.append(rows[20:30])
    store.fold(events, ALL_LIVE, at(12, 10))
    events.append(rows[30:])
    keys = lambda got: sorted((e["ts_ms"], e["symbol"]) for e in got)  # noqa: E731
    assert keys(store.stored_since(events, at(12, 5))) == keys(rows[20:])
    assert keys(store.stored_since(events, at(12, 9, 59))) == keys(rows[20:])
    assert keys(store.stored_since(events, at(12, 10))) == keys(rows[30:])
    assert keys(store.stored_since(events, at(13, 0))) == keys(rows[30:])


def test_stored_since_is_none_when_no_fold_is_that_old(tmp_path):
    events, store = stores(tmp_path)
    assert store.stored_since(events, at(12, 0)) is None  # no fold at all
    events.append(sample())
    store.fold(events, ALL_LIVE, at(12, 5))
    assert store.stored_since(events, at(12, 4, 59)) is None
    assert store.stored_since(events, at(12, 5)) == []


def test_stored_since_still_returns_what_a_later_rebuild_folded(tmp_path):
    """A rebuild moves the day's cursor past events appended after the last fold; a poll window that began
    after that fold must still find them (else it stores them twice)."""
    events, store = stores(tmp_path)
    rows = sample()
    events.append(rows[:20])
    store.fold(events, ALL_LIVE, at(12, 5))
    events.append(rows[20:])
    store.rebuild_day(events, DAY, now=at(12, 5, 40))
    got = store.stored_since(events, at(12, 5, 30))
    assert got is not None
    assert sorted(e["ts_ms"] for e in got) == sorted(e["ts_ms"] for e in rows[20:])
    assert store.stored_since(events, at(12, 5, 40)) == []  # nothing was stored after the rebuild
