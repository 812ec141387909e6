"""series: query-time parsing, bucketing, statistics and gaps, tested without HTTP."""

from __future__ import annotations

import pytest

from liquidation.records import build_record
from liquidation.series import bucket, csv_cell, flatten, missing_minutes, parse_time, select, stats

NOW = 1795600830  # 2026-11-25 18:00:30 Beijing time (10:00:30 UTC)


def rec(ts: int, h1: float, panic: float = 0.05) -> dict:
    return build_record(ts, {"hour_1_amount": h1, "panic_index": panic, "hour_24_amount": 9000, "total_position": 100})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1768583851", 1768583851),
        ("1768583851.9", 1768583851),
        ("1768583851000", 1768583851),  # >= 1e11: milliseconds
        ("1768583851999", 1768583851),
        ("2026-01-17 01:17:31", 1768583851),  # Beijing time
        ("2026-01-17 01:17", 1768583820),
        ("2026-01-17T01:17:31", 1768583851),  # ISO without offset: Beijing time
        ("2026-01-17T01:17:31+08:00", 1768583851),
        ("2026-01-16T17:17:31Z", 1768583851),
        ("2026-01-16T17:17:31.250+00:00", 1768583851),
        (" 1768583851 ", 1768583851),
    ],
)
def test_parse_time_accepts_every_documented_format(text, expected):
    assert parse_time(text, now=NOW) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nan",
        "inf",
        "-1",
        "1e20",
        "0x10",
        "yesterday",
        "2026-13-01 00:00",
        "2026-01-17 25:00",
        "\x00",
        "9" * 400,
        "１７６８５８３８５１",
        "1768583851 1768583851",
    ],
)
def test_parse_time_rejects_malformed_input_with_the_accepted_formats(text):
    with pytest.raises(ValueError, match="expected Unix seconds, Unix ms, ISO 8601"):
        parse_time(text, now=NOW)


@pytest.mark.parametrize("text", ["1230767999", "2008-12-31 23:59:59+00:00", str(NOW + 86401), "99999999999999"])
def test_parse_time_rejects_times_outside_2009_to_tomorrow(text):
    with pytest.raises(ValueError, match="out of range"):
        parse_time(text, now=NOW)


def test_bucket_keeps_the_last_values_and_the_peak():
    b0 = 1768579200  # an hour's start
    records = [rec(b0 + 600, 5), rec(b0 + 660, 9), rec(b0 + 720, 7), rec(b0 + 900, 1), rec(b0 + 960, 2)]
    out = list(bucket(records, 300))
    got = [(b["timestamp"] - b0, b["hour_1_amount"], b["max_hour_1_amount"]) for b in out]
    assert got == [(720, 7, 9), (960, 2, 2)]


def test_bucket_does_not_invent_empty_buckets():
    out = list(bucket([rec(1768579200, 1), rec(1768579200 + 3600 * 5, 2)], 3600))
    assert len(out) == 2


def test_select_limits_bucketed_series_to_limit_points(store):
    base = NOW - NOW % 3600 - 6 * 3600
    for i in range(6 * 60):
        store.append(rec(base + 60 * i, float(i)))
    out = select(store, None, None, limit=4, interval="1h")
    assert len(out) == 4
    assert out[-1]["hour_1_amount"] == 359
    assert out[-1]["max_hour_1_amount"] == 359
    assert [b["timestamp"] % 3600 for b in out] == [3540] * 4
    assert len(select(store, None, None, limit=10, interval="1m")) == 10
    assert select(store, base + 3600, base + 7199, limit=100, interval="15m")[0]["timestamp"] == base + 3600 + 840


def test_missing_minutes_as_inclusive_ranges():
    present = [m * 60 for m in (10, 11, 14, 15, 19)]
    assert missing_minutes(present, 10, 21) == [[12 * 60, 13 * 60], [16 * 60, 18 * 60], [20 * 60, 21 * 60]]
    assert missing_minutes([], 3, 3) == [[180, 180]]
    assert missing_minutes(present, 14, 15) == []


def test_stats_over_a_window_with_a_gap():
    minute = NOW // 60
    records = [
        rec((minute - 119 + i) * 60 + 2, h1=float(i % 50), panic=0.01 * (i % 7)) for i in range(120) if not 30 <= i < 35
    ]
    s = stats(records, hours=2, now=NOW)
    assert s["count"] == 115
    assert s["expected"] == 120
    assert s["coverage"] == round(115 / 120, 4)
    assert s["gaps"] == [[(minute - 89) * 60, (minute - 85) * 60]]
    assert s["missing_minutes"] == 5
    assert s["hour_1_amount"]["max"] == 49
    assert s["hour_1_amount"]["min"] == 0
    assert s["hour_1_amount"]["latest"] == 119 % 50
    # latest (i=119, 19) minus 60 minutes earlier (i=59, 9)
    assert s["change_1h"] == 10
    assert s["panic_index"]["max"] == pytest.approx(0.06)
    assert s["latest"]["time"].endswith("+08:00")


def test_stats_change_1h_is_null_when_that_minute_is_missing():
    minute = NOW // 60
    records = [rec((minute - 61) * 60, 1.0), rec(minute * 60, 3.0)]
    assert stats(records, hours=2, now=NOW)["change_1h"] is None
    records = [rec((minute - 60) * 60, 1.0), rec(minute * 60, 3.0)]
    assert stats(records, hours=2, now=NOW)["change_1h"] == 2.0


def test_stats_does_not_count_the_current_minute_as_missing_before_its_collection():
    minute = NOW // 60
    records = [rec((minute - i) * 60, 1.0) for i in range(59, 0, -1)]  # all but the current minute
    assert stats(records, hours=1, now=NOW)["gaps"] == []


def test_stats_of_nothing():
    s = stats([], hours=1, now=NOW)
    assert s["count"] == 0
    assert s["hour_1_amount"]["avg"] is None
    assert s["latest"] is None
    assert s["change_1h"] is None


def test_flatten_and_csv_cells():
    record = {"a": 1, "by_exchange": {"binance": {"hour_1": 2.5}}, "coverage": {"venues": ["okx"]}, "ok": True}
    assert dict(flatten(record)) == {"a": 1, "by_exchange.binance.hour_1": 2.5, "coverage.venues": ["okx"], "ok": True}
    assert [csv_cell(v) for v in (1, 2.5, "x", None, True, ["okx"])] == ["1", "2.5", "x", "", "true", '["okx"]']


def test_stats_change_1h_works_for_a_one_hour_window():
    minute = NOW // 60
    records = [rec((minute - 119 + i) * 60, float(i)) for i in range(120)]
    s = stats(records, hours=1, now=NOW)
    assert s["change_1h"] == 60
    assert s["count"] + s["missing_minutes"] == s["expected"]
