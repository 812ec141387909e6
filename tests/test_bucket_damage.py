"""Damaged bucket files never fail a read or a fold: lines of the wrong shape, a file rewritten in place,
a recorded day total that is not one."""

from __future__ import annotations

import json
import logging

import pytest

from liquidation.bucketlines import day_start
from liquidation.bucketstore import CLOSE_AFTER
from tests.buckettools import DAY, at, bucket_usd, folded_sample, hand_total, reader, sample

WHOLE_DAY = (day_start(DAY), day_start(DAY) + 86340)
EVER = (0, 2**62)
WRONG_SHAPES = [
    {"x": {"binance": {"long": "oops"}}},
    {"x": {"binance": {"long": [1.0]}}},
    {"x": ["not", "a", "dict"]},
    {"live": 5},
    {"c": {"BTC": {"okx": [None, 1, 0, 0, 0, "long", "BTCUSDT", 0]}}},
]


@pytest.mark.parametrize("damage", WRONG_SHAPES, ids=[json.dumps(d)[:30] for d in WRONG_SHAPES])
def test_a_line_of_the_wrong_shape_is_left_out_and_the_rest_of_its_minute_counts(tmp_path, caplog, damage):
    _, store = folded_sample(tmp_path)
    want = hand_total(sample(), *EVER)[0]
    table = "coins" if "c" in damage else "venues"
    minute = at(10, 0)
    with store.path(table, DAY).open("ab") as f:
        f.write(json.dumps({"m": minute, "seq": 1, **damage}).encode() + b"\n")
    with caplog.at_level(logging.WARNING):
        total = reader(store).total(table, *WHOLE_DAY)
        minutes = reader(store).minutes(table, minute, minute)
    if table == "venues":
        assert bucket_usd(total) == pytest.approx(want)
    assert minute in minutes
    assert "of the wrong shape left out" in caplog.text


def test_a_compaction_leaves_a_line_of_the_wrong_shape_out_instead_of_failing_the_fold(tmp_path):
    events, store = folded_sample(tmp_path)
    with store.path("venues", DAY).open("ab") as f:
        f.write(json.dumps({"m": at(10, 0), "seq": 1, "x": {"okx": {"long": "oops"}}}).encode() + b"\n")
    result = store.fold(events, {}, day_start(DAY) + 86400 + CLOSE_AFTER)  # the day is closed: compacted
    assert str(DAY) in result.compacted
    assert bucket_usd(reader(store).total("venues", *WHOLE_DAY)) == pytest.approx(hand_total(sample(), *EVER)[0])


def test_a_file_rewritten_in_place_and_grown_is_read_again_not_taken_as_an_append(tmp_path):
    _, store = folded_sample(tmp_path)
    r = reader(store)
    before = bucket_usd(r.total("venues", *WHOLE_DAY))
    path = store.path("venues", DAY)
    lines = path.read_bytes().splitlines(keepends=True)
    doubled = b"".join(lines) * 2  # every delta line twice: same seq, the later wins, so the same sums
    first = json.loads(lines[0])
    first["x"] = {"okx": {"long": [1_000_000.0, 1, 1_000_000.0, "BTC-USDT-SWAP", first["m"] * 1000]}}
    first["seq"] = 0
    with path.open("r+b") as f:  # the same inode, a different beginning, a bigger file
        f.write(json.dumps(first).encode() + b"\n" + doubled)
    assert bucket_usd(r.total("venues", *WHOLE_DAY)) == pytest.approx(before + 1_000_000.0)


def test_a_recorded_day_total_of_the_wrong_shape_is_recomputed_from_the_minutes(tmp_path):
    events, store = folded_sample(tmp_path)
    store.fold(events, {}, day_start(DAY) + 86400 + CLOSE_AFTER)  # compacts the day and records its total
    path = store.totals_path("venues", DAY)
    entry = json.loads(path.read_bytes().splitlines()[-1])
    entry["t"] = {"n": 3, "lv": {}, "x": {"okx": {"long": "oops"}}, "c": {}}
    with path.open("ab") as f:
        f.write(json.dumps(entry).encode() + b"\n")
    total = reader(store).day_total("venues", DAY)
    assert bucket_usd(total) == pytest.approx(hand_total(sample(), *EVER)[0])
