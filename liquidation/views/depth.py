"""The depth API: summary, bars and tape over the minute buckets and the event store (thin shells over
``depth``). When this server keeps no buckets (another source, or before the first keyless collection)
each answers 200 with ``"available": false`` and a sentence saying why, so a page never logs an error."""

from __future__ import annotations

import math
import time
from typing import Any

from django.http import HttpResponseBase
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import depth
from ..bucketread import reader_for
from ..conf import get_buckets, get_events
from ..depth_serializers import (
    BarsQuerySerializer,
    BarsResponseSerializer,
    SummaryQuerySerializer,
    SummaryResponseSerializer,
    TapeQuerySerializer,
    TapeResponseSerializer,
    UnavailableSerializer,
)
from .base import DAY, ERRORS, ApiRateThrottle, InlineStylesCSP, ResponseCacheMixin, cache_control_to_next_minute


def _answer(name: str, serializer: type) -> OpenApiResponse:
    """The answer, or ``{"available": false, "detail"}`` (also 200) when this server keeps no buckets."""
    return OpenApiResponse(
        PolymorphicProxySerializer(
            component_name=name, serializers=[serializer, UnavailableSerializer], resource_type_field_name=None
        ),
        description='The answer; or, when this server keeps no minute buckets, `{"available": false, "detail"}`',
    )


class DepthAPIView(ResponseCacheMixin, InlineStylesCSP, APIView):
    """Validates the query (400 naming the parameter), answers ``available: false`` without buckets,
    and makes the ETag and the response cache's version from the newest committed fold (plus the
    minute, as windows end now)."""

    throttle_classes = [ApiRateThrottle]
    query_class: type = SummaryQuerySerializer
    response_cache = True

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.store = get_buckets()
        self.reader = reader_for(self.store)
        # Read before anything the answer is made of: an answer is never kept under a newer version than its data.
        self.data_version = self.version()
        if self.reader.available():
            self.look_up(request, self.data_version, None)  # the version holds the minute already

    def query(self, request: Request) -> dict[str, Any]:
        q = self.query_class(data=request.query_params)
        q.is_valid(raise_exception=True)
        return q.validated_data

    def version(self) -> str:
        """What the answer is made of: which bucket store and when its fold log last changed (a store
        rebuilt from scratch counts its folds from 1 again, and may even get the old file's inode back), its
        newest committed fold, and the minute (windows end now)."""
        return f"{self.store.identity()}-{self.reader.committed()}-{int(time.time()) // 60}"

    def answer(self, request: Request, compute: Any) -> HttpResponseBase:
        if not self.reader.available():
            response = Response({"available": False, "detail": depth.NOT_AVAILABLE})
            patch_cache_control(response, no_cache=True)
            return response
        fmt = getattr(request.accepted_renderer, "format", "any")
        etag = f'W/"{self.data_version}-{fmt}"'
        response = get_conditional_response(request, etag=etag)
        if response is None:
            response = self.keep(Response(compute()))
        response.headers["ETag"] = etag
        cache_control_to_next_minute(response)
        patch_vary_headers(response, ["Accept"])
        return response


def _filters(p: dict[str, Any]) -> depth.Filters:
    return depth.Filters(exchange=p.get("exchange"), coin=p.get("coin"))


class SummaryView(DepthAPIView):
    query_class = SummaryQuerySerializer

    @extend_schema(
        summary="Liquidations over 1h/4h/12h/24h: totals, largest order, by exchange, top coins",
        description=(
            "Plain USD (`*_usd`). Sums of minute buckets over the window ending now (the current minute is "
            "still filling), with the previous window of equal length, `change_pct` and the window's "
            "coverage. A lower bound: see the methodology."
        ),
        parameters=[SummaryQuerySerializer],
        responses={200: _answer("SummaryAnswer", SummaryResponseSerializer), **ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        if self.hit is not None:
            return self.hit
        p = self.query(request)
        return self.answer(request, lambda: depth.summary(self.reader, p["window"], time.time(), _filters(p)))


class BarsView(DepthAPIView):
    query_class = BarsQuerySerializer

    def request_cost(self, request: Request) -> int:
        q = BarsQuerySerializer(data=request.query_params)
        if not q.is_valid():
            return 1
        return max(1, math.ceil((q.validated_data["end_time"] - q.validated_data["start_time"]) / DAY))

    @extend_schema(
        summary="Liquidations per step (1m…1d), split by side, exchange or coin",
        description=(
            "Not trailing sums: each bar is the liquidations of its own step, USD. A step without any minute "
            "bucket is null (a gap, never zero). `by=coin`: the top 10 coins of the range and `other`. At most "
            "2,000 bars; steps below 1d cover at most 31 days."
        ),
        parameters=[BarsQuerySerializer],
        responses={200: _answer("BarsAnswer", BarsResponseSerializer), **ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        if self.hit is not None:
            return self.hit
        p = self.query(request)
        return self.answer(
            request,
            lambda: depth.bars(
                self.reader, p["start_time"], p["end_time"], p["step"], p["by"], time.time(), _filters(p)
            ),
        )


class TapeView(DepthAPIView):
    query_class = TapeQuerySerializer

    def version(self) -> str:  # the listener stores events between folds: the tape changes with them
        return f"{super().version()}-{get_events().version(int(time.time() * 1000))}"

    @extend_schema(
        summary="The newest liquidations, newest first (the tape)",
        description=(
            "Each event with its exchange, symbol, coin, side, price, quantity and USD notional. `before` "
            "(Unix ms) pages backwards: pass the answer's `next_before`; `after` keeps only what is newer than a "
            "time (a live tape's refresh)."
        ),
        parameters=[TapeQuerySerializer],
        responses={200: _answer("TapeAnswer", TapeResponseSerializer), **ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        if self.hit is not None:
            return self.hit
        p = self.query(request)

        def compute() -> dict[str, Any]:
            answer = get_events().tape(
                self.reader,
                before_ms=p["before"],
                limit=p["limit"],
                min_usd=p["min_usd"],
                side=p.get("side"),
                f=_filters(p),
            )
            if "after" in p:
                answer["results"] = [r for r in answer["results"] if r["ts_ms"] > p["after"]]
                answer["count"] = len(answer["results"])
            return answer

        return self.answer(request, compute)


__all__ = ["BarsView", "SummaryView", "TapeView"]
