"""``GET /api/fear-greed`` over HTTP: the stored days oldest first, 400 naming ``days``, ``available: false``
when off or empty (200, never a 4xx), ETag/304, Cache-Control, the throttle, and its OpenAPI schema."""

from __future__ import annotations

import json

import pytest
import schemathesis
import time_machine
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from liquidation import feargreed
from tests.api.common import NOW
from tests.test_schema_fuzz import CHECKS, PLAIN

URL = "/api/fear-greed"
DAY = 86400


@pytest.fixture
def stored(liq_settings, fixture_bytes):
    """The 30 days of the recorded-format history (2026-10-27 … 2026-11-25), fetched an hour ago."""
    liq_settings.FEAR_GREED_URL = "http://127.0.0.1:9/fng/"  # on; never asked in these tests
    days = feargreed.parse(json.loads(fixture_bytes("feargreed/history.json")), now=NOW)
    feargreed.write(liq_settings.FEAR_GREED_FILE, days, NOW - 3600)
    return days


def test_answers_the_last_days_oldest_first_with_when_they_were_fetched(client, stored):
    r = client.get(URL, {"days": 3})
    assert r.status_code == 200
    assert r.json() == {
        "available": True,
        "results": [
            {"date": "2026-11-23", "ts": 1795392000, "value": 48, "classification": "Neutral"},
            {"date": "2026-11-24", "ts": 1795478400, "value": 50, "classification": "Neutral"},
            {"date": "2026-11-25", "ts": 1795564800, "value": 53, "classification": "Neutral"},
        ],
        "updated": NOW - 3600,
    }


def test_by_default_a_year_is_asked_for_and_every_stored_day_inside_it_answers(client, stored):
    results = client.get(URL).json()["results"]
    assert len(results) == 30
    assert results == [dict(d) for d in stored]


@pytest.mark.parametrize("days", ["0", "3651", "-1", "abc", "1.5", "1e3"])
def test_a_bad_days_is_a_400_naming_it(client, stored, days):
    r = client.get(URL, {"days": days})
    assert r.status_code == 400
    assert list(r.json()) == ["days"]


def test_days_given_twice_is_a_400_naming_it(client, stored):
    r = client.get(URL + "?days=7&days=30")
    assert r.status_code == 400
    assert r.json() == {"days": ["given more than once; give it once"]}


def test_turned_off_it_answers_200_unavailable_saying_why_even_with_a_file(client, stored, liq_settings):
    liq_settings.FEAR_GREED_URL = ""
    r = client.get(URL)
    assert r.status_code == 200
    assert r.json() == {
        "available": False,
        "detail": "The Fear & Greed Index is turned off on this server (FEAR_GREED_URL=off).",
    }
    assert "no-cache" in r.headers["Cache-Control"]


def test_with_nothing_stored_yet_it_answers_200_unavailable_saying_why(client, liq_settings):
    liq_settings.FEAR_GREED_URL = "http://127.0.0.1:9/fng/"
    r = client.get(URL, {"days": 30})
    assert r.status_code == 200
    body = r.json()
    assert body["available"] is False
    assert "collect_liquidation" in body["detail"] and "once an hour" in body["detail"]
    assert "ETag" not in r.headers


def test_etag_304_until_the_next_fetch_or_the_next_utc_day(client, stored, liq_settings):
    first = client.get(URL, {"days": 7})
    etag = first.headers["ETag"]
    assert first.headers["Last-Modified"] == "Wed, 25 Nov 2026 09:00:30 GMT"
    assert "public" in first.headers["Cache-Control"] and "max-age=300" in first.headers["Cache-Control"]
    again = client.get(URL, {"days": 7}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    feargreed.write(liq_settings.FEAR_GREED_FILE, stored, NOW)  # the collector fetched again
    assert client.get(URL, {"days": 7}, HTTP_IF_NONE_MATCH=etag).status_code == 200
    etag = client.get(URL, {"days": 7}).headers["ETag"]
    with time_machine.travel(NOW + DAY, tick=False):  # a new day: the window moved
        assert client.get(URL, {"days": 7}, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_it_is_throttled_like_the_rest_of_the_api(client, stored, settings):
    settings.LIQUIDATION_API_RATE = "2/min"
    cache.clear()
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 429]


def test_it_is_in_the_openapi_schema_with_its_parameter(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/fear-greed"]["get"]
    assert [p["name"] for p in operation["parameters"] if p["in"] == "query"] == ["days"]
    assert {"200", "304", "400", "429"} <= set(operation["responses"])


@pytest.fixture
def api_schema(stored, liq_settings):
    from liqsite.wsgi import application

    liq_settings.LIQUIDATION_API_RATE = None
    cache.clear()
    return schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_answers_conform_to_the_schema_under_fuzzing(api_schema, mode):
    operation = api_schema[URL]["GET"]
    seen: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case):
        response = case.call(headers=PLAIN)
        seen.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    fuzz()
    assert (200 if mode is GenerationMode.POSITIVE else 400) in seen


def test_the_unavailable_answer_conforms_to_the_schema(api_schema, liq_settings):
    liq_settings.FEAR_GREED_URL = ""
    case = api_schema[URL]["GET"].Case(query={})
    response = case.call(headers=PLAIN)
    assert response.json()["available"] is False
    case.validate_response(response, checks=CHECKS)
