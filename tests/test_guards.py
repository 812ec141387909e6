"""Plausibility guards: an implausible figure names its venue in ``coverage.suspect`` and that venue is
left out of the minute's totals, which stay a lower bound."""

from __future__ import annotations

import json

import pytest
import time_machine

from liquidation import guards
from liquidation.exchanges import ExchangesSource
from tests.exchangetools import EXPECTED_OI, NOW, collect, stream_state
from tests.upstream_server import Reply


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_one_symbols_open_interest_over_200_billion_is_suspect():
    assert guards.symbol_oi("okx", "BTC-USDT-SWAP", 1.5e10) == 1.5e10
    with pytest.raises(guards.Suspect, match="BTC-USDT-SWAP"):
        guards.symbol_oi("okx", "BTC-USDT-SWAP", 2.1e11)


def test_open_interest_moving_more_than_five_fold_in_a_minute_is_suspect():
    got = guards.oi_changes({"okx": 6e10, "bybit": 1.2e10, "gate": 1e9}, {"okx": 1e10, "bybit": 1e10})
    assert set(got) == {"okx"} and "6.0×" in got["okx"]
    assert guards.oi_changes({"okx": 1e9}, {"okx": 6e9}) != {}  # a fall counts too


def test_an_hour_over_20_billion_is_suspect():
    assert set(guards.hour_sums({"a": {"hour_1": 2.5e10}, "b": {"hour_1": 1e9}})) == {"a"}


def test_a_growing_count_of_implausible_orders_makes_a_streamed_venue_suspect():
    venues_status = {"binance": {"skipped": {"implausible": 3}}, "okx": {"skipped": {"implausible": 1}}}
    suspect, counts = guards.implausible_skips(venues_status, {"binance": 2, "okx": 1})
    assert set(suspect) == {"binance"} and counts == {"binance": 3, "okx": 1}


def test_a_suspect_venue_is_named_and_left_out_of_the_totals(tmp_path, venues, upstream):
    huge = {"code": "0", "msg": "", "data": [{"instId": "BTC-USDT-SWAP", "oiUsd": "300000000000"}]}
    upstream.route_fn("/api/v5/public/open-interest", lambda q, b: Reply(200, json.dumps(huge).encode()))
    stream_state(tmp_path, {"binance": NOW - 30 * 3600, "bybit": None, "okx": NOW - 1800})
    reading = collect(ExchangesSource(tmp_path, urls=venues, pace=0))
    coverage = reading.extra["coverage"]
    assert "BTC-USDT-SWAP" in coverage["suspect"]["okx"]
    expected = sum(usd for venue, usd in EXPECTED_OI.items() if venue != "okx")
    assert reading.values["total_position"] == round(expected / 1e8, 4)
    assert "okx" not in reading.extra["by_exchange"]  # its 2,000 USD liquidation is not summed either
    assert reading.values["hour_1_amount"] == round((205.44 + 24783.15 + 10000) / 1e4, 2)


def test_open_interest_that_jumps_five_fold_between_minutes_is_left_out_that_minute(tmp_path, venues):
    stream_state(tmp_path, {"binance": NOW - 30 * 3600, "bybit": None, "okx": NOW - 1800})
    source = ExchangesSource(tmp_path, urls=venues, pace=0)
    collect(source)
    state = json.loads((tmp_path / "pollers.json").read_text())
    state["oi_usd"]["gate"] *= 10  # as if the last minute had read ten times more
    (tmp_path / "pollers.json").write_text(json.dumps(state))
    coverage = collect(source).extra["coverage"]
    assert set(coverage["suspect"]) == {"gate"}
    assert collect(source).extra["coverage"]["suspect"] == {}  # the next minute compares with this one


def test_metrics_count_the_suspect_venues_of_the_newest_record(liq_settings, store):
    from django.test import Client

    from liquidation.records import build_record

    values = {"hour_1_amount": 1, "panic_index": 0.01, "hour_24_amount": 2, "total_position": 3}
    store.append(build_record(NOW, values, now=NOW, coverage={"suspect": {"okx": "BTC-USDT-SWAP open interest"}}))
    body = Client().get("/metrics").content.decode()
    assert 'liqsite_suspect_venue{exchange="okx"} 1.0' in body
