"""``GET /api/liquidation-1h/panic-band``: where the newest panic index stands against its trailing 30 days
(a thin shell over ``panicband``).

The window is every minute record from ``WINDOW_DAYS`` days before the start of the newest record's
10-minute slot up to the newest record itself. Its older part (everything before the slot) only changes
when the store is rewritten, so its sorted, finite ``panic_index`` values are kept in Django's cache,
keyed on the store's path, ``revision()`` and the slot (``newest timestamp // 600``): one 30-day read per
10 minutes per process (per cache, when the cache is shared). The slot's own minutes (at most ten) are
read on every request, so each minute's value is ranked against a window that includes it.

With no record the answer is still 200, with ``ts``, ``value``, ``percent``, ``percentile`` and ``band``
null: a page shows "no band" rather than handle an error.
"""

from __future__ import annotations

import math
from array import array
from itertools import chain
from typing import Any

from django.core.cache import cache
from django.http import HttpResponseBase
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from .. import panicband
from ..store import JsonlStore, Unsorted
from .base import DAY, ERRORS, SeriesAPIView

#: The cached part of the window moves on every this many seconds.
SLOT = 600
#: Long enough to outlive its slot; a newer slot uses a new key anyway.
CACHE_SECONDS = 2 * SLOT
WINDOW = panicband.WINDOW_DAYS * DAY


class PanicBandResponseSerializer(serializers.Serializer):
    ts = serializers.IntegerField(allow_null=True, help_text="The newest record's timestamp, Unix s; null: no data")
    value = serializers.FloatField(allow_null=True, help_text="Its panic_index, as stored")
    percent = serializers.FloatField(allow_null=True, help_text="The same index as a percentage (value × 100)")
    percentile = serializers.FloatField(
        allow_null=True,
        help_text=(
            "Mid-rank percentile (0..100, one decimal) of value among the window's minute values: the share "
            "below it plus half the share equal to it; null with too few samples"
        ),
    )
    band = serializers.ChoiceField(
        choices=["calm", "elevated", "panic"],
        allow_null=True,
        help_text=(
            f"calm: percentile < {panicband.CALM_BELOW:g}; elevated: {panicband.CALM_BELOW:g} ≤ percentile < "
            f"{panicband.PANIC_FROM:g}; panic: percentile ≥ {panicband.PANIC_FROM:g}; null with too few samples"
        ),
    )
    p50 = serializers.FloatField(allow_null=True, help_text="The window's median panic_index (linear interpolation)")
    p90 = serializers.FloatField(allow_null=True, help_text="The window's 90th-percentile panic_index")
    samples = serializers.IntegerField(
        help_text=f"Minute values in the window; at least {panicband.MIN_SAMPLES} are needed for a band"
    )
    window_days = serializers.IntegerField(help_text="The window's length in days")
    window_start = serializers.IntegerField(
        allow_null=True, help_text="The window's first second, Unix s (it ends at ts); null: no data"
    )


def older_values(store: JsonlStore, start: int, end: int) -> array:
    """The finite ``panic_index`` values of the records with ``start <= timestamp <= end``, sorted:
    from Django's cache when this slot of this version of the file was read already."""
    key = f"panicband:{store.describe()}:{store.revision()}:{start}:{end}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        values = [r.get("panic_index") for r in store.iter_range(start, end)]
    except Unsorted:  # out of order around the window: the store's sorted full scan
        values = [r.get("panic_index") for r in store.range(start, end)]
    ordered = array("d", sorted(v for v in values if _finite(v)))
    cache.set(key, ordered, CACHE_SECONDS)
    return ordered


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def band_answer(store: JsonlStore, newest: dict[str, Any] | None) -> dict[str, Any]:
    """The answer for ``newest`` (the store's newest record, or None): see the module docstring."""
    if newest is None:
        return {"ts": None, "percent": None, "window_start": None, **panicband.panic_band([], None)}
    ts = newest["timestamp"]
    slot_start = ts // SLOT * SLOT
    start = slot_start - WINDOW
    recent = [r.get("panic_index") for r in store.range(slot_start, ts)]
    current = newest.get("panic_index")
    current = float(current) if _finite(current) else None
    answer = panicband.panic_band(chain(older_values(store, start, slot_start - 1), recent), current)
    percent = None if current is None else float(f"{current * 100:.10g}")
    return {"ts": ts, "percent": percent, "window_start": start, **answer}


class PanicBandView(SeriesAPIView):
    """The panic index's band against its own trailing 30 days."""

    time_dependent = True
    response_cache = True

    def request_cost(self, request: Request) -> int:
        """1: the 30-day read is done at most once per 10-minute slot and shared by every client."""
        return 1

    @extend_schema(
        summary="Panic index band: its percentile among the trailing 30 days",
        description=(
            "The newest record's panic_index ranked among every minute value of the trailing 30 days (from 30 "
            "days before the start of the newest record's 10-minute slot up to the newest record): mid-rank "
            f"percentile and band (calm below the {panicband.CALM_BELOW:g}th percentile, elevated below the "
            f"{panicband.PANIC_FROM:g}th, panic from it), with the window's p50 and p90. Fewer than "
            f"{panicband.MIN_SAMPLES} values: percentile and band null. No data at all: 200 with nulls."
        ),
        responses={200: PanicBandResponseSerializer, **{k: v for k, v in ERRORS.items() if k != 400}},
    )
    def get(self, request: Request) -> HttpResponseBase:
        if self.hit is not None:
            return self.hit
        if (response := self.not_modified(request)) is not None:
            return response
        return self.keep(Response(band_answer(self.store, self.newest)))


__all__ = ["PanicBandView", "band_answer"]
