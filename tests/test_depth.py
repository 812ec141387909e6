"""depth.summary and depth.bars over folded buckets: every figure equals a hand sum of the sample events;
a gap is null, a covered quiet minute is zero."""

from __future__ import annotations

import pytest

from liquidation import depth
from liquidation.bucketstore import CLOSE_AFTER
from liquidation.coins import coin_of
from liquidation.depth import Filters
from tests.buckettools import ALL_LIVE, DAY, DAY_S, at, counted, folded_sample, hand_total, ms, reader, sample, stores

HOUR_11 = (ms(11, 0), ms(11, 59, 59.999))
HOUR_10 = (ms(10, 0), ms(10, 59, 59.999))


def _largest(rows: list[dict], lo: int, hi: int) -> dict:
    best = max((e for e in rows if counted(e) and lo <= e["ts_ms"] <= hi), key=lambda e: e["usd"])
    return {k: best[k] for k in ("exchange", "symbol", "side", "ts_ms")} | {"usd": round(best["usd"], 2)}


def _many_coins(tmp_path, n: int = 25):
    """n coins on okx at 10:00–10:24, coin i worth 1000 × (i + 1) USD, every venue live."""
    events, store = stores(tmp_path)
    rows = [
        {"exchange": "okx", "symbol": f"C{i:02d}-USDT-SWAP", "ts_ms": ms(10, i, 1)}
        | {"side": "long" if i % 2 else "short", "qty": 1.0, "price": 1000.0 * (i + 1), "usd": 1000.0 * (i + 1)}
        for i in range(n)
    ]
    events.append(rows)
    store.fold(events, ALL_LIVE, at(10, 30))
    return store, rows


def test_summary_totals_split_count_and_largest_equal_hand_sums(tmp_path):
    _, store = folded_sample(tmp_path)
    got = depth.summary(reader(store), "1h", at(11, 59, 30), Filters())
    rows = sample()
    assert (got["start"], got["end"]) == (at(11, 0), at(11, 59, 30))
    usd, n = hand_total(rows, *HOUR_11)
    assert got["total_usd"] == pytest.approx(usd, abs=0.01) and got["count"] == n == 13
    assert got["long_usd"] == pytest.approx(hand_total(rows, *HOUR_11, side="long")[0], abs=0.01)
    assert got["short_usd"] == pytest.approx(hand_total(rows, *HOUR_11, side="short")[0], abs=0.01)
    assert got["largest"] == _largest(rows, *HOUR_11)
    assert got["largest"]["symbol"] == "BTCUSDT" and got["largest"]["exchange"] == "bybit"  # the late event


def test_summary_by_exchange_sums_each_venue_and_the_shares_add_up_to_one(tmp_path):
    _, store = folded_sample(tmp_path)
    got = depth.summary(reader(store), "4h", at(12, 30), Filters())
    window = (ms(8, 31), ms(12, 30, 59.999))
    totals = [row["total_usd"] for row in got["by_exchange"]]
    assert totals == sorted(totals, reverse=True)
    assert {row["exchange"] for row in got["by_exchange"]} == set(ALL_LIVE)
    for row in got["by_exchange"]:
        usd, n = hand_total(sample(), *window, exchange=row["exchange"])
        assert (row["total_usd"], row["count"]) == (pytest.approx(usd, abs=0.01), n)
        assert row["share"] == pytest.approx(usd / hand_total(sample(), *window)[0], abs=1e-4)
    assert sum(row["share"] for row in got["by_exchange"]) == pytest.approx(1.0, abs=1e-3)


def test_summary_by_coin_groups_every_venue_style_of_a_coin(tmp_path):
    _, store = folded_sample(tmp_path)
    got = depth.summary(reader(store), "4h", at(12, 30), Filters())
    window = (ms(8, 31), ms(12, 30, 59.999))
    by_hand = {c: hand_total(sample(), *window, coin=c)[0] for c in ("BTC", "ETH", "SOL", "PEPE", "MOG")}
    assert [row["coin"] for row in got["by_coin"]] == sorted(by_hand, key=lambda c: -by_hand[c])
    for row in got["by_coin"]:
        usd, n = hand_total(sample(), *window, coin=row["coin"])
        assert (row["total_usd"], row["count"]) == (pytest.approx(usd, abs=0.01), n)


def test_summary_by_coin_is_the_top_20_largest_first(tmp_path):
    store, _ = _many_coins(tmp_path)
    got = depth.summary(reader(store), "1h", at(10, 40), Filters())
    assert [row["coin"] for row in got["by_coin"]] == [f"C{i:02d}" for i in range(24, 4, -1)]
    assert got["by_coin"][0]["total_usd"] == 25000.0 and got["count"] == 25


def test_summary_previous_window_and_change_pct(tmp_path):
    _, store = folded_sample(tmp_path)
    got = depth.summary(reader(store), "1h", at(11, 59, 30), Filters())
    previous = hand_total(sample(), *HOUR_10)
    assert (got["previous"]["start"], got["previous"]["end"]) == (at(10, 0), at(10, 59, 59))
    assert got["previous"]["total_usd"] == pytest.approx(previous[0], abs=0.01)
    assert got["previous"]["count"] == previous[1] and got["previous"]["minutes"] == 60
    want = (round(got["total_usd"], 2) - round(previous[0], 2)) / round(previous[0], 2) * 100
    assert got["change_pct"] == pytest.approx(want, abs=0.01)


def test_summary_has_no_change_pct_without_a_previous_window(tmp_path):
    _, store = folded_sample(tmp_path)
    got = depth.summary(reader(store), "4h", at(11, 59), Filters())  # previous: 04:00–07:59, no buckets
    assert got["previous"]["minutes"] == 0 and got["change_pct"] is None


def test_summary_coverage_counts_the_covered_minutes_of_the_window(tmp_path):
    events, store = folded_sample(tmp_path)  # the last fold (12:06:03) covered minutes up to 12:05
    got = depth.summary(reader(store), "1h", at(12, 30, 20), Filters())
    assert got["coverage"] == {
        "minutes": 35,  # 11:31 to 12:05
        "expected": 59,  # the closed minutes: the current one (12:30) is still filling
        "complete": False,
        "venues": {v: round(35 / 59, 4) for v in sorted(ALL_LIVE)},
    }
    store.fold(events, ALL_LIVE, at(12, 30, 5))
    got = depth.summary(reader(store), "1h", at(12, 30, 20), Filters())
    assert got["coverage"]["minutes"] == 59 and got["coverage"]["complete"] is True
    assert got["coverage"]["venues"] == {v: 1.0 for v in sorted(ALL_LIVE)}


def test_summary_with_an_exchange_filter_counts_that_venue_only(tmp_path):
    _, store = folded_sample(tmp_path)
    got = depth.summary(reader(store), "4h", at(12, 30), Filters(exchange="binance"))
    window = (ms(8, 31), ms(12, 30, 59.999))
    usd, n = hand_total(sample(), *window, exchange="binance")
    assert (got["total_usd"], got["count"]) == (pytest.approx(usd, abs=0.01), n)
    assert [(row["exchange"], row["share"]) for row in got["by_exchange"]] == [("binance", 1.0)]
    assert got["largest"] == _largest([e for e in sample() if e["exchange"] == "binance"], *window)
    for row in got["by_coin"]:
        assert row["total_usd"] == pytest.approx(hand_total(sample(), *window, exchange="binance", coin=row["coin"])[0])


@pytest.mark.parametrize(("coin", "exchange"), [("PEPE", None), ("BTC", None), ("BTC", "okx"), ("MOG", None)])
def test_summary_with_a_coin_filter_uses_the_coin_cells(tmp_path, coin, exchange):
    _, store = folded_sample(tmp_path)
    got = depth.summary(reader(store), "4h", at(12, 30), Filters(exchange=exchange, coin=coin))
    window = (ms(8, 31), ms(12, 30, 59.999))
    match = {"coin": coin} | ({"exchange": exchange} if exchange else {})
    usd, n = hand_total(sample(), *window, **match)
    assert (got["total_usd"], got["count"]) == (pytest.approx(usd, abs=0.01), n)
    assert n > 0 and [row["coin"] for row in got["by_coin"]] == [coin]
    mine = [e for e in sample() if coin_of(e["symbol"]) == coin and exchange in (None, e["exchange"])]
    assert got["largest"] == _largest(mine, *window)
    venues = {e["exchange"] for e in mine if counted(e)}
    assert {row["exchange"] for row in got["by_exchange"]} == venues
    if coin == "PEPE":
        assert venues == {"binance", "bybit", "hyperliquid"}  # 1000PEPEUSDT and kPEPE


def _values(got: dict, key: str) -> list:
    return next(s["values"] for s in got["series"] if s["key"] == key)


def test_bars_are_per_step_sums_not_trailing_sums(tmp_path):
    _, store = folded_sample(tmp_path)
    got = depth.bars(reader(store), at(9, 0), at(11, 59, 59), "1h", "side", at(12, 30), Filters())
    assert [ts for ts, _ in _values(got, "long")] == [at(h, 0) * 1000 for h in (9, 10, 11)]
    for side in ("long", "short"):
        for ts, value in _values(got, side):
            lo = ts
            want = hand_total(sample(), lo, lo + 3_599_999, side=side)[0]
            assert value == pytest.approx(want, abs=0.01), (side, ts)


def test_bars_align_steps_and_clip_the_first_and_last_to_the_range(tmp_path):
    _, store = folded_sample(tmp_path)
    got = depth.bars(reader(store), at(9, 17), at(11, 43), "1h", "side", at(12, 30), Filters())
    assert [ts for ts, _ in _values(got, "long")] == [at(h, 0) * 1000 for h in (9, 10, 11)]
    edges = [(ms(9, 17), ms(9, 59, 59.999)), (ms(10, 0), ms(10, 59, 59.999)), (ms(11, 0), ms(11, 43, 59.999))]
    for (lo, hi), (_, value) in zip(edges, _values(got, "long"), strict=True):
        assert value == pytest.approx(hand_total(sample(), lo, hi, side="long")[0], abs=0.01)
    quarter = depth.bars(reader(store), at(9, 7), at(9, 50), "15m", "side", at(12, 30), Filters())
    assert [ts // 1000 for ts, _ in _values(quarter, "long")] == [at(9, 0), at(9, 15), at(9, 30), at(9, 45)]


def test_bars_end_is_clamped_to_now(tmp_path):
    _, store = folded_sample(tmp_path)
    got = depth.bars(reader(store), at(9, 0), at(23, 0), "1h", "side", at(11, 20), Filters())
    assert got["end"] == at(11, 20) and len(_values(got, "long")) == 3


def test_bars_by_coin_are_the_top_10_and_other(tmp_path):
    store, rows = _many_coins(tmp_path)
    got = depth.bars(reader(store), at(10, 0), at(10, 29), "5m", "coin", at(10, 40), Filters())
    keys = [s["key"] for s in got["series"]]
    assert keys == [f"C{i:02d}" for i in range(24, 14, -1)] + ["other"]
    for step, ts in enumerate(range(at(10, 0), at(10, 30), 300)):
        in_step = [e for e in rows if ts * 1000 <= e["ts_ms"] < (ts + 300) * 1000]
        want = sum(e["usd"] for e in in_step if coin_of(e["symbol"]) not in keys)
        assert _values(got, "other")[step] == [ts * 1000, pytest.approx(want)]
        assert sum(_values(got, k)[step][1] for k in keys) == pytest.approx(sum(e["usd"] for e in in_step))


def test_bars_refuse_more_than_2000_steps_naming_the_step(tmp_path):
    _, store = folded_sample(tmp_path)
    now = DAY_S + 2 * 86400
    ok = depth.bars(reader(store), at(0, 0), at(0, 0) + 1999 * 60, "1m", "side", now, Filters())
    assert len(_values(ok, "long")) == 2000
    with pytest.raises(ValueError, match="2001 steps of 1m"):
        depth.bars(reader(store), at(0, 0), at(0, 0) + 2000 * 60, "1m", "side", now, Filters())
    with pytest.raises(ValueError, match="steps of 15m"):
        depth.bars(reader(store), DAY_S - 30 * 86400, now, "15m", "coin", now, Filters())


def _gappy(tmp_path):
    """binance's sample events; binance live from 10:00, okx from 10:30; folded at 11:00:05."""
    events, store = stores(tmp_path)
    events.append([e for e in sample() if e["exchange"] == "binance"])
    store.fold(events, {"binance": at(10, 0), "okx": at(10, 30)}, at(11, 0, 5))
    return store


def test_bars_show_a_gap_as_null_and_a_covered_quiet_minute_as_zero(tmp_path):
    store = _gappy(tmp_path)
    got = depth.bars(reader(store), at(9, 55), at(10, 5), "1m", "side", at(11, 0, 5), Filters())
    assert [v for _, v in _values(got, "long")] == [None] * 5 + [0.0] * 6
    assert [n for _, n in got["minutes"]] == [0] * 5 + [1] * 6


def test_bars_by_exchange_show_null_for_a_venue_neither_live_nor_liquidated_in_a_step(tmp_path):
    store = _gappy(tmp_path)
    got = depth.bars(reader(store), at(9, 5), at(10, 31), "1m", "exchange", at(11, 0, 5), Filters())
    binance, okx = dict(_values(got, "binance")), dict(_values(got, "okx"))
    assert [s["key"] for s in got["series"]] == ["binance", "okx"]
    assert binance[at(9, 5) * 1000] == pytest.approx(2000.0 * 10.41)  # events, no coverage: still counted
    assert okx[at(9, 5) * 1000] is None and binance[at(9, 6) * 1000] is None  # gap
    assert binance[at(10, 29) * 1000] == 0.0 and okx[at(10, 29) * 1000] is None
    assert binance[at(10, 30) * 1000] == okx[at(10, 30) * 1000] == 0.0


def test_a_daily_bar_equals_the_day_before_and_after_compaction_and_after_a_late_event(tmp_path):
    events, store = folded_sample(tmp_path)
    day_usd = hand_total(sample(), ms(0, 0), ms(23, 59, 59.999))[0]

    def daily(now: float) -> float:
        got = depth.bars(reader(store), DAY_S, DAY_S + 86399, "1d", "side", now, Filters())
        return sum(_values(got, side)[0][1] for side in ("long", "short"))

    assert daily(at(12, 30)) == pytest.approx(day_usd, abs=0.02)
    assert store.fold(events, ALL_LIVE, DAY_S + 86400 + CLOSE_AFTER).compacted == [DAY.isoformat()]
    assert daily(DAY_S + 86400 + CLOSE_AFTER) == pytest.approx(day_usd, abs=0.02)
    late = {"exchange": "okx", "symbol": "SOL-USDT-SWAP", "ts_ms": ms(22, 0), "side": "long"}
    events.append([late | {"qty": 10.0, "price": 150.0, "usd": 1500.0}])
    store.fold(events, ALL_LIVE, DAY_S + 86400 + CLOSE_AFTER + 60)
    assert daily(DAY_S + 86400 + CLOSE_AFTER + 60) == pytest.approx(day_usd + 1500.0, abs=0.02)
