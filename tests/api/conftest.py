"""Fixtures of the API tests: a frozen clock, no throttle, a JSON client and a seeded store."""

from __future__ import annotations

import pytest
import time_machine
from django.core.cache import cache
from rest_framework.test import APIClient

from liquidation.records import build_record
from tests.api.common import GAP, MINUTE, NOW


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.LIQUIDATION_API_RATE = None
    cache.clear()


@pytest.fixture
def client() -> APIClient:
    return APIClient(HTTP_ACCEPT="application/json")


@pytest.fixture
def seeded(liq_settings, store):
    """Three hours of minutes (collected at second 2), with a five-minute gap, and a by_exchange split."""
    records = []
    for m in range(MINUTE - 179, MINUTE + 1):
        if m in GAP:
            continue
        i = m - (MINUTE - 179)
        r = build_record(
            m * 60 + 2,
            {
                "hour_1_amount": 100 + i,
                "panic_index": 0.05 + i / 10000,
                "hour_24_amount": 9000 + i,
                "total_position": 104.5,
            },
            source="coinglass",
            by_exchange={"binance": {"hour_1": 40.0 + i, "open_interest": 30.12}},
            lower_bound=False,
        )
        store.append(r)
        records.append(r)
    return records
