"""Minute buckets: folded sums equal hand sums of the events, window totals equal the sum of their minutes,
the record's sums from buckets equal ``aggregate`` of the events, gaps are not zeros."""

from __future__ import annotations

from typing import Any

import pytest

from liquidation import buckets
from liquidation.summary import aggregate, sums_of
from tests.buckettools import (
    ALL_LIVE,
    DAY,
    DAY_S,
    at,
    bucket_usd,
    counted,
    folded_sample,
    hand_coin_cells,
    hand_total,
    hand_venue_cells,
    ms,
    reader,
    sample,
    stores,
)


def _flat_x(minutes: dict[int, dict[str, Any]]) -> dict[tuple, tuple]:
    return {
        (m, venue, side): (cell[0], cell[1], cell[2])
        for m, b in minutes.items()
        for venue, sides in (b.get("x") or {}).items()
        for side, cell in sides.items()
    }


def _flat_c(minutes: dict[int, dict[str, Any]]) -> dict[tuple, tuple]:
    out = {}
    for m, b in minutes.items():
        for coin, venues in (b.get("c") or {}).items():
            for venue, c in venues.items():
                for side, (usd, n) in (("long", c[0:2]), ("short", c[2:4])):
                    if n:
                        out[(m, coin, venue, side)] = (usd, n)
    return out


def _assert_same(got: dict[tuple, tuple], want: dict[tuple, tuple]) -> None:
    assert sorted(got) == sorted(want)
    for key, values in want.items():
        assert got[key] == pytest.approx(values), key


def test_the_sample_holds_every_venue_style_and_its_traps():
    rows = sample()
    assert len(rows) == 40
    assert {e["exchange"] for e in rows} == set(ALL_LIVE)
    assert sum(1 for e in rows if e.get("tradfi")) == 1
    assert sum(1 for e in rows if e["usd"] > 2e9) == 1
    assert sum(1 for e in rows if counted(e)) == 38
    assert rows[-1]["ts_ms"] < rows[-2]["ts_ms"]  # the late event is older than the one stored before it


def test_folded_venue_cells_equal_hand_sums_per_minute_venue_and_side(tmp_path):
    _, store = folded_sample(tmp_path)
    minutes = reader(store).minutes("venues", DAY_S, DAY_S + 86340)
    want = {
        (m, v, s): tuple(cell)
        for m, venues in hand_venue_cells(sample()).items()
        for v, sides in venues.items()
        for s, cell in sides.items()
    }
    _assert_same(_flat_x(minutes), want)


def test_folded_coin_cells_equal_hand_sums_by_the_coin_of_each_symbol(tmp_path):
    _, store = folded_sample(tmp_path)
    minutes = reader(store).minutes("coins", DAY_S, DAY_S + 86340)
    want = {
        (m, coin, v, s): tuple(cell)
        for m, coins in hand_coin_cells(sample()).items()
        for coin, venues in coins.items()
        for v, sides in venues.items()
        for s, cell in sides.items()
    }
    _assert_same(_flat_c(minutes), want)
    pepe = {v for (_, coin, v, _) in want if coin == "PEPE"}
    assert pepe == {"binance", "bybit", "hyperliquid"}  # 1000PEPEUSDT and kPEPE are one coin


def test_the_late_event_is_added_to_its_folded_minute_and_becomes_its_largest(tmp_path):
    _, store = folded_sample(tmp_path)
    late = sample()[-1]
    minute = buckets.minute_of_ms(late["ts_ms"])
    cell = reader(store).minutes("venues", minute, minute)[minute]["x"]["bybit"]["long"]
    assert cell[1] == 3
    assert cell[0] == pytest.approx(0.25 * 82600 + 0.1 * 82610 + late["usd"])
    assert cell[2:] == [late["usd"], "BTCUSDT", late["ts_ms"]]
    lines = [line for line in store.path("venues", DAY).read_bytes().splitlines() if f'"m":{minute},'.encode() in line]
    assert len(lines) == 2  # one delta line per fold that saw events of that minute


def test_implausible_and_tradfi_orders_enter_no_cell_but_mark_their_minute(tmp_path):
    events, store = folded_sample(tmp_path)
    minutes = reader(store).minutes("venues", DAY_S, DAY_S + 86340)
    coins = reader(store).minutes("coins", DAY_S, DAY_S + 86340)
    huge, tradfi = at(10, 0), at(9, 33)
    assert minutes[huge]["x"] == {} and minutes[tradfi]["x"] == {}
    assert huge not in coins and tradfi not in coins
    assert "TSLA" not in {coin for b in coins.values() for coin in b["c"]}
    offsets = {buckets.minute_of_ms(e["ts_ms"]): off for off, e in events.read_from(DAY, 0)[0] if not counted(e)}
    assert minutes[huge]["o"] == offsets[huge] and minutes[tradfi]["o"] == offsets[tradfi]
    total = reader(store).total("venues", DAY_S, DAY_S + 86340)
    assert sum(c[1] for sides in total["x"].values() for c in sides.values()) == 38


def test_each_minute_keeps_the_smallest_offset_of_its_events(tmp_path):
    events, store = folded_sample(tmp_path)
    want: dict[int, int] = {}
    for offset, e in events.read_from(DAY, 0)[0]:
        m = buckets.minute_of_ms(e["ts_ms"])
        want[m] = min(want.get(m, offset), offset)
    got = {m: b["o"] for m, b in reader(store).minutes("venues", DAY_S, DAY_S + 86340).items() if "o" in b}
    assert got == want


def test_merging_the_folds_of_two_batches_equals_folding_them_at_once():
    pairs = list(enumerate(sample()))
    whole = buckets.fold(pairs)
    first, second = buckets.fold(pairs[::2]), buckets.fold(pairs[1::2])
    merged = {m: buckets.merge([b for b in (first.get(m), second.get(m)) if b]) for m in whole}
    _assert_same(_flat_x(merged), _flat_x(whole))
    _assert_same(_flat_c(merged), _flat_c(whole))
    assert {m: b["o"] for m, b in merged.items()} == {m: b["o"] for m, b in whole.items()}
    for m, b in whole.items():  # the largest order of each cell does not depend on the batches
        for venue, sides in b["x"].items():
            for side, cell in sides.items():
                assert merged[m]["x"][venue][side][2:] == cell[2:]


def test_the_largest_of_two_equal_orders_is_the_later_whichever_is_folded_first():
    a = {"exchange": "okx", "symbol": "BTC-USDT-SWAP", "ts_ms": 60_000, "side": "long", "usd": 5.0}
    b = {**a, "symbol": "BTCUSDT", "ts_ms": 61_000}
    for order in ([a, b], [b, a]):
        cell = buckets.fold(enumerate(order))[60]["x"]["okx"]["long"]
        assert cell == [10.0, 2, 5.0, "BTCUSDT", 61_000]


def test_accumulating_hour_totals_equals_accumulating_their_minutes():
    minutes = buckets.fold((i, e) for i, e in enumerate(sample()) if e["ts_ms"] < ms(11, 0))
    merged = {m: {**buckets.merge([b]), "live": ["okx"] if m % 120 else ["gate", "okx"]} for m, b in minutes.items()}
    direct = buckets.empty_total()
    hours: dict[int, dict] = {}
    for m in sorted(merged):
        buckets.accumulate(direct, merged[m])
        buckets.accumulate(hours.setdefault(m // 3600, buckets.empty_total()), merged[m])
    nested = buckets.empty_total()
    for h in sorted(hours):
        buckets.accumulate(nested, hours[h])
    assert nested["n"] == direct["n"] == len(merged)
    assert nested["lv"] == direct["lv"] == {"okx": len(merged), "gate": sum(1 for m in merged if m % 120 == 0)}
    _assert_same(_flat_x({0: nested}), _flat_x({0: direct}))
    _assert_same(_flat_c({0: nested}), _flat_c({0: direct}))


WINDOWS = {
    "one hour": (at(9, 0), at(9, 59)),
    "four hours": (at(8, 0), at(11, 59)),
    "whole day": (DAY_S, DAY_S + 86340),
    "edges inside hours": (at(9, 17), at(11, 43)),
    "one minute": (at(11, 8), at(11, 8)),
    "across an hour edge": (at(9, 58), at(10, 4)),
    "edges inside minutes": (at(9, 0, 30), at(11, 8, 30)),
}


@pytest.mark.parametrize("window", list(WINDOWS))
def test_every_window_total_equals_the_sum_of_its_minutes(tmp_path, window):
    start, end = WINDOWS[window]
    _, store = folded_sample(tmp_path)
    r = reader(store)
    r.total("venues", DAY_S, DAY_S + 86340)  # hour totals cached first, then the window reads them
    total, coins = r.total("venues", start, end), r.total("coins", start, end)
    minutes = reader(store).minutes("venues", start, end)
    coin_minutes = reader(store).minutes("coins", start, end)
    assert all(start <= m <= end for m in minutes)
    lv: dict[str, int] = {}
    for b in minutes.values():
        for venue in b["live"]:
            lv[venue] = lv.get(venue, 0) + 1
    assert (total["n"], total["lv"]) == (len(minutes), lv)
    _assert_same(_flat_x({0: total}), _flat_x({0: buckets.merge(minutes.values())}))
    _assert_same(_flat_c({0: coins}), _flat_c({0: buckets.merge(coin_minutes.values())}))
    first = -(-int(start) // 60) * 60  # the minutes that start in [start, end]
    usd, n = hand_total(sample(), first * 1000, int(end) // 60 * 60_000 + 59_999)
    assert bucket_usd(total) == pytest.approx(usd)
    assert sum(c[1] for sides in total["x"].values() for c in sides.values()) == n


@pytest.mark.parametrize("now_ms", [ms(11, 59, 59.999), ms(12, 29, 59.999), ms(10, 39, 59.999), ms(11, 0, 59.999)])
def test_the_record_sums_from_buckets_equal_aggregate_of_the_events_at_a_minute_end(tmp_path, now_ms):
    _, store = folded_sample(tmp_path)
    r = reader(store)
    now_m = now_ms // 60_000 * 60
    got = sums_of(r.total("venues", now_m - 3540, now_m), r.total("venues", now_m - 86340, now_m))
    want = aggregate(sample(), now_ms)
    assert sorted(got) == sorted(want)
    for venue, figures in want.items():
        assert got[venue] == pytest.approx(figures), venue
    assert any(figures["hour_1"] for figures in want.values())


def test_the_edge_minute_of_the_trailing_hour_counts_in_both(tmp_path):
    """12:29:59.999 ends a trailing hour that starts at 11:30:00.000: okx's long then is in both sums."""
    _, store = folded_sample(tmp_path)
    now_m = int(at(12, 29))
    got = sums_of(reader(store).total("venues", now_m - 3540, now_m), buckets.empty_total())
    want = aggregate(sample(), ms(12, 29, 59.999))
    assert got["okx"]["hour_1_long"] == pytest.approx(want["okx"]["hour_1_long"]) == pytest.approx(0.05 * 82500)


def test_mid_minute_buckets_count_the_whole_current_minute_and_aggregate_does_not(tmp_path):
    """The documented difference: at 11:59:30 the buckets hold all of minute 11:59 (okx's short at
    11:59:59.999), ``aggregate`` only what is at or before now."""
    _, store = folded_sample(tmp_path)
    now_m = int(at(11, 59))
    got = sums_of(reader(store).total("venues", now_m - 3540, now_m), buckets.empty_total())
    want = aggregate(sample(), ms(11, 59, 30))
    assert got["okx"]["hour_1_short"] - want["okx"]["hour_1_short"] == pytest.approx(0.5 * 2455.0)
    assert got["bybit"]["hour_1"] == pytest.approx(want["bybit"]["hour_1"])


def test_a_reader_that_cached_hour_totals_sees_the_next_fold(tmp_path):
    events, store = stores(tmp_path)
    rows = sample()
    events.append(rows[:20])
    store.fold(events, ALL_LIVE, at(12, 5))
    r = reader(store)
    assert bucket_usd(r.total("venues", DAY_S, DAY_S + 86340)) == pytest.approx(hand_total(rows[:20], 0, 2**62)[0])
    events.append(rows[20:])
    store.fold(events, ALL_LIVE, at(12, 6))
    for cached_or_fresh in (r, reader(store)):
        total = cached_or_fresh.total("venues", DAY_S, DAY_S + 86340)
        assert bucket_usd(total) == pytest.approx(hand_total(rows, 0, 2**62)[0])


def test_a_covered_quiet_minute_is_a_zero_bucket_and_an_uncovered_one_is_a_gap(tmp_path):
    events, store = stores(tmp_path)
    events.append([e for e in sample() if e["exchange"] == "binance"])
    store.fold(events, {"binance": int(at(10, 0)), "okx": int(at(10, 30))}, at(11, 0, 5))
    minutes = reader(store).minutes("venues", at(9, 0), at(10, 59))
    assert at(9, 1) not in minutes  # before every venue's since, no event: nothing is known
    assert minutes[at(9, 0)]["live"] == [] and minutes[at(9, 0)]["x"]["binance"]  # events, no coverage
    assert minutes[at(10, 1)] == {"live": ["binance"], "x": {}, "c": {}}  # covered and quiet: a zero
    assert minutes[at(10, 30)]["live"] == ["binance", "okx"]
    assert all(at(10, 0) + 60 * i in minutes for i in range(60))
    assert at(11, 0) not in reader(store).minutes("venues", at(11, 0), at(11, 0))  # still filling
