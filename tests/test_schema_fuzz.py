"""Schemathesis, a client nobody here wrote, fuzzes the API from its own OpenAPI schema.

It must find no server error and no response (status, content type, body) the schema does not
describe. Positive/negative acceptance checks are left out on purpose: times outside 2009…tomorrow
and start > end are valid strings to the schema yet correctly refused with 400.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from liquidation.records import build_record

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(liq_settings, store):
    import time

    from django.core.cache import cache

    from liqsite.wsgi import application

    liq_settings.LIQUIDATION_API_RATE = None
    cache.clear()
    now = int(time.time())
    for i in range(180, 0, -1):
        if 60 < i < 70:
            continue  # a gap
        store.append(
            build_record(
                now - 60 * i,
                {"hour_1_amount": 100 + i, "panic_index": 0.07, "hour_24_amount": 9000, "total_position": 104.7},
                source="panic-api",
                source_time=now - 60 * i - 5,
                hour_1_long=60.5,
                hour_1_short=39.5,
                by_exchange={"binance": {"hour_1": 50.0, "open_interest": 30.0}},
            )
        )
    _fold_some_events(liq_settings.LIQUIDATION_EVENTS_DIR, now)
    return schemathesis.openapi.from_wsgi("/api/schema/", application)


def _fold_some_events(folder, now: int) -> None:
    """Two hours of liquidations on two venues, folded into minute buckets (the depth endpoints' data)."""
    from liquidation.bucketstore import BucketStore
    from liquidation.eventstore import EventStore

    events = EventStore(folder, load_keys=False)
    symbols = ["BTCUSDT", "ETH-USDT-SWAP", "kPEPE", "SOL_USDT"]
    events.append(
        {
            "exchange": "okx" if i % 3 else "binance",
            "symbol": symbols[i % 4],
            "ts_ms": (now - 7200 + i * 37) * 1000,
            "side": "long" if i % 2 else "short",
            "qty": 1.0,
            "price": 100.0 + i,
            "usd": 1000.0 + i * 10,
        }
        for i in range(190)
    )
    BucketStore(folder / "buckets").fold(events, {"binance": now - 5400, "okx": now - 9000}, now)


#: schemathesis copies requests' default headers, which ask for gzip, br and zstd (urllib3 offers what is
#: installed), but its WSGI transport hands over the body undecoded: ask for it uncompressed.
#: Compression has its own tests (tests/api/test_compression.py).
PLAIN = {"Accept-Encoding": "identity"}

WITH_PARAMETERS = ["history", "stats", "export.csv", "export.jsonl", "summary", "bars", "tape"]
CASES = [(p, GenerationMode.POSITIVE) for p in [*WITH_PARAMETERS, "latest"]] + [
    (p, GenerationMode.NEGATIVE)
    for p in WITH_PARAMETERS  # latest has no parameters to break
]


@pytest.mark.parametrize(("endpoint", "mode"), CASES, ids=[f"{p}-{m.value}" for p, m in CASES])
def test_api_conforms_to_its_schema(api_schema, endpoint, mode):
    # Driven through Hypothesis directly rather than schemathesis' pytest plugin, which does not
    # work with pytest 9 ('Function' object has no attribute '_nodeid').
    operation = api_schema[f"/api/liquidation-1h/{endpoint}"]["GET"]
    seen: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case):
        response = case.call(headers=PLAIN)
        seen.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    fuzz()
    assert seen, "schemathesis generated no requests"
    if mode is GenerationMode.POSITIVE:
        assert 200 in seen


@pytest.mark.parametrize("endpoint", ["summary", "bars", "tape"])
def test_depth_endpoints_without_buckets_answer_unavailable_as_their_schema_says(liq_settings, endpoint):
    from liqsite.wsgi import application

    liq_settings.LIQUIDATION_API_RATE = None
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    liq_settings.LIQUIDATION_EVENTS_DIR = liq_settings.LIQUIDATION_EVENTS_DIR.parent / "no-buckets-here"
    case = schema[f"/api/liquidation-1h/{endpoint}"]["GET"].Case(query={})
    response = case.call(headers=PLAIN)
    assert response.status_code == 200
    assert response.json()["available"] is False and "LIQUIDATION_SOURCE=exchanges" in response.json()["detail"]
    case.validate_response(response, checks=CHECKS)
