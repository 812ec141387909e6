"""The series API: history, latest, stats and the collector's status (DRF views, thin shells over
the store and ``series``)."""

from __future__ import annotations

import math
import time
from typing import Any

from django.conf import settings
from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import series
from ..conf import state_store
from ..projection import project
from ..serializers import (
    DetailSerializer,
    HistoryQuerySerializer,
    HistoryResponseSerializer,
    LatestResponseSerializer,
    StatsQuerySerializer,
    StatsResponseSerializer,
)
from ..series import parse_time
from ..sharedfiles import read_last_run
from ..store import FUTURE_SLACK
from .base import (
    ERRORS,
    ApiRateThrottle,
    InlineStylesCSP,
    SeriesAPIView,
    no_cache,
    public_last_run,
    public_streams,
)


class HistoryView(SeriesAPIView):
    """The 1-hour liquidation series, oldest first."""

    response_cache = True

    @extend_schema(
        summary="History of the 1h liquidation amount",
        description=(
            "Records of one minute each (or buckets with `interval`), oldest first. Amounts in 万 USD "
            "(10,000 USD), open interest in 亿 USD (100,000,000 USD). Missing minutes are missing: "
            "nothing is interpolated; `gaps` lists them. Buckets fold their records by `agg` (default max)."
        ),
        parameters=[HistoryQuerySerializer],
        responses={200: HistoryResponseSerializer, **ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        if self.hit is not None:
            return self.hit
        q = HistoryQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        p = q.validated_data
        if (response := self.not_modified(request)) is not None:
            return response
        return self.keep(self.answer(p))

    def answer(self, p: dict[str, Any]) -> Response:
        start, end = p.get("start_time"), p.get("end_time")
        records, gaps = series.history(self.store, start, end, p["limit"], p["interval"], p["agg"], time.time())
        response = Response(
            {
                "count": len(records),
                "start": start,
                "end": end,
                "interval": p["interval"],
                "agg": p["agg"],
                "gaps": gaps,
                "results": [
                    project(series.present(r), p["fields"]) if "fields" in p else series.present(r) for r in records
                ],
            }
        )
        # A page that fetches only what is new since its last record reloads the whole range when this changes.
        response.headers["X-Liqsite-Revision"] = self.store.revision()
        return response

    def follows_clock(self, request: Request) -> bool:
        """A window reaching the current minute has gaps that grow while no record comes. Read from
        ``end_time`` alone, before (and, on a cache hit, instead of) validating the whole query: an
        invalid query is answered 400 by ``get`` whatever this says."""
        now = time.time()
        raw = request.query_params.get("end_time")
        try:
            end = None if raw is None else parse_time(raw, now)
        except ValueError:
            return True
        return series.gaps_follow_clock(end, now)


class LatestView(SeriesAPIView):
    time_dependent = True

    @extend_schema(
        summary="The newest record",
        description="The newest record with its age; `stale` when older than LIQUIDATION_STALE_SECONDS.",
        responses={
            200: LatestResponseSerializer,
            404: OpenApiResponse(DetailSerializer, description="No data collected yet"),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> HttpResponseBase:
        if self.newest is None:
            raise NotFound("no data collected yet")
        if (response := self.not_modified(request)) is not None:
            return response
        age = int(time.time()) - self.newest["timestamp"]
        future = age < -FUTURE_SLACK
        return Response(
            {
                **series.present(self.newest),
                "age_seconds": age,
                "stale": future or age > settings.LIQUIDATION_STALE_SECONDS,
                "future": future,
            }
        )


class StatsView(SeriesAPIView):
    time_dependent = True
    response_cache = True

    def request_cost(self, request: Request) -> int:
        q = StatsQuerySerializer(data=request.query_params)
        return math.ceil(q.validated_data["hours"] / 24) if q.is_valid() else 1

    @extend_schema(
        summary="Statistics over the last N hours",
        description=(
            "Count and coverage of minutes, min/max/avg/stddev of hour_1_amount (万 USD) with their times, "
            "change over the last hour, panic_index min/max/avg, and the missing-minute ranges."
        ),
        parameters=[StatsQuerySerializer],
        responses={200: StatsResponseSerializer, **ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        if self.hit is not None:
            return self.hit
        q = StatsQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        if (response := self.not_modified(request)) is not None:
            return response
        now = time.time()
        hours = q.validated_data["hours"]
        minute_end = int(now) // 60 * 60 + 59  # minute-aligned: one cached read serves the whole minute
        records = self.store.range(minute_end - hours * 3600 - 119, minute_end)
        return self.keep(Response(series.stats(records, hours, now)))


class CollectorStatusView(InlineStylesCSP, APIView):
    """What the collector and the listener last said: for dashboards that must explain an empty or
    stale series ("no exchange reachable", "listener not running")."""

    throttle_classes = [ApiRateThrottle]

    @extend_schema(
        summary="Collector and listener status",
        description=(
            "`last_run`: the collector's last outcome (time, outcome ok | duplicate | error | unconfigured, source, "
            "error_class: a short word such as timeout, refused, not-json, no-exchange-reachable). "
            "`streams`: the websocket listener's status.json (per exchange: connected, since, "
            "events stored, frames skipped by reason, reconnects), or null when it never ran."
        ),
        responses={200: OpenApiTypes.OBJECT, 429: ERRORS[429]},
    )
    def get(self, request: Request) -> Response:
        state = state_store()
        return no_cache(
            Response(
                {
                    "last_run": public_last_run(read_last_run(state)),
                    "streams": public_streams(state.read("streams") or None),
                }
            )
        )
