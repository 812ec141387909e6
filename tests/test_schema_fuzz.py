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
    return schemathesis.openapi.from_wsgi("/api/schema/", application)


WITH_PARAMETERS = ["history", "stats", "export.csv", "export.jsonl"]
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
        response = case.call()
        seen.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    fuzz()
    assert seen, "schemathesis generated no requests"
    if mode is GenerationMode.POSITIVE:
        assert 200 in seen
