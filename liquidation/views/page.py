"""The /panic page, the API's schema and its Swagger UI."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.request import Request

from ..bucketread import reader_for
from ..conf import fear_greed_available, get_buckets
from ..venues import titles as venue_titles
from .base import ApiRateThrottle, InlineStylesCSP
from .page_depth import depth_strings
from .page_feargreed import fear_greed_strings


class SchemaView(InlineStylesCSP, SpectacularAPIView):
    throttle_classes = [ApiRateThrottle]


class DocsView(InlineStylesCSP, SpectacularSwaggerSplitView):
    """Swagger UI from local static files (drf-spectacular-sidecar); its init script is a separate
    request, so the page needs no inline script."""

    throttle_classes = [ApiRateThrottle]

    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        """The docs page is HTML only: there is no DRF metadata to render (its template renderer
        has no template for it, which made OPTIONS a 500)."""
        return HttpResponse(status=204, headers={"Allow": "GET, HEAD, OPTIONS"})


#: Range selector: key -> (seconds, API interval). Long ranges are bucketed to stay under ~2,000 points.
RANGES: dict[str, tuple[int, str]] = {
    "1h": (3600, "1m"),
    "3h": (3 * 3600, "1m"),
    "6h": (6 * 3600, "1m"),
    "12h": (12 * 3600, "1m"),
    "24h": (24 * 3600, "1m"),
    "3d": (3 * 86400, "5m"),
    "7d": (7 * 86400, "15m"),
    "30d": (30 * 86400, "1h"),
}


def _range_labels() -> list[tuple[str, str]]:
    hours, days = _("%(n)sh"), _("%(n)sd")
    return [(key, (hours if key.endswith("h") else days) % {"n": key[:-1]}) for key in RANGES]


def _js_strings() -> dict[str, str]:
    """Every string the page's script shows, translated here so the .po files hold them all."""
    return {
        "h1": _("1h liquidations"),
        "h24": _("24h liquidations"),
        "panic": _("Panic index"),
        "oi": _("Open interest"),
        "longs": _("Longs"),
        "shorts": _("Shorts"),
        "average": _("Average"),
        "max": _("Max"),
        "min": _("Min"),
        "time": _("Time"),
        "gap": _("No record for these minutes"),
        "empty_title": _("No data yet"),
        "empty_hint": _(
            "The collector has not written any record yet. Run ./scripts/run and set LIQUIDATION_SOURCE_URL "
            "or COINGLASS_API_KEY in .env; the first point appears within a minute."
        ),
        "empty_range": _("No records in this time range."),
        "empty_range_hint": _("Choose a longer range, or check the collector (see /healthz)."),
        "load_error": _("Could not load the data; trying again in a minute."),
        "ago_seconds": _("%s s ago"),
        "ago_minutes": _("%s min ago"),
        "ago_hours": _("%s h ago"),
        "ago_days": _("%s d ago"),
        "source": _("Source: %s"),
        "zone_beijing": _("Beijing time (UTC+8)"),
        "zone_local": _("Local time"),
        "times_in": _("Times in %s."),
        "stale": _("Stale"),
        "collector_said": _("The collector's last attempt (%s) failed: %s"),
        "by_exchange": _("By exchange"),
        "counted": _("Counted now: %s."),
        "not_counted": _("Not counted now: %s."),
        "suspect": _("Left out as implausible: %s."),
        "complete_since": _("Complete for the last hour: %s."),
        "yes": _("yes"),
        "no": _("no"),
    }


class PanicView(TemplateView):
    """The /panic dashboard. Data comes from the API; the template gets URLs and strings only."""

    template_name = "liquidation/panic.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["ranges"] = _range_labels()
        context["config"] = {
            "historyUrl": reverse("liquidation-history"),
            "statusUrl": reverse("liquidation-status"),
            "urls": {
                "history": reverse("liquidation-history"),
                "status": reverse("liquidation-status"),
                "summary": reverse("liquidation-summary"),
                "bars": reverse("liquidation-bars"),
                "tape": reverse("liquidation-tape"),
                "fearGreed": reverse("fear-greed"),
                "exportCsv": reverse("liquidation-export-csv"),
                "exportJsonl": reverse("liquidation-export-jsonl"),
                "methodology": reverse("methodology"),
            },
            # Which panels have data: the page never requests what cannot exist.
            "panels": {"depth": reader_for(get_buckets()).available(), "fearGreed": fear_greed_available()},
            "depthStrings": depth_strings(),
            "fearGreedStrings": fear_greed_strings(),
            "staleSeconds": settings.LIQUIDATION_STALE_SECONDS,
            "lang": "en" if get_language() == "en" else "zh-hans",
            "ranges": {key: {"seconds": sec, "interval": interval} for key, (sec, interval) in RANGES.items()},
            "defaultRange": "24h",
            "venueTitles": venue_titles(),
            "strings": _js_strings(),
        }
        return context
