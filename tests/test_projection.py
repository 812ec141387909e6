"""projection.parse_fields and project: the parts of a record a client asks for."""

from __future__ import annotations

import pytest

from liquidation.projection import FieldsError, parse_fields, project

RECORD = {
    "timestamp": 1796090401,
    "datetime": "2026-12-01 10:00:01",
    "hour_1_amount": 7.0,
    "by_exchange": {"binance": {"hour_1": 5.0, "hour_24": 50.0}, "okx": {"hour_1": 2.0}, "odd": 3},
    "coverage": {"venues": ["binance"]},
}


def test_a_top_level_field_and_a_part_of_each_venue_in_the_records_order():
    got = project(RECORD, parse_fields("by_exchange.hour_1, hour_1_amount"))
    assert list(got) == ["timestamp", "hour_1_amount", "by_exchange"]
    assert got["by_exchange"] == {"binance": {"hour_1": 5.0}, "okx": {"hour_1": 2.0}, "odd": 3}


def test_a_field_the_record_lacks_is_left_out_not_invented():
    assert project(RECORD, parse_fields("prices,hour_1_amount")) == {"timestamp": 1796090401, "hour_1_amount": 7.0}


def test_the_whole_field_wins_over_its_parts_in_either_order():
    for text in ("by_exchange.hour_1,by_exchange", "by_exchange,by_exchange.hour_1"):
        assert project(RECORD, parse_fields(text))["by_exchange"] == RECORD["by_exchange"]


@pytest.mark.parametrize("text", ["", " , ", "A", "a.b.c", "1a", "a b", ",".join(f"f{i}" for i in range(31))])
def test_what_is_not_a_list_of_paths_is_refused_with_what_to_write(text):
    with pytest.raises(FieldsError):
        parse_fields(text)
