"""The line format: legacy lines parse, numbers are validated strictly, NaN never gets in."""

from __future__ import annotations

import json

import pytest

from liquidation.records import (
    RecordError,
    beijing_datetime,
    build_record,
    parse_line,
    parse_number,
    to_line,
)

LEGACY = (
    '{"timestamp": 1768583851, "datetime": "2026-01-17 01:17:31", "hour_1_amount": 397.14, '
    '"panic_index": 0.0761, "hour_24_amount": 13583.0, "total_position": 104.72}\n'
)
VALUES = {"hour_1_amount": 397.14, "panic_index": 0.0761, "hour_24_amount": 13583.0, "total_position": 104.72}


def test_legacy_line_parses_and_encodes_back_byte_for_byte():
    record = parse_line(LEGACY)
    assert record == json.loads(LEGACY)
    assert to_line(record).decode() == LEGACY


def test_datetime_is_beijing_time_of_the_utc_timestamp():
    assert beijing_datetime(1768583851) == "2026-01-17 01:17:31"
    assert beijing_datetime(0) == "1970-01-01 08:00:00"


def test_build_record_puts_fields_in_legacy_order_then_extras():
    record = build_record(1768583851, {**VALUES, "hour_1_long": "12.5"}, source="panic-api", source_time=None)
    assert list(record) == [
        "timestamp",
        "datetime",
        "hour_1_amount",
        "panic_index",
        "hour_24_amount",
        "total_position",
        "hour_1_long",
        "source",
    ]
    assert record["hour_1_long"] == 12.5
    assert "source_time" not in record  # None values are dropped


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "expected a number"),
        (None, "expected a number"),
        ("NaN", "not a plain"),
        ("nan", "not a plain"),
        ("Infinity", "not a plain"),
        ("inf", "not a plain"),
        ("1e309", "not a finite"),
        (float("nan"), "not a finite"),
        (float("inf"), "not a finite"),
        (-1, "negative"),
        ("-1", "not a plain"),
        ("1_000", "not a plain"),
        (" 12 ", "not a plain"),
        ("１２", "not a plain"),
        ("0x10", "not a plain"),
        ([1], "expected a number"),
        (10**400, "not a finite"),
    ],
)
def test_parse_number_rejects_what_float_would_accept(value, message):
    with pytest.raises(RecordError, match=message) as e:
        parse_number(value, "hour_1_amount")
    assert "hour_1_amount" in str(e.value)


@pytest.mark.parametrize(("text", "expected"), [("397.14", 397.14), ("0", 0.0), ("1.0472e2", 104.72), (7, 7.0)])
def test_parse_number_accepts_plain_and_exponent_notation(text, expected):
    assert parse_number(text, "x") == expected


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("\n", "blank"),
        ("{not json\n", "invalid JSON"),
        ("[1, 2]\n", "not a JSON object"),
        ('"text"\n', "not a JSON object"),
        (
            '{"timestamp": 1768583851, "hour_1_amount": 1, "panic_index": 1, "hour_24_amount": 1}\n',
            "total_position: missing",
        ),
        (
            '{"timestamp": "x", "hour_1_amount": 1, "panic_index": 1, "hour_24_amount": 1, "total_position": 1}',
            "timestamp",
        ),
        (
            '{"timestamp": 1e20, "hour_1_amount": 1, "panic_index": 1, "hour_24_amount": 1, "total_position": 1}',
            "timestamp",
        ),
        (
            '{"timestamp": 1768583851, "hour_1_amount": NaN, '
            '"panic_index": 1, "hour_24_amount": 1, "total_position": 1}',
            "NaN",
        ),
        (
            '{"timestamp": 1768583851, "hour_1_amount": 1e999, '
            '"panic_index": 1, "hour_24_amount": 1, "total_position": 1}',
            "range",
        ),
        (
            '{"timestamp": 1768583851, "hour_1_amount": "5", '
            '"panic_index": 1, "hour_24_amount": 1, "total_position": 1}',
            "number",
        ),
        (
            '{"timestamp": 1768583851, "hour_1_amount": 1, '
            '"panic_index": 1, "hour_24_amount": 1, "total_position": -1}',
            "negative",
        ),
        (
            '{"timestamp": 1768583851, "hour_1_amount": 1, "panic_index": 1, "hour_24_amount": 1, "total_position": 1, '
            '"by_exchange": {"x": {"hour_1": Infinity}}}',
            "Infinity",
        ),
    ],
)
def test_parse_line_rejects_bad_lines_with_a_reason(line, reason):
    with pytest.raises(RecordError, match=reason):
        parse_line(line)


def test_unknown_fields_are_kept_and_optional_fields_not_required():
    line = LEGACY.replace("}\n", ', "future_field": {"a": [1, 2]}, "source": "exchanges"}\n')
    record = parse_line(line)
    assert record["future_field"] == {"a": [1, 2]}
    assert to_line(record).decode() == line


def test_missing_datetime_is_recomputed_from_timestamp():
    record = parse_line(
        '{"timestamp": 1768583851, "hour_1_amount": 1, "panic_index": 0, "hour_24_amount": 2, "total_position": 3}'
    )
    assert record["datetime"] == "2026-01-17 01:17:31"


def test_to_line_refuses_nan_anywhere():
    record = build_record(1768583851, VALUES)
    record["by_exchange"] = {"binance": {"hour_1": float("nan")}}
    with pytest.raises(RecordError, match="non-finite"):
        to_line(record)


def test_build_record_names_the_missing_field():
    with pytest.raises(RecordError, match="panic_index: missing"):
        build_record(1768583851, {k: v for k, v in VALUES.items() if k != "panic_index"})
