"""``GET /api/liquidation-1h/panic-band`` over HTTP: the band of a seeded window (and what falls outside it),
too few samples, an empty store (200 with nulls), the 10-minute cache of the window's older part, ETag/304,
the throttle's cost, and the OpenAPI schema."""

from __future__ import annotations

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from liquidation.records import build_record, to_line
from liquidation.store import JsonlStore
from tests.api.common import BASE, MINUTE, NOW

URL = BASE + "panic-band"
NEWEST = MINUTE * 60 + 2
SLOT_START = NEWEST // 600 * 600
WINDOW_START = SLOT_START - 30 * 86400


def record(ts: int, panic_index: float) -> dict:
    values = {"hour_1_amount": 100.0, "panic_index": panic_index, "hour_24_amount": 9000.0, "total_position": 104.5}
    return build_record(ts, values, source="coinglass", now=NOW)


def write(store: JsonlStore, records: list[dict]) -> None:
    """The whole file at once (appending 30 days one fsync at a time would be slow)."""
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_bytes(b"".join(to_line(r) for r in records))


@pytest.fixture
def window(liq_settings, store):
    """A minute just before the window (9.9, left out), its first minute (0.0), the 99 minutes before the
    newest at 0.01 … 0.99, and the newest at 0.955."""
    records = [record(WINDOW_START - 58, 9.9), record(WINDOW_START + 2, 0.0)]
    records += [record(NEWEST - 60 * (100 - i), i / 100) for i in range(1, 100)]
    records.append(record(NEWEST, 0.955))
    write(store, records)
    return store


def test_the_newest_value_is_ranked_among_the_trailing_30_days(client, window):
    assert SLOT_START == NEWEST - 2  # the newest record opens its 10-minute slot
    r = client.get(URL)
    assert r.status_code == 200
    body = r.json()
    assert body == {
        "ts": NEWEST,
        "value": 0.955,
        "percent": 95.5,
        # 101 values (0.0, 0.01 … 0.99 and 0.955): 96 below it, itself counted half
        "percentile": round(100 * 96.5 / 101, 1),
        "band": "panic",
        "p50": pytest.approx(0.50),
        "p90": pytest.approx(0.90),
        "samples": 101,
        "window_days": 30,
        "window_start": WINDOW_START,
    }


def test_a_calm_value(client, liq_settings, store):
    write(store, [record(NEWEST - 60 * (100 - i), i / 100) for i in range(1, 100)] + [record(NEWEST, 0.2)])
    body = client.get(URL).json()
    assert (body["band"], body["percentile"], body["percent"]) == ("calm", 20.0, 20.0)


def test_too_few_samples_answer_the_value_without_a_band(client, liq_settings, store):
    write(store, [record(NEWEST - 60 * i, 0.0761) for i in range(9, -1, -1)])
    r = client.get(URL)
    assert r.status_code == 200
    body = r.json()
    assert (body["ts"], body["value"], body["percent"], body["samples"]) == (NEWEST, 0.0761, 7.61, 10)
    assert body["percentile"] is body["band"] is body["p50"] is body["p90"] is None


def test_an_empty_store_answers_200_with_nulls(client, liq_settings):
    r = client.get(URL)
    assert r.status_code == 200
    assert r.json() == {
        "ts": None,
        "value": None,
        "percent": None,
        "percentile": None,
        "band": None,
        "p50": None,
        "p90": None,
        "samples": 0,
        "window_days": 30,
        "window_start": None,
    }
    assert "ETag" not in r.headers and "no-cache" in r.headers["Cache-Control"]


@pytest.fixture
def reads(monkeypatch):
    """How many 30-day reads the view made (``iter_range`` calls)."""
    calls = []
    original = JsonlStore.iter_range

    def counted(self, start, end):
        calls.append((start, end))
        return original(self, start, end)

    monkeypatch.setattr(JsonlStore, "iter_range", counted)
    return calls


def test_the_older_part_is_read_once_per_slot_and_each_new_minute_is_ranked(client, window, reads):
    assert client.get(URL).json()["samples"] == 101
    assert reads == [(WINDOW_START, SLOT_START - 1)]
    with time_machine.travel(NOW + 60, tick=False):
        window.append(record(NEWEST + 60, 5.0), now=NOW + 60)  # same slot
        body = client.get(URL).json()
    assert (body["ts"], body["samples"], body["band"]) == (NEWEST + 60, 102, "panic")
    assert body["percentile"] == round(100 * 101.5 / 102, 1)  # 9.9 is still outside
    assert len(reads) == 1  # the 30 days came from the cache
    with time_machine.travel(NOW + 600, tick=False):
        window.append(record(NEWEST + 600, 0.5), now=NOW + 600)  # the next slot
        body = client.get(URL).json()
    assert reads[1] == (WINDOW_START + 600, SLOT_START + 599)
    assert body["samples"] == 102 and body["window_start"] == WINDOW_START + 600  # 0.0's minute left


def test_a_rewritten_store_is_read_again(client, window, reads):
    client.get(URL)
    window.rewrite(lambda _: [record(NEWEST - 60 * i, 0.1) for i in range(70, -1, -1)])  # as prune/repair do
    body = client.get(URL).json()
    assert len(reads) == 2 and body["samples"] == 71 and body["percentile"] == 50.0


def test_etag_304_until_the_next_minute(client, window):
    first = client.get(URL)
    etag = first.headers["ETag"]
    assert "public" in first.headers["Cache-Control"]
    again = client.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.headers["ETag"] == etag
    with time_machine.travel(NOW + 60, tick=False):  # clock-dependent, like latest
        assert client.get(URL, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_a_request_costs_one_unit(client, window, settings):
    settings.LIQUIDATION_API_RATE = "3/min"
    cache.clear()
    assert [client.get(URL).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_it_is_named_and_in_the_openapi_schema(client):
    assert reverse("liquidation-panic-band") == URL
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"][URL]["get"]
    assert {"200", "304", "429"} <= set(operation["responses"])
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(component["properties"]) == {
        "ts",
        "value",
        "percent",
        "percentile",
        "band",
        "p50",
        "p90",
        "samples",
        "window_days",
        "window_start",
    }
