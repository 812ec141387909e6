"""History's ``gaps`` and ``agg`` over HTTP (the seeded store and helpers of ``test_api``)."""

from __future__ import annotations

import json

import pytest
import time_machine

from liquidation.records import build_record
from tests.api.common import BASE, GAP, MINUTE, NOW, get

# -- history: agg and gaps -------------------------------------------------------------------------

HOUR_START = NOW - NOW % 3600 - 3600  # the clock hour before NOW's


@pytest.fixture
def spiky(liq_settings, store):
    """One whole clock hour of minutes at 10 万 USD with a one-minute spike (minute 17)."""
    for i in range(60):
        spike = i == 17
        values = {
            "hour_1_amount": 500.0 if spike else 10.0,
            "panic_index": 0.9 if spike else 0.05,
            "hour_24_amount": 9000 + i,
            "total_position": 104.5 - i / 100,
        }
        store.append(build_record(HOUR_START + 60 * i + 2, values, source="coinglass", lower_bound=False))


def hourly(client, **params):
    return get(client, "history", interval="1h", start_time=HOUR_START, end_time=HOUR_START + 3599, **params).json()


def test_history_agg_max_shows_a_one_minute_peak_that_last_hides(client, spiky):
    default, last = hourly(client), hourly(client, agg="last")
    assert default["agg"] == "max" and last["agg"] == "last"
    [peak], [hidden] = default["results"], last["results"]
    assert (peak["hour_1_amount"], peak["panic_index"]) == (500.0, 0.9)
    assert (hidden["hour_1_amount"], hidden["panic_index"]) == (10.0, 0.05)
    assert peak["hour_24_amount"] == 9059  # each field its own max: the last minute's
    assert peak["total_position"] == 104.5  # ... and the first minute's
    assert peak["timestamp"] == hidden["timestamp"] == HOUR_START + 59 * 60 + 2
    assert peak["datetime"] == hidden["datetime"]
    assert (peak["count"], peak["agg"], peak["max_hour_1_amount"]) == (60, "max", 500.0)
    assert peak["lower_bound"] is False and peak["source"] == "coinglass"


def test_history_agg_mean(client, spiky):
    body = hourly(client, agg="mean")
    [b] = body["results"]
    assert body["agg"] == b["agg"] == "mean"
    assert b["hour_1_amount"] == round((59 * 10 + 500) / 60, 6)
    assert b["hour_24_amount"] == 9029.5
    assert b["max_hour_1_amount"] == 500.0


def test_history_agg_is_ignored_for_minutes_but_echoed(client, spiky):
    body = get(client, "history", start_time=HOUR_START, agg="mean").json()
    assert body["agg"] == "mean"
    assert body["count"] == 60
    assert "count" not in body["results"][0] and "agg" not in body["results"][0]
    assert body["results"][17]["hour_1_amount"] == 500.0


@pytest.mark.parametrize("agg", ["median", "MAX", "max,last", "0"])
def test_history_bad_agg_is_a_400_naming_agg(client, spiky, agg):
    r = get(client, "history", interval="1m", agg=agg)
    assert r.status_code == 400
    assert list(r.json()) == ["agg"]
    assert "agg" in r.content.decode()


def test_history_gaps_of_a_range_with_a_hole_and_of_a_full_range(client, seeded):
    body = get(client, "history", start_time=(MINUTE - 59) * 60).json()
    assert body["gaps"] == [[GAP[0] * 60, GAP[-1] * 60]]
    assert get(client, "history", start_time=(MINUTE - 30) * 60).json()["gaps"] == []
    assert get(client, "history", limit=20).json()["gaps"] == []


def test_history_gaps_lead_when_start_is_before_the_first_record(client, seeded):
    body = get(client, "history", start_time=(MINUTE - 189) * 60, end_time=(MINUTE - 100) * 60 + 59).json()
    assert body["gaps"] == [[(MINUTE - 189) * 60, (MINUTE - 180) * 60]]
    assert body["count"] == 80


def test_history_gaps_never_cover_the_future_or_the_current_minute_before_its_record(client, liq_settings, store):
    for m in range(MINUTE - 10, MINUTE):  # the current minute not collected yet
        values = {"hour_1_amount": 1, "panic_index": 0, "hour_24_amount": 1, "total_position": 1}
        store.append(build_record(m * 60 + 2, values))
    body = get(client, "history", start_time=(MINUTE - 10) * 60, end_time=NOW + 3600).json()
    assert body["count"] == 10
    assert body["gaps"] == []


def test_history_gaps_for_hourly_buckets(client, seeded):
    body = get(client, "history", interval="1h").json()
    first_hour = (MINUTE - 179) // 60 * 60  # the first bucket's start; the data begins a minute later
    assert body["results"][0]["timestamp"] // 3600 * 60 == first_hour
    assert body["gaps"] == [[first_hour * 60, first_hour * 60], [GAP[0] * 60, GAP[-1] * 60]]
    assert sum(b["count"] for b in body["results"]) == len(seeded)


def test_history_trailing_gap_grows_and_the_etag_follows_the_clock_when_collection_stops(client, seeded):
    first = get(client, "history", start_time=(MINUTE - 59) * 60)
    assert first.json()["gaps"] == [[GAP[0] * 60, GAP[-1] * 60]]
    with time_machine.travel(NOW + 300, tick=False):
        later = client.get(BASE + "history", {"start_time": (MINUTE - 59) * 60}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert later.status_code == 200
    assert later.json()["gaps"] == [[GAP[0] * 60, GAP[-1] * 60], [(MINUTE + 1) * 60, (MINUTE + 4) * 60]]


def test_schema_documents_agg_and_gaps(client):
    schema = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    params = {p["name"]: p for p in schema["paths"]["/api/liquidation-1h/history"]["get"]["parameters"]}
    assert params["agg"]["schema"]["enum"] == ["max", "mean", "last"]
    assert params["agg"]["schema"]["default"] == "max"
    assert "one-minute peak" in params["agg"]["description"]
    comps = schema["components"]["schemas"]
    history = comps["HistoryResponse"]
    assert {"gaps", "agg"} <= set(history["properties"]) and {"gaps", "agg"} <= set(history["required"])
    assert "Missing minutes" in history["properties"]["gaps"]["description"]
    record = comps["Record"]
    assert {"count", "agg"} <= set(record["properties"])
    assert not {"count", "agg"} & set(record["required"])
    assert record["properties"]["count"]["description"]


def test_exports_fold_buckets_like_history(client, spiky):
    window = {"interval": "1h", "start_time": HOUR_START, "end_time": HOUR_START + 3599}
    [bucket] = _jsonl(get(client, "export.jsonl", **window))
    assert bucket["hour_1_amount"] == 500.0 and bucket["agg"] == "max" and bucket["count"] == 60
    [last] = _jsonl(get(client, "export.jsonl", agg="last", **window))
    assert last["hour_1_amount"] == 10.0


def _jsonl(response) -> list[dict]:
    return [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]


def test_history_revision_holds_across_appends_and_changes_when_the_store_is_rewritten(client, spiky, store):
    first = get(client, "history", limit=5)["X-Liqsite-Revision"]
    values = {"hour_1_amount": 1.0, "panic_index": 0.01, "hour_24_amount": 9100, "total_position": 104.0}
    store.append(build_record(HOUR_START + 3600 + 2, values, source="coinglass"))
    assert get(client, "history", limit=5)["X-Liqsite-Revision"] == first
    store.rewrite(lambda records: records[1:])  # what prune, import and repair do
    assert get(client, "history", limit=5)["X-Liqsite-Revision"] != first


# -- history: fields ------------------------------------------------------------------------------------


def test_history_fields_keeps_only_the_named_parts_and_the_timestamp(client, store, liq_settings):
    split = {"binance": {"hour_1": 5.0, "hour_24": 50.0, "open_interest": 9.0}, "okx": {"hour_1": 2.0}}
    values = {"hour_1_amount": 7.0, "panic_index": 0.05, "hour_24_amount": 70.0, "total_position": 100.0}
    store.append(build_record(HOUR_START + 2, values, source="exchanges", by_exchange=split, lower_bound=True))
    body = get(client, "history", start_time=HOUR_START, fields="hour_1_amount,by_exchange.hour_1,lower_bound").json()
    assert body["results"] == [
        {
            "timestamp": HOUR_START + 2,
            "hour_1_amount": 7.0,
            "by_exchange": {"binance": {"hour_1": 5.0}, "okx": {"hour_1": 2.0}},
            "lower_bound": True,
        }
    ]
    whole = get(client, "history", start_time=HOUR_START, fields="by_exchange,by_exchange.hour_1").json()
    assert whole["results"][0]["by_exchange"] == split  # the whole field wins over one of its parts


@pytest.mark.parametrize("fields", [",", "Hour_1", "a.b.c", "x" * 70, ",".join(f"f{i}" for i in range(31))])
def test_history_bad_fields_is_a_400_naming_fields(client, seeded, fields):
    response = get(client, "history", fields=fields)
    assert response.status_code == 400
    assert list(response.json()) == ["fields"]
