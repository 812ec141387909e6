"""BucketReader's warm-up: a web worker reads the day files once at start, not in a visitor's request."""

from __future__ import annotations

import logging

from liquidation import depth
from liquidation.bucketread import BucketReader, warm_in_background
from liquidation.bucketstore import BucketStore
from tests.buckettools import DAY, at, folded_sample, reader


def _cached_tables(r: BucketReader) -> set[tuple[str, object]]:
    return {(table, day) for (_, table, day) in r._days}


def test_warm_reads_both_tables_of_the_window_and_the_one_before(tmp_path):
    _, store = folded_sample(tmp_path)
    r = reader(store)
    r.warm(at(12, 7))
    assert {("venues", DAY), ("coins", DAY)} <= _cached_tables(r)


def test_a_warmed_reader_answers_the_same_summary_as_a_cold_one(tmp_path):
    _, store = folded_sample(tmp_path)
    warmed = reader(store)
    warmed.warm(at(12, 7))
    now = at(12, 7)
    assert depth.summary(warmed, "24h", now, depth.Filters()) == depth.summary(
        reader(store), "24h", now, depth.Filters()
    )


def test_warm_without_any_fold_reads_nothing(tmp_path):
    r = reader(BucketStore(tmp_path / "buckets"))
    r.warm(at(12, 7))
    assert r._days == {}


def test_a_failing_warm_up_is_logged_and_raises_nothing(tmp_path, caplog, monkeypatch):
    _, store = folded_sample(tmp_path)

    def broken(self, now):
        raise OSError("disk gone")

    monkeypatch.setattr(BucketReader, "warm", broken)
    with caplog.at_level(logging.ERROR, logger="liquidation.bucketread"):
        warm_in_background(store).join(timeout=10)
    assert "requests will read cold" in caplog.text
