"""Normalizing exchange frames: sides, USD values, and every kind of bad frame skipped and counted."""

from __future__ import annotations

import json

import pytest

from liquidation.events import event_key
from liquidation.venues.binance import BinanceContract, parse_binance
from liquidation.venues.bybit import parse_bybit
from liquidation.venues.okx import parse_okx, parse_okx_instruments

NOW_MS = 1791565610000  # a few seconds after the recorded 2026-10-09 frames


def lines(fixture_path, name):
    return fixture_path(name).read_text().splitlines()


@pytest.fixture
def okx_contracts(fixture_path):
    contracts = parse_okx_instruments(json.loads(fixture_path("upstream/okx/instruments-swap.json").read_text()))
    contracts.update(
        parse_okx_instruments(json.loads(fixture_path("upstream/okx/instruments-futures.json").read_text()))
    )
    return contracts


def test_binance_sell_closes_a_long_counted_once_when_filled_at_z_times_ap(fixture_path):
    frames = [
        parse_binance(f, now_ms=NOW_MS)
        for f in lines(fixture_path, "upstream/binance/forceOrder-combined-frames.jsonl")
    ]
    events = [e for p in frames for e in p.events]
    assert events[0] == {
        "exchange": "binance",
        "symbol": "BTCUSDT",
        "ts_ms": 1791565602120,
        "side": "long",
        "qty": 0.19,
        "price": 82651.9,
        "usd": pytest.approx(15703.861),
    }
    assert (events[1]["symbol"], events[1]["side"], events[1]["usd"]) == (
        "ETHUSDT",
        "short",
        pytest.approx(3.512 * 2433.05),
    )
    assert len(events) == 2
    assert frames[2].skipped == {"not_filled": 1}
    assert frames[3].skipped == {"missing_field": 1}


def test_binance_raw_payload_and_subscribe_answer(fixture_path):
    raw = fixture_path("upstream/binance/forceOrder-raw.json").read_text()
    # The documented (2019) shape carries no "st": the contract metadata says what z counts.
    assert parse_binance(raw, now_ms=1568014460893 + 1000).skipped == {"unknown_contract": 1}
    usdm = {"BTCUSDT": BinanceContract(coin_margined=False)}
    parsed = parse_binance(raw, now_ms=1568014460893 + 1000, contracts=usdm)
    assert parsed.events[0]["usd"] == pytest.approx(0.014 * 9910)
    assert parse_binance('{"result": null, "id": 1}').control


def test_bybit_buy_means_a_long_was_liquidated(fixture_path):
    frames = lines(fixture_path, "upstream/bybit/allLiquidation-linear-frames.jsonl")
    parsed = [parse_bybit(f, inverse=False, now_ms=NOW_MS) for f in frames]
    assert parsed[0].control and parsed[1].control
    assert parsed[2].skipped == {"too_old": 1}  # the 2025 docs example, older than 25 h
    btc = parsed[3].events
    assert [(e["side"], e["qty"], e["price"]) for e in btc] == [("long", 0.006, 82396.9), ("long", 0.038, 82394.3)]
    assert btc[0]["usd"] == pytest.approx(0.006 * 82396.9)
    assert parsed[4].events[0]["side"] == "short"
    assert parsed[5].skipped == {"bad_number": 1}
    assert parsed[6].skipped == {"unknown_event": 1}
    assert not parsed[6].events  # publicTrade has the same item keys: the topic decides


def test_bybit_inverse_size_is_already_usd():
    frame = json.dumps(
        {
            "topic": "allLiquidation.BTCUSD",
            "type": "snapshot",
            "ts": NOW_MS,
            "data": [{"T": NOW_MS - 5, "s": "BTCUSD", "S": "Sell", "v": "2500", "p": "82000"}],
        }
    )
    event = parse_bybit(frame, inverse=True, now_ms=NOW_MS).events[0]
    assert (event["side"], event["usd"]) == ("short", 2500)


def test_okx_sides_and_contract_values(fixture_path, okx_contracts):
    frames = lines(fixture_path, "upstream/okx/liquidation-orders-frames.jsonl")
    parsed = [parse_okx(f, okx_contracts, now_ms=NOW_MS) for f in frames]
    assert parsed[0].control
    assert parsed[1].skipped == {"too_old": 1}  # the 2023 docs example
    linear = parsed[2].events[0]
    assert (linear["side"], linear["qty"], linear["usd"]) == (
        "long",
        pytest.approx(0.0855),
        pytest.approx(8.55 * 0.01 * 82655.7),
    )
    inverse = parsed[3].events[0]
    assert inverse["side"] == "long"  # posSide net, order side sell: a long was closed
    assert inverse["usd"] == pytest.approx(25 * 100)
    assert parsed[4].error.startswith("60012")
    assert parsed[4].skipped == {"error_envelope": 1}
    assert parse_okx("pong", okx_contracts).control


def test_okx_docs_example_converts_with_its_contract_value(fixture_path, okx_contracts):
    frame = fixture_path("upstream/okx/liquidation-orders-frames.jsonl").read_text().splitlines()[1]
    event = parse_okx(frame, okx_contracts, now_ms=1692266434010 + 1000).events[0]
    assert (event["side"], event["usd"]) == ("short", pytest.approx(13 * 1000 * 0.007831))


def test_okx_symbol_without_contract_value_is_skipped(okx_contracts):
    frame = json.dumps(
        {
            "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
            "data": [
                {
                    "instId": "NEW-USDT-SWAP",
                    "details": [{"bkPx": "1", "posSide": "long", "side": "sell", "sz": "1", "ts": str(NOW_MS)}],
                }
            ],
        }
    )
    assert parse_okx(frame, okx_contracts, now_ms=NOW_MS).skipped == {"no_contract": 1}


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"T": NOW_MS, "s": "X", "S": "Buy", "v": "NaN", "p": "1"}, "bad_number"),
        ({"T": NOW_MS, "s": "X", "S": "Buy", "v": "1e309", "p": "1"}, "bad_number"),
        ({"T": NOW_MS, "s": "X", "S": "Buy", "v": "0", "p": "1"}, "non_positive"),
        ({"T": NOW_MS, "s": "X", "S": "Buy", "v": "1", "p": "-5"}, "bad_number"),
        ({"T": NOW_MS + 6 * 60000, "s": "X", "S": "Buy", "v": "1", "p": "1"}, "in_future"),
        ({"T": NOW_MS - 26 * 3600000, "s": "X", "S": "Buy", "v": "1", "p": "1"}, "too_old"),
        ({"T": NOW_MS, "s": "X", "S": "Up", "v": "1", "p": "1"}, "bad_side"),
        ({"T": NOW_MS, "S": "Buy", "v": "1", "p": "1"}, "missing_field"),
    ],
)
def test_bad_items_are_skipped_with_a_reason(item, reason):
    frame = json.dumps({"topic": "allLiquidation.X", "data": [item]})
    parsed = parse_bybit(frame, inverse=False, now_ms=NOW_MS)
    assert parsed.events == []
    assert parsed.skipped == {reason: 1}


@pytest.mark.parametrize("frame", ["{not json", "[]", "null", '{"data": NaN}'])
def test_garbage_frames_never_raise(frame, okx_contracts):
    for parsed in (parse_binance(frame), parse_bybit(frame, inverse=False), parse_okx(frame, okx_contracts)):
        assert parsed.events == []
        assert sum(parsed.skipped.values()) == 1


def test_same_order_has_the_same_key(fixture_path):
    frame = lines(fixture_path, "upstream/binance/forceOrder-combined-frames.jsonl")[0]
    a = parse_binance(frame, now_ms=NOW_MS).events[0]
    b = parse_binance(frame, now_ms=NOW_MS).events[0]
    assert event_key(a) == event_key(b)


def test_binance_coin_margined_orders_count_contracts_times_their_size_or_are_skipped_by_name():
    frame = json.dumps(
        {
            "stream": "!forceOrder@arr",
            "data": {
                "e": "forceOrder",
                "E": NOW_MS,
                "o": {
                    "s": "BTCUSD_PERP",
                    "S": "SELL",
                    "X": "FILLED",
                    "z": "100",
                    "ap": "82000",
                    "T": NOW_MS - 5,
                    "st": 2,
                },
            },
        }
    )
    parsed = parse_binance(frame, now_ms=NOW_MS)
    assert parsed.events == []
    assert parsed.skipped == {"no_contract_size": 1}  # never summed as coins
    sized = {"BTCUSD_PERP": BinanceContract(coin_margined=True, contract_size=100.0)}
    parsed = parse_binance(frame, now_ms=NOW_MS, contracts=sized)
    assert parsed.events[0]["usd"] == pytest.approx(100 * 100)  # 100 contracts of 100 USD
