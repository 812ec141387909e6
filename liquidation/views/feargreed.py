"""``GET /api/fear-greed``: the Crypto Fear & Greed Index the collector keeps (a thin shell over ``feargreed``).

When the feature is off (``FEAR_GREED_URL=off``) or nothing is stored yet it answers 200 with
``"available": false`` and a sentence saying why, so a page never logs an error.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpResponseBase
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import http_date
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import feargreed
from ..conf import state_store
from ..serializers import QuerySerializer
from .base import ERRORS, ApiRateThrottle, InlineStylesCSP

#: The collector asks at most once an hour and the index changes once a day.
MAX_AGE = 300
OFF = "The Fear & Greed Index is turned off on this server (FEAR_GREED_URL=off)."
EMPTY = (
    "No Fear & Greed Index values are stored yet: the collector (manage.py collect_liquidation) fetches "
    "them from alternative.me at most once an hour."
)


class FearGreedQuerySerializer(QuerySerializer):
    days = serializers.IntegerField(
        min_value=1, max_value=3650, default=365, help_text="The last N UTC calendar days, today included"
    )


class FearGreedDaySerializer(serializers.Serializer):
    date = serializers.DateField(help_text="The UTC day of `ts`")
    ts = serializers.IntegerField(help_text="alternative.me's timestamp of the value, Unix s")
    value = serializers.IntegerField(min_value=0, max_value=100, help_text="0 = extreme fear, 100 = extreme greed")
    classification = serializers.CharField(help_text="alternative.me's label as given, e.g. Fear, Greed")


class FearGreedSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="True: values follow")
    results = FearGreedDaySerializer(many=True, help_text="One per day, oldest first; days never fetched are absent")
    updated = serializers.IntegerField(help_text="When the collector last fetched the index, Unix s")


class FearGreedUnavailableSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="False: the feature is off, or nothing is stored yet")
    detail = serializers.CharField()


class FearGreedView(InlineStylesCSP, APIView):
    throttle_classes = [ApiRateThrottle]

    @extend_schema(
        summary="Crypto Fear & Greed Index (alternative.me), one value per day",
        description=(
            "The daily index (0 = extreme fear, 100 = extreme greed) as alternative.me publishes it, fetched "
            "by the collector at most once an hour. When the feature is off or nothing is stored yet: 200 with "
            '`{"available": false, "detail"}`.'
        ),
        parameters=[FearGreedQuerySerializer],
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="FearGreedAnswer",
                    serializers=[FearGreedSerializer, FearGreedUnavailableSerializer],
                    resource_type_field_name=None,
                ),
                description='The values; or `{"available": false, "detail"}` when there are none to show',
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> HttpResponseBase:
        q = FearGreedQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        stored = feargreed.read(state_store()) if settings.FEAR_GREED_URL else None
        if stored is None:
            response = Response({"available": False, "detail": EMPTY if settings.FEAR_GREED_URL else OFF})
            patch_cache_control(response, no_cache=True)
            return response
        now = time.time()
        fmt = getattr(request.accepted_renderer, "format", "any")
        # The window ends today: a new UTC day changes the answer even when nothing was fetched.
        today = datetime.fromtimestamp(now, UTC).date().toordinal()
        etag = f'W/"fg-{stored.updated}-{len(stored.days)}-{today}-{fmt}"'
        response = get_conditional_response(request, etag=etag, last_modified=stored.updated)
        if response is None:
            results = feargreed.recent(stored, q.validated_data["days"], now)
            response = Response({"available": True, "results": results, "updated": stored.updated})
        response.headers["ETag"] = etag
        response.headers["Last-Modified"] = http_date(stored.updated)
        patch_cache_control(response, public=True, max_age=MAX_AGE)
        patch_vary_headers(response, ["Accept"])
        return response


__all__ = ["FearGreedView"]
