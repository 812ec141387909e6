"""The REST API on a seeded store: shapes, values, 400s naming the parameter, caching, throttling."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest
import time_machine
from rest_framework.test import APIClient

from liquidation.records import build_record
from tests.api.common import BASE, GAP, MINUTE, NOW, get

# -- history ---------------------------------------------------------------------------------------


def test_history_default_is_the_last_1440_records_oldest_first_with_time(client, seeded):
    r = get(client, "history")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == len(seeded) == 175
    assert (body["start"], body["end"], body["interval"]) == (None, None, "1m")
    first = body["results"][0]
    assert first == {**seeded[0], "time": "2026-11-25T15:01:02+08:00"}
    stamps = [x["timestamp"] for x in body["results"]]
    assert stamps == sorted(stamps)


def test_history_limit_and_window_echo(client, seeded):
    start, end = seeded[10]["timestamp"], seeded[20]["timestamp"]
    body = get(client, "history", start_time=start, end_time=end, limit=3).json()
    assert body["start"] == start
    assert body["end"] == end
    assert [x["timestamp"] for x in body["results"]] == [s["timestamp"] for s in seeded[18:21]]


def test_history_does_not_invent_missing_minutes(client, seeded):
    body = get(client, "history", start_time=(MINUTE - 59) * 60).json()
    minutes = {x["timestamp"] // 60 for x in body["results"]}
    assert not minutes & set(GAP)
    assert body["count"] == 55  # 60 minutes less the 5 missing ones


@pytest.mark.parametrize(
    "start",
    [
        str((MINUTE - 10) * 60),
        str((MINUTE - 10) * 60 * 1000),
        "2026-11-25 17:50",
        "2026-11-25 17:50:00",
        "2026-11-25T17:50:00",
        "2026-11-25T17:50:00+08:00",
        "2026-11-25T09:50:00Z",
    ],
)
def test_history_start_time_in_every_format(client, seeded, start):
    body = get(client, "history", start_time=start).json()
    assert body["start"] == (MINUTE - 10) * 60
    assert body["count"] == 11


def test_history_interval_buckets_with_peak_and_never_more_than_limit(client, seeded):
    body = get(client, "history", interval="15m", limit=4).json()
    assert body["interval"] == "15m"
    assert body["count"] == 4
    last = body["results"][-1]
    assert last["timestamp"] == seeded[-1]["timestamp"]
    assert last["max_hour_1_amount"] == max(r["hour_1_amount"] for r in seeded if r["timestamp"] // 900 == NOW // 900)
    hourly = get(client, "history", interval="1h", limit=1440).json()
    assert hourly["count"] == 4  # 3 h of data spans 4 clock hours; nothing invented


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "43201"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "nan"}, "limit"),
        ({"limit": "inf"}, "limit"),
        ({"limit": "1e20"}, "limit"),
        ({"limit": "9" * 400}, "limit"),
        ({"limit": "\x00"}, "limit"),
        ({"start_time": "nan"}, "start_time"),
        ({"start_time": "inf"}, "start_time"),
        ({"start_time": "1e20"}, "start_time"),
        ({"start_time": "9" * 400}, "start_time"),
        ({"start_time": "\x00"}, "start_time"),
        ({"start_time": "2008-12-31 00:00"}, "start_time"),
        ({"end_time": str(NOW + 2 * 86400)}, "end_time"),
        ({"end_time": "tomorrow"}, "end_time"),
        ({"interval": "2m"}, "interval"),
        ({"start_time": str(NOW - 60), "end_time": str(NOW - 120)}, "start_time"),
    ],
)
def test_history_bad_parameters_are_400_naming_the_parameter(client, seeded, params, field):
    r = get(client, "history", **params)
    assert r.status_code == 400
    body = r.json()
    assert list(body) == [field]
    assert isinstance(body[field], list)
    assert body[field][0]


def test_history_time_error_says_what_is_accepted(client, seeded):
    body = get(client, "history", start_time="yesterday").json()
    assert body == {"start_time": ["expected Unix seconds, Unix ms, ISO 8601 or 'YYYY-MM-DD HH:MM[:SS]'"]}


def test_repeated_parameter_is_400_and_unknown_parameters_are_ignored(client, seeded):
    r = client.get(BASE + "history?limit=5&limit=6")
    assert r.status_code == 400
    assert "limit" in r.json()
    assert get(client, "history", limit=5, colour="amber").json()["count"] == 5


def test_history_on_an_empty_store(client, liq_settings):
    body = get(client, "history").json()
    assert body == {"count": 0, "start": None, "end": None, "interval": "1m", "agg": "max", "gaps": [], "results": []}


def test_a_nan_line_in_the_file_is_skipped_not_a_500(client, seeded, store):
    with open(store.path, "ab") as f:
        f.write(
            b'{"timestamp": 1795608100, "datetime": "x", "hour_1_amount": NaN, "panic_index": 1, '
            b'"hour_24_amount": 1, "total_position": 1}\n'
        )
    r = get(client, "history")
    assert r.status_code == 200
    assert r.json()["count"] == 175
    assert get(client, "latest").status_code == 200


# -- latest ----------------------------------------------------------------------------------------


def test_latest_with_age_and_stale(client, seeded, liq_settings):
    body = get(client, "latest").json()
    assert body["timestamp"] == seeded[-1]["timestamp"]
    assert body["age_seconds"] == 28
    assert body["stale"] is False
    assert body["by_exchange"]["binance"]["open_interest"] == 30.12
    liq_settings.LIQUIDATION_STALE_SECONDS = 10
    assert get(client, "latest").json()["stale"] is True


def test_latest_without_data_is_404(client, liq_settings):
    r = get(client, "latest")
    assert r.status_code == 404
    assert r.json() == {"detail": "no data collected yet"}


# -- stats -----------------------------------------------------------------------------------------


def test_stats_24h(client, seeded):
    body = get(client, "stats", hours=3).json()
    assert body["count"] == 175
    assert body["expected"] == 180
    assert body["coverage"] == round(175 / 180, 4)
    assert body["gaps"] == [[GAP[0] * 60, GAP[-1] * 60]]
    assert body["missing_minutes"] == 5
    assert body["hour_1_amount"]["max"] == seeded[-1]["hour_1_amount"]
    assert body["hour_1_amount"]["max_at"] == seeded[-1]["timestamp"]
    assert body["hour_1_amount"]["min"] == 100
    assert body["change_1h"] == 60
    assert body["panic_index"]["min"] == 0.05
    assert body["latest"]["timestamp"] == seeded[-1]["timestamp"]


@pytest.mark.parametrize("hours", ["0", "721", "x", "nan", "1.5"])
def test_stats_hours_out_of_range_is_400(client, seeded, hours):
    r = get(client, "stats", hours=hours)
    assert r.status_code == 400
    assert list(r.json()) == ["hours"]


# -- exports ---------------------------------------------------------------------------------------


def test_csv_export_parses_back_to_the_json(client, seeded):
    params = {"start_time": seeded[100]["timestamp"]}
    response = client.get(BASE + "export.csv", params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="liquidation_1h_')
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert "by_exchange.binance.hour_1" in rows[0]
    expected = get(client, "history", **params).json()["results"]
    assert len(rows) == len(expected) == 75

    def unflatten(row):
        out = {}
        for key, cell in row.items():
            if cell == "":
                continue
            value = cell if key in ("datetime", "time", "source") else json.loads(cell)
            node = out
            *parents, leaf = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
        return out

    assert [unflatten(r) for r in rows] == expected


def test_jsonl_export_is_the_stored_lines(client, seeded, store):
    response = client.get(BASE + "export.jsonl", {"limit": 3}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-ndjson")
    body = b"".join(response.streaming_content)
    assert body.splitlines(keepends=True) == store.path.read_bytes().splitlines(keepends=True)[-3:]


def test_export_errors_are_json_400s(client, seeded):
    r = client.get(BASE + "export.csv", {"limit": "-1"})
    assert r.status_code == 400
    assert r["Content-Type"] == "application/json"
    assert "limit" in r.json()


# -- caching -------------------------------------------------------------------------------------


def test_etag_last_modified_and_304(client, seeded):
    r = get(client, "history", limit=5)
    etag, modified = r["ETag"], r["Last-Modified"]
    assert etag.startswith('W/"')
    assert modified == "Wed, 25 Nov 2026 10:00:02 GMT"
    assert r["Cache-Control"] == "public, max-age=30"
    again = client.get(BASE + "history", {"limit": 5}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    since = client.get(BASE + "history", {"limit": 5}, HTTP_IF_MODIFIED_SINCE=modified)
    assert since.status_code == 304


def test_a_new_record_changes_the_etag(client, seeded, store):
    etag = get(client, "latest")["ETag"]
    store.append(
        build_record(NOW + 60, {"hour_1_amount": 1, "panic_index": 0, "hour_24_amount": 1, "total_position": 1})
    )
    r = client.get(BASE + "latest", HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 200
    assert r["ETag"] != etag


@pytest.mark.parametrize("path", ["latest", "stats"])
def test_clock_dependent_answers_are_not_304_forever_when_the_collector_stops(client, seeded, path):
    etag = get(client, path)["ETag"]
    assert client.get(BASE + path, HTTP_IF_NONE_MATCH=etag).status_code == 304
    with time_machine.travel(NOW + 60, tick=False):
        later = client.get(BASE + path, HTTP_IF_NONE_MATCH=etag)
    assert later.status_code == 200
    if path == "latest":
        assert later.json()["age_seconds"] == 88


def test_history_etag_does_not_depend_on_the_clock(client, seeded):
    # A window that ended before the current minute: its gaps cannot grow with time either.
    params = {"limit": 5, "end_time": NOW - 600}
    etag = get(client, "history", **params)["ETag"]
    with time_machine.travel(NOW + 600, tick=False):
        assert client.get(BASE + "history", params, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_html_and_json_have_different_etags(seeded):
    html = APIClient(HTTP_ACCEPT="text/html").get(BASE + "latest")
    assert html.status_code == 200
    assert b"<html" in html.content
    assert html["ETag"] != APIClient(HTTP_ACCEPT="application/json").get(BASE + "latest")["ETag"]
    assert "Accept" in html["Vary"]


# -- throttling ------------------------------------------------------------------------------------


def test_throttle_answers_429_with_retry_after(client, seeded, settings):
    settings.LIQUIDATION_API_RATE = "3/min"
    codes = [get(client, "latest").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = get(client, "latest")
    assert int(r["Retry-After"]) > 0
    assert client.get("/healthz").status_code == 200  # never throttled


def test_throttle_holds_despite_a_random_x_forwarded_for_per_request(client, seeded, settings):
    settings.LIQUIDATION_API_RATE = "3/min"
    codes = [
        client.get(BASE + "latest", HTTP_X_FORWARDED_FOR=f"10.0.{random.randint(0, 255)}.{i}").status_code
        for i in range(5)
    ]
    assert codes[-1] == 429
    assert codes.count(200) == 3
