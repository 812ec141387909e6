"""The /panic page, the API's schema and its Swagger UI."""

from __future__ import annotations

import time
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


#: Range selector: key -> (seconds, history interval, bar step). Long ranges read bucket maxima (agg=max)
#: to stay under ~2,000 points; the long/short bars under the curve have 30 to 180 steps.
RANGES: dict[str, tuple[int, str, str]] = {
    "1h": (3600, "1m", "1m"),
    "3h": (3 * 3600, "1m", "5m"),
    "6h": (6 * 3600, "1m", "5m"),
    "12h": (12 * 3600, "1m", "15m"),
    "24h": (24 * 3600, "1m", "15m"),
    "3d": (3 * 86400, "5m", "1h"),
    "7d": (7 * 86400, "15m", "4h"),
    "30d": (30 * 86400, "1h", "4h"),
}


def _range_labels() -> list[tuple[str, str]]:
    hours, days = _("%(n)sh"), _("%(n)sd")
    return [(key, (hours if key.endswith("h") else days) % {"n": key[:-1]}) for key in RANGES]


def _why() -> dict[str, str]:
    """What a collector's error class means, for a visitor (``why_`` + the class, non-letters as ``_``)."""
    return {
        "why_no_exchange_reachable": _("no exchange could be reached"),
        "why_timeout": _("the source did not answer in time"),
        "why_deadline": _("the source did not answer in time"),
        "why_refused": _("the source refused the connection"),
        "why_dns": _("the source's address could not be found"),
        "why_not_json": _("the source sent an answer that is not data"),
        "why_bad_answer": _("the source sent an answer that failed our checks"),
        "why_too_large": _("the source sent an answer that failed our checks"),
        "why_redirect": _("the source sent us elsewhere"),
        "why_unconfigured": _("the data source is not set up"),
        "why_http": _("the source answered with an error"),
        "why_other": _("the source could not be read"),
        "why_unknown": _("no new record has been written"),
    }


def _js_strings() -> dict[str, str]:
    """Every string the page's scripts show, translated here so the .po files hold them all."""
    return {
        "h1": _("1h liquidations"),
        "h24": _("24h liquidations"),
        "panic": _("Panic index"),
        "oi": _("Open interest"),
        "longs": _("Longs"),
        "shorts": _("Shorts"),
        "average": _("Average"),
        "average_of_peaks": _("Average of step peaks"),
        "keys_hint": _("Arrow keys move through the points; Home and End go to the first and the newest."),
        "max": _("Max"),
        "min": _("Min"),
        "bucket_max": _("highest in this step"),
        "gap": _("No record for these minutes"),
        "gap_for": _("No record for %s"),
        "no_record": _("no record"),
        "by_exchange": _("By exchange"),
        "live": _("live"),
        "stale_mark": _("stale"),
        "empty_title": _("No data yet"),
        "empty_hint": _("The collector has not stored its first record yet; the curve starts within a minute of it."),
        "empty_failing": _("The collector cannot fetch data (last attempt %s): %s. The curve starts once it can."),
        "empty_failing_since": _("No data since %s: %s. The curve starts once the collector can fetch again."),
        "empty_range": _("No records in this time range."),
        "empty_range_hint": _("Choose a longer range: the newest record is older than this range."),
        "load_error_title": _("Could not load the data"),
        "load_error": _("The site did not answer; the page tries again in a minute. The numbers shown may be old."),
        "state_stale": _("The newest record is from %s: %s. The numbers are those of that minute, not of now."),
        "state_future": _("The newest record is dated %s, after the server's clock: the numbers may be wrong."),
        "detail_source": _("Source: %s"),
        "detail_error": _("Error: %s"),
        "detail_attempt": _("Last attempt: %s"),
        **_why(),
        "ago_seconds": _("%s s ago"),
        "ago_minutes": _("%s min ago"),
        "ago_hours": _("%s h ago"),
        "ago_days": _("%s d ago"),
        "dur_seconds": _("%s s"),
        "dur_minutes": _("%s min"),
        "dur_hours_minutes": _("%s h %s min"),
        "dur_days_hours": _("%s d %s h"),
        "source": _("Source: %s"),
        "zone_beijing": _("Beijing time (UTC+8)"),
        "zone_local": _("Local time"),
        "zone_beijing_short": _("UTC+8"),
        "zone_local_short": _("Local"),
        "times_in": _("Times in %s."),
        "band_badge": _("%s · P%s"),
        "band_title": _("Percentile of the last 30 days: %s"),
        "band_calm": _("calm"),
        "band_elevated": _("elevated"),
        "band_panic": _("panic"),
        "band_p50": _("30-day median"),
        "band_p90": _("30-day P90"),
        "counted": _("Counted now: %s."),
        "not_counted": _("Not counted now: %s."),
        "suspect": _("Left out as implausible: %s."),
        "complete_since": _("Complete for the last hour: %s."),
        "yes": _("yes"),
        "no": _("no"),
        "link_copied": _("Link copied"),
        "link_select": _("Copy this link:"),
        "png_name": _("liqsite-1h-liquidations-%s.png"),
    }


class PanicView(TemplateView):
    """The /panic dashboard. Data comes from the API; the template gets URLs and strings only."""

    template_name = "liquidation/panic.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["ranges"] = _range_labels()
        depth_available = reader_for(get_buckets()).available()
        context["depth_available"] = depth_available
        context["config"] = {
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
                "panicBand": reverse("liquidation-panic-band"),
            },
            # Which panels have data: the page never requests what cannot exist.
            "panels": {"depth": depth_available, "fearGreed": fear_greed_available()},
            "depthStrings": depth_strings(),
            "fearGreedStrings": fear_greed_strings(),
            "staleSeconds": settings.LIQUIDATION_STALE_SECONDS,
            # The page's clock until the first answer's Date header: a browser clock days off must not
            # put the first request's window in the future (a 400 every minute).
            "serverTimeMs": int(time.time() * 1000),
            "lang": "en" if get_language() == "en" else "zh-hans",
            "ranges": {
                key: {"seconds": sec, "interval": interval, "bars": bars}
                for key, (sec, interval, bars) in RANGES.items()
            },
            "defaultRange": "24h",
            "venueTitles": venue_titles(),
            "strings": _js_strings(),
        }
        return context
