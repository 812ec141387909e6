"""The depth endpoints over HTTP: answers on folded fixtures, every 400 naming its parameter, ETag/304,
the throttle's cost, and ``available: false`` without buckets."""

from __future__ import annotations

import pytest

from liquidation.bucketstore import BucketStore
from liquidation.eventstore import EventStore
from tests.api.common import NOW, get

MINUTE_S = NOW // 60 * 60


@pytest.fixture
def folded(liq_settings):
    """Two hours of liquidations on two venues (BTC and PEPE contracts named three ways), folded."""
    folder = liq_settings.LIQUIDATION_EVENTS_DIR
    events = EventStore(folder, load_keys=False)
    symbols = ["BTCUSDT", "BTC-USDT-SWAP", "1000PEPEUSDT", "kPEPE"]
    rows = [
        {
            "exchange": "okx" if i % 2 else "binance",
            "symbol": symbols[i % 4],
            "ts_ms": (NOW - 7200 + i * 60) * 1000 + 5,
            "side": "long" if i % 3 else "short",
            "qty": 1.0,
            "price": 10.0,
            "usd": 1000.0 + i,
        }
        for i in range(120)
    ]
    events.append(rows)
    BucketStore(folder / "buckets").fold(events, {"binance": NOW - 9000, "okx": NOW - 9000}, NOW)
    return rows


def test_summary_totals_every_order_of_the_window_in_plain_usd(client, folded):
    body = get(client, "summary", window="4h").json()
    assert body["available"] is True
    assert body["total_usd"] == pytest.approx(sum(r["usd"] for r in folded), abs=0.01)
    assert body["count"] == 120
    assert {c["coin"] for c in body["by_coin"]} == {"BTC", "PEPE"}
    assert body["largest"] == {
        "usd": 1119.0,
        "exchange": "okx",
        "symbol": "kPEPE",
        "side": "long",
        "ts_ms": folded[-1]["ts_ms"],
    }
    pepe = get(client, "summary", window="4h", coin="1000pepe").json()
    assert pepe["coin"] == "PEPE" and pepe["count"] == 60


def test_bars_are_per_step_sums_with_gaps_as_null(client, folded):
    body = get(client, "bars", step="1h", by="side", start_time=NOW - 4 * 3600, end_time=NOW).json()
    long, short = ({s["key"]: s["values"] for s in body["series"]}[k] for k in ("long", "short"))
    assert long[0][1] is None and short[0][1] is None  # hours before any coverage: gaps, not zeros
    filled = [v for _, v in long if v is not None] + [v for _, v in short if v is not None]
    assert sum(filled) == pytest.approx(sum(r["usd"] for r in folded), abs=0.05)


def test_tape_is_newest_first_and_pages_with_next_before(client, folded):
    first = get(client, "tape", limit=5).json()
    assert [e["usd"] for e in first["results"]] == [1119.0, 1118.0, 1117.0, 1116.0, 1115.0]
    second = get(client, "tape", limit=5, before=first["next_before"]).json()
    assert [e["usd"] for e in second["results"]] == [1114.0, 1113.0, 1112.0, 1111.0, 1110.0]
    assert {"ts_ms", "exchange", "symbol", "coin", "side", "price", "qty", "usd"} <= set(first["results"][0])


def test_tape_after_keeps_only_what_is_newer_than_the_live_tapes_newest_row(client, folded):
    newest = folded[-3]["ts_ms"]
    body = get(client, "tape", limit=50, after=newest).json()
    assert [e["usd"] for e in body["results"]] == [1119.0, 1118.0]
    assert body["count"] == 2
    assert get(client, "tape", after=folded[-1]["ts_ms"]).json()["results"] == []


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("summary", {"window": "2h"}, "window"),
        ("summary", {"exchange": "nasdaq"}, "exchange"),
        ("summary", {"coin": "BTC/USDT"}, "coin"),
        ("summary", {"coin": "X" * 40}, "coin"),
        ("bars", {"step": "2m"}, "step"),
        ("bars", {"by": "venue"}, "by"),
        ("tape", {"after": "-1"}, "after"),
        ("bars", {"step": "1m", "start_time": NOW - 3 * 86400}, "step"),  # 4,321 bars
        ("bars", {"step": "1h", "start_time": NOW - 40 * 86400}, "step"),  # over 31 days below 1d
        ("bars", {"start_time": NOW, "end_time": NOW - 60}, "start_time"),
        ("bars", {"start_time": "yesterday"}, "start_time"),
        ("tape", {"limit": 501}, "limit"),
        ("tape", {"limit": 0}, "limit"),
        ("tape", {"min_usd": -1}, "min_usd"),
        ("tape", {"side": "up"}, "side"),
        ("tape", {"before": (NOW + 3 * 86400) * 1000}, "before"),
        ("tape", {"before": 5}, "before"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(client, folded, path, params, named):
    r = get(client, path, **params)
    assert r.status_code == 400, r.content
    assert list(r.json()) == [named]


def test_a_parameter_given_twice_is_a_400(client, folded):
    r = client.get("/api/liquidation-1h/summary?window=1h&window=4h")
    assert r.status_code == 400 and "window" in r.json()


@pytest.mark.parametrize("path", ["summary", "bars", "tape"])
def test_a_conditional_get_is_answered_304_until_the_next_fold(client, folded, liq_settings, path):
    first = get(client, path)
    assert first.status_code == 200 and first["ETag"]
    again = client.get(f"/api/liquidation-1h/{path}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    folder = liq_settings.LIQUIDATION_EVENTS_DIR
    BucketStore(folder / "buckets").fold(EventStore(folder, load_keys=False), {"okx": NOW - 9000}, NOW + 1)
    assert client.get(f"/api/liquidation-1h/{path}", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


@pytest.mark.parametrize("path", ["summary", "bars", "tape"])
def test_without_buckets_the_answer_is_200_unavailable_with_the_reason(client, liq_settings, path):
    r = get(client, path)
    assert r.status_code == 200
    assert r.json()["available"] is False and "LIQUIDATION_SOURCE=exchanges" in r.json()["detail"]


def test_a_long_bars_request_costs_one_unit_per_day(client, folded, settings):
    settings.LIQUIDATION_API_RATE = "10/min"
    week = get(client, "bars", step="1h", start_time=NOW - 7 * 86400 + 1, end_time=NOW)
    assert week.status_code == 200
    codes = [get(client, "summary").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]  # the week of bars used 7 of the 10


def test_a_bucket_store_rebuilt_from_scratch_is_a_new_version_for_the_cache_and_the_etag(client, folded, liq_settings):
    """A rebuilt store counts its folds from 1 again: the same seq in the same minute must still not
    serve the old store's cached answer or match its ETag."""
    import shutil

    first = get(client, "summary", window="4h")
    folder = liq_settings.LIQUIDATION_EVENTS_DIR
    shutil.rmtree(folder)
    events = EventStore(folder, load_keys=False)
    events.append([{**folded[0], "usd": 999_999.0}])
    BucketStore(folder / "buckets").fold(events, {"binance": NOW - 9000, "okx": NOW - 9000}, NOW)
    second = get(client, "summary", window="4h")
    assert second.json()["count"] == 1 and first.json()["count"] > 1  # not the old store's answer
    assert second.headers["ETag"] != first.headers["ETag"]
