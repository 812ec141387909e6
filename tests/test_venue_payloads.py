"""Payloads captured live from each venue (``fixtures/real/``, origins in ``real/SOURCES.md``), parsed,
with every USD value worked out by hand here. Each case is one of the data errors the venue review found.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from liquidation.exchanges import aggregate
from liquidation.venues.binance import BinanceContract, binance_oi_symbols, parse_binance, parse_binance_contracts
from liquidation.venues.bitget import Bitget
from liquidation.venues.gate import Gate
from tests.upstream_server import Reply

REAL = Path(__file__).parent / "fixtures" / "real"


def real(name: str):
    return json.loads((REAL / name).read_text())


def frames(name: str) -> list[str]:
    return [json.dumps(f) for f in real(name)]


def at(frame: str) -> int:
    """A clock just after the frame's own event time (frames are months old)."""
    data = json.loads(frame)
    data = data.get("data", data)
    return int(data["o"].get("T", data["E"])) + 1000


# -- Binance --------------------------------------------------------------------------------------------


def test_binance_live_usdm_frames_count_z_times_ap_even_when_the_last_fill_is_smaller():
    got = [parse_binance(f, now_ms=at(f)) for f in frames("binance/forceOrder-live-frames-2026-with-ps-st.json")]
    usd = [round(p.events[0]["usd"], 4) for p in got]
    assert usd == [
        round(5 * 0.1355, 4),  # STGUSDT
        round(0.001 * 83598.50, 4),  # BTCUSDT
        round(127.2 * 1.4912, 4),  # XRPUSDT: z 127.2, not l 108.1
        round(2049.1 * 0.0722187, 4),  # MANTAUSDT: z, not l 245.9
        round(116.5 * 3.85642, 4),  # ILVUSDT
        round(15.4 * 1.4043, 4),  # XRPUSDT
        round(1861 * 0.0387407, 4),  # AINUSDT: z, not l 38
        round(0.190 * 82651.90, 4),  # BTCUSDT: z, not l 0.155
    ]
    assert [p.events[0]["side"] for p in got] == ["long", "short", "short", "long", "long", "short", "long", "long"]


def test_the_coin_margined_order_that_a_collector_booked_as_177_million_is_230_thousand():
    """2026-09-18: 2,304 BTCUSD_PERP contracts on the USDⓈ-M stream. The capture is abridged (no ``X``,
    ``z``, ``st``): as captured it is not counted at all; complete, it is contracts × 100 USD."""
    (abridged,) = frames("binance/forceOrder-coinm-symbol-on-usdm-stream-ABRIDGED.json")
    contracts = parse_binance_contracts(None, real("binance/dapi-exchangeInfo-2021-07-21-TRIMMED.json"))
    parsed = parse_binance(abridged, now_ms=at(abridged), contracts=contracts)
    assert parsed.events == [] and parsed.skipped == {"missing_field": 1}
    data = json.loads(abridged)
    data["o"].update({"X": "FILLED", "z": "2304", "l": "2304", "st": 2})
    complete = json.dumps(data)
    (event,) = parse_binance(complete, now_ms=at(complete), contracts=contracts).events
    assert event["usd"] == pytest.approx(2304 * 100)  # not 2304 × 76,986.8 = 177,377,587
    assert event["qty"] == pytest.approx(2304 * 100 / 76986.8)  # in BTC
    no_sizes = parse_binance(complete, now_ms=at(complete))
    assert no_sizes.events == [] and no_sizes.skipped == {"no_contract_size": 1}


def test_contract_metadata_from_both_exchange_info_lists():
    contracts = parse_binance_contracts(
        real("binance/fapi-exchangeInfo-2021-07-21-TRIMMED.json"),
        real("binance/dapi-exchangeInfo-2021-07-21-TRIMMED.json"),
    )
    assert contracts["BTCUSDT"] == BinanceContract(coin_margined=False)
    assert contracts["BTCUSDT_210924"] == BinanceContract(coin_margined=False)  # a quarterly, in BTC
    assert contracts["BTCUSD_PERP"] == BinanceContract(coin_margined=True, contract_size=100.0)
    assert contracts["ETHUSD_PERP"].contract_size == 10.0
    assert contracts["DOGEUSD_PERP"].contract_size == 10.0


def usdm_frame(symbol: str, status: str = "FILLED", z: str = "0.5", st: int | None = None) -> str:
    order = {"s": symbol, "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.5", "p": "60000", "ap": "60000"}
    order.update({"X": status, "l": z, "z": z, "T": 1791565602120})
    if st is not None:
        order["st"] = st
    return json.dumps({"e": "forceOrder", "E": 1791565602200, "o": order})


def test_usdm_quarterly_contracts_are_counted_like_perpetuals():
    frame = usdm_frame("BTCUSDT_260925", st=1)
    assert parse_binance(frame, now_ms=at(frame)).events[0]["usd"] == pytest.approx(30000)
    frame = usdm_frame("BTCUSDT_210924")  # no st: the contract list says USDⓈ-M
    contracts = parse_binance_contracts(real("binance/fapi-exchangeInfo-2021-07-21-TRIMMED.json"), None)
    assert parse_binance(frame, now_ms=at(frame), contracts=contracts).events[0]["usd"] == pytest.approx(30000)
    assert parse_binance(frame, now_ms=at(frame)).skipped == {"unknown_contract": 1}  # never by its shape


def test_an_order_that_expired_partly_filled_counts_its_filled_part():
    frame = usdm_frame("BTCUSDT", status="EXPIRED", z="0.2", st=1)
    assert parse_binance(frame, now_ms=at(frame)).events[0]["usd"] == pytest.approx(0.2 * 60000)
    frame = usdm_frame("BTCUSDT", status="EXPIRED", z="0", st=1)
    assert parse_binance(frame, now_ms=at(frame)).skipped == {"not_filled": 1}
    frame = usdm_frame("BTCUSDT", status="PARTIALLY_FILLED", z="0.2", st=1)
    assert parse_binance(frame, now_ms=at(frame)).skipped == {"not_filled": 1}


def test_tradfi_perpetuals_are_stored_marked_and_left_out_of_the_totals():
    contracts = {"XAUUSDT": BinanceContract(coin_margined=False, tradfi=True)}
    frame = usdm_frame("XAUUSDT", st=1)
    (event,) = parse_binance(frame, now_ms=at(frame), contracts=contracts).events
    assert event["tradfi"] is True
    btc = parse_binance(usdm_frame("BTCUSDT", st=1), now_ms=at(frame)).events[0]
    sums = aggregate([event, btc], at(frame))
    assert sums["binance"]["hour_1"] == pytest.approx(30000)  # BTC only


def test_open_interest_counts_only_stablecoin_margined_crypto_contracts():
    info = real("binance/fapi-exchangeInfo-2021-07-21-TRIMMED.json")
    assert binance_oi_symbols(info) == {"BTCUSDT", "ETHUSDT", "BTCUSDT_210924", "ETHUSDT_210924"}
    info["symbols"] += [
        {"symbol": "XAUUSDT", "marginAsset": "USDT", "contractType": "TRADIFI_PERPETUAL", "status": "TRADING"},
        {"symbol": "BTCUSD_PERP", "marginAsset": "BTC", "quoteAsset": "USD", "status": "TRADING"},
        {"symbol": "BTCUSDC", "marginAsset": "USDC", "contractType": "PERPETUAL", "status": "TRADING"},
    ]
    assert binance_oi_symbols(info) == {"BTCUSDT", "ETHUSDT", "BTCUSDT_210924", "ETHUSDT_210924", "BTCUSDC"}


# -- Gate -----------------------------------------------------------------------------------------------

#: Gate's quanto_multiplier for these contracts (its /futures/usdt/contracts): BTC 0.0001, ETH 0.01; 1 for
#: the others here, which is enough to check the arithmetic on the captured sizes and prices.
MULTIPLIERS = {"BTC_USDT": 0.0001, "ETH_USDT": 0.01}


def gate(rows: list[dict]) -> list:
    now_ms = max(int(r["time"]) for r in rows) * 1000 + 1000
    return [Gate._event(r, {**{r["contract"]: 1.0}, **MULTIPLIERS}, now_ms) for r in rows]


def test_gate_real_rows_count_order_size_less_left_with_decimal_sizes():
    got = gate(real("gate/liq_orders-usdt-all-contracts-2026-09-12-ai-rates-TRIMMED.json"))
    by = [(e["symbol"], e["side"], round(e["usd"], 6)) for e in got]
    assert by[4] == ("SOL_USDT", "long", round(4.2 * 101.24, 6))  # a fractional size
    assert by[6] == ("BTC_USDT", "long", round(200 * 0.0001 * 77030.6, 6))
    assert by[9] == ("ETH_USDT", "long", round(2.9 * 0.01 * 2514.11, 6))
    # size −1835 but order_size 309: the liquidation order filled 309, not the whole position.
    assert by[11] == ("AKE_USDT", "short", round(309 * 0.0164213873774757, 6))
    assert by[12] == ("AKE_USDT", "short", round(165 * 0.016375235757, 6))
    assert by[1] == ("LSK_USDT", "short", round(95 * 0.2544, 6))


def test_gate_rows_without_order_size_are_skipped_by_name_never_counted_as_the_position():
    assert gate(real("gate/liq_orders-btc_usdt-2023-11-16-NO-order_size-ccxt-pr19855.json")) == ["no_order_size"]
    squeeze = gate(real("gate/liq_orders-btc_usdt-2026-10-07-short-squeeze.json"))
    assert squeeze[0]["usd"] == pytest.approx(123 * 0.0001 * 84288.8) and squeeze[0]["side"] == "short"


# -- Bitget ---------------------------------------------------------------------------------------------


def test_bitget_amount_is_in_the_base_coin():
    rows = real("bitget/rest-v3-market-liquidations-btcusdt-2026-10-07.json")["data"]["list"]
    now_ms = int(rows[0]["ts"]) + 1000
    got = [Bitget._event(r, now_ms) for r in rows]
    assert [round(e["usd"], 2) for e in got] == [
        round(0.0009 * 84405.712741570031765, 2),  # 75.97 USD, not 0.0009 USD
        round(0.3463 * 83379.3419988320678962, 2),  # 28,874.27
        round(1.2128 * 83326.8986130226594327, 2),  # 101,058.86: in the documented long cascade
    ]
    assert [e["side"] for e in got] == ["short", "long", "long"]
    assert got[2]["qty"] == 1.2128


def test_binance_frames_of_2023_without_st_read_through_the_contract_list():
    (frame,) = frames("binance/forceOrder-live-2023-09-26-no-ps-st.json")
    assert parse_binance(frame, now_ms=at(frame)).skipped == {"unknown_contract": 1}
    contracts = parse_binance_contracts(real("binance/fapi-exchangeInfo-2021-07-21-TRIMMED.json"), None)
    (event,) = parse_binance(frame, now_ms=at(frame), contracts=contracts).events
    assert (event["side"], round(event["usd"], 4)) == ("long", round(0.115 * 26245.10, 4))


# -- Bybit, OKX, Hyperliquid ----------------------------------------------------------------------------


def test_bybit_live_frames_buy_is_a_long_at_v_times_p():
    from liquidation.venues.bybit import parse_bybit

    got = []
    for frame in frames("bybit/allLiquidation-linear-live-frames.json"):
        ts = json.loads(frame)["data"][0]["T"]
        got += [
            (e["symbol"], e["side"], round(e["usd"], 6))
            for e in parse_bybit(frame, inverse=False, now_ms=ts + 1000).events
        ]
    assert got == [
        ("ICPUSDT", "long", round(19.7 * 2.585, 6)),
        ("MARSCOINUSDT", "short", round(2380 * 0.12734, 6)),
        ("STRKUSDT", "long", round(2084.9 * 0.05165, 6)),
        ("BTCUSDT", "long", round(0.006 * 82396.90, 6)),
        ("BTCUSDT", "long", round(0.038 * 82394.30, 6)),
    ]


def test_okx_live_frames_take_the_side_from_pos_side_and_size_times_contract_value():
    from liquidation.venues.okx import Contract, parse_okx

    contracts = {"BTC-USDT-SWAP": Contract(0.01, "BTC", False)}  # OKX: one BTC-USDT-SWAP contract is 0.01 BTC
    got, skipped = [], Counter()
    for frame in frames("okx/ws-liquidation-orders-SWAP-live-frames.json"):
        ts = int(json.loads(frame)["data"][0]["details"][0]["ts"])
        parsed = parse_okx(frame, contracts, now_ms=ts + 1000)
        got += parsed.events
        skipped.update(parsed.skipped)
    assert [(e["symbol"], e["side"], round(e["usd"], 4)) for e in got] == [
        ("BTC-USDT-SWAP", "long", round(8.55 * 0.01 * 82655.7, 4))
    ]
    assert skipped["no_contract"] == 5  # contracts whose value is not known are never guessed


def test_hyperliquid_open_interest_is_coins_times_mark(upstream):
    from liquidation.http import Deadline, HttpPolicy, make_session
    from liquidation.venues.hyperliquid import Hyperliquid

    upstream.route(
        "/info", Reply(200, (REAL / "hyperliquid/metaAndAssetCtxs-2026-09-ai-rates-TRIMMED.json").read_bytes())
    )
    venue = Hyperliquid({"rest": upstream.url("")})
    policy = HttpPolicy(retries=0, deadline=5)
    session = make_session(policy)
    got = venue.open_interest_by_symbol(session, policy, Deadline(5))
    session.close()
    assert got["BTC"].usd == pytest.approx(35818.6831799999 * 77748.0)
    assert got["ETH"].usd == pytest.approx(1025206.9310000007 * 2573.22)
    assert got["MATIC"].usd == 0.0  # delisted


def test_okx_open_interest_rows_without_oi_usd_are_refused_not_counted_as_contracts(upstream):
    from liquidation.http import Deadline, HttpPolicy, make_session
    from liquidation.venues.base import VenueError
    from liquidation.venues.okx import Okx

    swap = real("okx/open-interest-2024-06-01-fastmoon.json")[0]  # an older answer: oi and oiCcy, no oiUsd
    upstream.route("/api/v5/public/open-interest", Reply(200, json.dumps(swap).encode()))
    policy = HttpPolicy(retries=0, deadline=5)
    session = make_session(policy)
    with pytest.raises(VenueError, match="oiUsd"):
        Okx({"rest": upstream.url("")}).open_interest_by_symbol(session, policy, Deadline(5))
    session.close()


def test_binance_open_interest_leaves_out_tradfi_and_counts_quarterlies_on_the_real_mark_list(upstream, tmp_path):
    from liquidation.http import Deadline, HttpPolicy, make_session
    from liquidation.venues.binance import Binance

    marks = (REAL / "binance/premiumIndex-tradfi-and-quarterly-2026-09-ai-rates.json").read_bytes()
    tradfi = ("CATUSDT", "XAUUSDT", "TSLAUSDT", "SPYUSDT", "OPENAIUSDT")  # TRADIFI_PERPETUAL in its exchangeInfo
    crypto = {"1000CATUSDT": "PERPETUAL", "BBUSDT": "PERPETUAL", "PAXGUSDT": "PERPETUAL", "BTCDOMUSDT": "PERPETUAL"}
    crypto["BTCUSDT_260925"] = "CURRENT_QUARTER"
    info = {
        "symbols": [
            *({"symbol": s, "marginAsset": "USDT", "contractType": "TRADIFI_PERPETUAL"} for s in tradfi),
            *({"symbol": s, "marginAsset": "USDT", "contractType": t} for s, t in crypto.items()),
        ]
    }
    upstream.route("/fapi/v1/exchangeInfo", Reply(200, json.dumps(info).encode()))
    upstream.route("/fapi/v1/premiumIndex", Reply(200, marks))
    upstream.route_fn(
        "/fapi/v1/openInterest",
        lambda q, b: Reply(200, json.dumps({"openInterest": "2", "symbol": q["symbol"][0]}).encode()),
    )
    policy = HttpPolicy(retries=0, deadline=10)
    session = make_session(policy)
    got = Binance({"rest": upstream.url("")}, state_dir=tmp_path).open_interest_by_symbol(session, policy, Deadline(10))
    session.close()
    assert set(got) == set(crypto)
    assert got["BTCUSDT_260925"].usd == pytest.approx(2 * 77503.73548726)  # a quarterly, in BTC


def test_binance_shaped_frames_from_other_hosts_are_read_only_through_a_contract_list():
    """binancefuture (disputed: testnet or production) and Aster (a clone): no ``st``, so the contract
    list decides; ``z × ap`` even when the last fill ``l`` is smaller."""
    got = frames("binance/forceOrder-2026-09-18-binancefuture-host-and-aster.json")
    usdm = {"COTIUSDT": BinanceContract(coin_margined=False), "PAIRUSDT": BinanceContract(coin_margined=False)}
    usd = [parse_binance(f, now_ms=at(f), contracts=usdm).events[0]["usd"] for f in got]
    assert usd == [pytest.approx(288183 * 0.0219120), pytest.approx(28448 * 0.0044461)]
    assert [parse_binance(f, now_ms=at(f)).skipped for f in got] == [{"unknown_contract": 1}] * 2
