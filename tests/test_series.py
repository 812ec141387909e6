"""series: query-time parsing, bucketing, statistics and gaps, tested without HTTP."""

from __future__ import annotations

import pytest

from liquidation.records import build_record
from liquidation.series import (
    bucket,
    csv_cell,
    flatten,
    gaps_follow_clock,
    history,
    missing_minutes,
    parse_time,
    select,
    stats,
)

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


# -- agg: how a bucket folds its records ------------------------------------------------------------


def full(ts: int, h1: float, **values) -> dict:
    base = {"hour_1_amount": h1, "panic_index": 0.05, "hour_24_amount": 9000, "total_position": 100}
    extra = {k: values.pop(k) for k in ("source_time", "lower_bound", "by_exchange", "source") if k in values}
    return build_record(ts, {**base, **values}, now=NOW, **extra)


HOUR = NOW - NOW % 3600 - 3600  # a whole clock hour before NOW


def test_agg_max_shows_a_one_minute_peak_that_last_hides():
    records = [full(HOUR + 60 * i, 500.0 if i == 17 else 10.0, panic_index=0.9 if i == 17 else 0.05) for i in range(60)]
    [last] = bucket(records, 3600, "last")
    [peak] = bucket(records, 3600, "max")
    assert (last["hour_1_amount"], last["panic_index"]) == (10.0, 0.05)
    assert (peak["hour_1_amount"], peak["panic_index"]) == (500.0, 0.9)
    assert last["max_hour_1_amount"] == peak["max_hour_1_amount"] == 500.0
    assert (peak["count"], peak["agg"], last["count"], last["agg"]) == (60, "max", 60, "last")


def test_agg_mean_is_the_mean_rounded_to_6_decimals():
    records = [full(HOUR + 60 * i, h1, panic_index=p) for i, (h1, p) in enumerate([(1, 0.1), (2, 0.2), (4, 0.2)])]
    [b] = bucket(records, 3600, "mean")
    assert b["hour_1_amount"] == round(7 / 3, 6) == 2.333333
    assert b["panic_index"] == pytest.approx(0.166667, abs=1e-9)
    assert b["max_hour_1_amount"] == 4
    assert (b["count"], b["agg"]) == (3, "mean")


def test_agg_max_takes_each_numeric_fields_own_max_and_keeps_the_rest_from_the_last_record():
    first = full(
        HOUR + 60,
        5,
        hour_24_amount=8000,
        total_position=120,
        hour_1_long=40,
        hour_1_short=1,
        hour_24_long=7,
        hour_24_short=1,
        source_time=HOUR + 50,
        lower_bound=True,
        by_exchange={"binance": {"hour_1": 99.0}},
        source="exchanges",
    )
    second = full(
        HOUR + 120,
        9,
        panic_index=0.01,
        hour_24_amount=7000,
        total_position=110,
        hour_1_long=2,
        hour_1_short=30,
        hour_24_long=1,
        hour_24_short=6,
        source_time=HOUR + 100,
        lower_bound=False,
        by_exchange={"binance": {"hour_1": 1.0}},
        source="exchanges",
    )
    [b] = bucket([first, second], 3600, "max")
    assert b["hour_1_amount"] == 9
    assert b["panic_index"] == 0.05
    assert b["hour_24_amount"] == 8000
    assert b["total_position"] == 120
    assert (b["hour_1_long"], b["hour_1_short"], b["hour_24_long"], b["hour_24_short"]) == (40, 30, 7, 6)
    # times, nested and non-numeric fields are the last record's; a bool is not a number
    assert (b["timestamp"], b["datetime"], b["source_time"]) == (HOUR + 120, second["datetime"], HOUR + 100)
    assert b["lower_bound"] is False
    assert b["by_exchange"] == {"binance": {"hour_1": 1.0}}


def test_bucket_refuses_an_unknown_agg():
    with pytest.raises(ValueError, match="agg"):
        list(bucket([rec(HOUR, 1)], 3600, "median"))


# -- gaps of a history answer ---------------------------------------------------------------------------

MIN = NOW // 60  # the current minute (NOW is 30 s into it)


def fill(store, minutes) -> None:
    for m in minutes:
        store.append(rec(m * 60 + 2, float(m % 100)), now=NOW)


def test_history_gaps_list_exactly_the_missing_minutes_of_the_range(store):
    fill(store, [m for m in range(MIN - 30, MIN - 5) if m not in (MIN - 20, MIN - 19, MIN - 12)])
    records, gaps = history(store, (MIN - 30) * 60, (MIN - 6) * 60 + 59, 1440, "1m", "max", NOW)
    assert len(records) == 22
    assert gaps == [[(MIN - 20) * 60, (MIN - 19) * 60], [(MIN - 12) * 60, (MIN - 12) * 60]]


def test_history_gaps_are_empty_for_a_full_range_and_lead_when_start_is_before_the_first_record(store):
    fill(store, range(MIN - 30, MIN - 5))
    assert history(store, (MIN - 30) * 60, (MIN - 6) * 60 + 59, 1440, "1m", "max", NOW)[1] == []
    assert history(store, None, None, 1440, "1m", "max", NOW)[1] == [[(MIN - 5) * 60, (MIN - 1) * 60]]
    _, gaps = history(store, (MIN - 40) * 60, (MIN - 6) * 60 + 59, 1440, "1m", "max", NOW)
    assert gaps == [[(MIN - 40) * 60, (MIN - 31) * 60]]


def test_history_gaps_never_include_the_future_or_a_current_minute_without_its_record(store):
    fill(store, range(MIN - 10, MIN))  # up to the minute before the current one
    assert history(store, (MIN - 10) * 60, NOW + 3600, 1440, "1m", "max", NOW)[1] == []
    store.append(rec(NOW + 300, 1.0), now=NOW)  # a record from the future (a clock jump) changes nothing
    assert history(store, (MIN - 10) * 60, None, 1440, "1m", "max", NOW)[1] == []
    # the current minute once it has a record, and the range's partial first and last minutes, are no gaps
    assert history(store, (MIN - 10) * 60 - 30, MIN * 60 + 1, 1440, "1m", "max", NOW)[1] == []


def test_history_gaps_are_empty_without_records_and_start(store):
    assert history(store, None, None, 1440, "1m", "max", NOW) == ([], [])
    assert history(store, None, None, 24, "1h", "max", NOW) == ([], [])
    assert history(store, (MIN - 2) * 60, None, 1440, "1m", "max", NOW) == ([], [[(MIN - 2) * 60, (MIN - 1) * 60]])


def test_history_gaps_of_a_1m_answer_cut_by_limit_start_at_its_first_record(store):
    fill(store, [m for m in range(MIN - 30, MIN + 1) if m != MIN - 3])
    records, gaps = history(store, (MIN - 40) * 60, None, 5, "1m", "max", NOW)
    assert [r["timestamp"] // 60 for r in records] == [MIN - 5, MIN - 4, MIN - 2, MIN - 1, MIN]
    assert gaps == [[(MIN - 3) * 60, (MIN - 3) * 60]]
    # exactly `limit` records from start: not cut, so the leading gap is there
    records, gaps = history(store, (MIN - 32) * 60, (MIN - 26) * 60 + 59, 5, "1m", "max", NOW)
    assert len(records) == 5
    assert gaps == [[(MIN - 32) * 60, (MIN - 31) * 60]]


def test_history_gaps_of_hourly_buckets_come_from_the_records_folded_into_them(store):
    first = HOUR // 60 - 60  # two clock hours before NOW's hour, then NOW's hour up to MIN
    fill(store, [m for m in range(first + 5, MIN + 1) if not first + 70 <= m < first + 73])
    buckets, gaps = history(store, None, None, 24, "1h", "max", NOW)
    assert [b["count"] for b in buckets] == [55, 57, MIN - NOW // 3600 * 60 + 1]
    # from the first bucket's start, not from the first record
    assert gaps == [[first * 60, (first + 4) * 60], [(first + 70) * 60, (first + 72) * 60]]
    _, with_start = history(store, (first - 10) * 60, None, 24, "1h", "max", NOW)
    assert with_start == [[(first - 10) * 60, (first + 4) * 60], [(first + 70) * 60, (first + 72) * 60]]


def test_history_gaps_survive_the_full_scan_fallback_of_an_unsorted_file(store):
    from liquidation.records import to_line

    order = [MIN - 9, MIN - 8, MIN - 6, MIN - 4, MIN - 5, MIN - 3, MIN - 2, MIN - 1]  # -4 before -5
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_bytes(b"".join(to_line(rec(m * 60, 1.0)) for m in order))
    buckets, gaps = history(store, (MIN - 9) * 60, None, 100, "5m", "max", NOW)
    assert sum(b["count"] for b in buckets) == 8
    assert gaps == [[(MIN - 7) * 60, (MIN - 7) * 60]]


def test_gaps_follow_the_clock_only_for_windows_reaching_the_current_minute():
    assert gaps_follow_clock(None, NOW)
    assert gaps_follow_clock(MIN * 60 + 59, NOW)
    assert not gaps_follow_clock(MIN * 60 + 58, NOW)  # its last whole minute is the previous one
    assert not gaps_follow_clock(NOW - 600, NOW)


def test_bucket_without_agg_keeps_the_shape_exports_had():
    [b] = bucket([rec(HOUR, 3), rec(HOUR + 60, 2)], 3600)
    assert (b["hour_1_amount"], b["max_hour_1_amount"]) == (2, 3)
    assert "count" not in b and "agg" not in b
