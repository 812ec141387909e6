"""HTTP views: thin shells over the store and ``series``.

API views share ``SeriesAPIView``: conditional GET (ETag and Last-Modified from the store's newest
record, 304 answers), ``Cache-Control: max-age`` up to the next minute's collection, throttling
by ``ApiRateThrottle``, and a CSP that lets the browsable API use its own inline styles.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import http_date
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from django.views.generic import TemplateView
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from . import series
from .conf import get_store
from .metrics import LiqsiteCollector
from .records import to_line
from .serializers import (
    VALIDATION_ERROR_SCHEMA,
    DetailSerializer,
    HistoryResponseSerializer,
    LatestResponseSerializer,
    StatsQuerySerializer,
    StatsResponseSerializer,
    WindowQuerySerializer,
)

#: The browsable API and Swagger UI carry their own inline styles; no inline script is allowed.
API_CSP_UPDATE = {"style-src": ["'unsafe-inline'"]}

ERRORS = {
    304: OpenApiResponse(description="Not modified since the ETag / Last-Modified you sent"),
    400: OpenApiResponse(VALIDATION_ERROR_SCHEMA, description="A parameter is invalid; the body names it"),
    429: OpenApiResponse(DetailSerializer, description="Rate limited; see the Retry-After header"),
}


class ApiRateThrottle(AnonRateThrottle):
    """Per-client-address limit from ``settings.LIQUIDATION_API_RATE`` (None: no limit).

    The address is REMOTE_ADDR unless ``DJANGO_NUM_PROXIES`` says how many proxies to trust, so a
    made-up X-Forwarded-For cannot dodge the limit. Counts live in the default cache: per process
    unless a shared cache is configured.
    """

    scope = "liquidation-api"

    def get_rate(self) -> str | None:
        return settings.LIQUIDATION_API_RATE


class InlineStylesCSP:
    """For DRF views: their browsable HTML (and Swagger UI) carry inline styles of their own, so the
    CSP allows inline styles on these responses; never inline script."""

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        response._csp_update = API_CSP_UPDATE  # read by django-csp's middleware
        return response


class SeriesAPIView(InlineStylesCSP, APIView):
    throttle_classes = [ApiRateThrottle]
    time_dependent = False

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.store = get_store()
        self.newest = self.store.latest()
        self.etag: str | None = None
        self.last_modified: int | None = None
        if self.newest is not None:
            try:
                size = self.store.path.stat().st_size
            except FileNotFoundError:
                size = 0
            fmt = getattr(request.accepted_renderer, "format", "any")
            # Answers that depend on the clock (ages, "stale", windows ending now) change every
            # minute even when no record arrives: otherwise a dead collector would be hidden
            # behind 304s forever.
            clock = f"-{int(time.time()) // 60}" if self.time_dependent else ""
            self.etag = f'W/"{self.newest["timestamp"]}-{size}-{fmt}{clock}"'
            self.last_modified = self.newest["timestamp"]

    def not_modified(self, request: Request) -> HttpResponseBase | None:
        """A 304 when the client's copy is current, else None."""
        if self.etag is None:
            return None
        return get_conditional_response(request, etag=self.etag, last_modified=self.last_modified)

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code in (200, 304) and getattr(self, "etag", None):
            response.headers["ETag"] = self.etag
            response.headers["Last-Modified"] = http_date(self.last_modified)
            # The series changes once a minute, at the start of the minute.
            patch_cache_control(response, public=True, max_age=max(1, min(60, 60 - int(time.time()) % 60)))
        else:
            patch_cache_control(response, no_cache=True)
        patch_vary_headers(response, ["Accept"])
        return response


def _window(request: Request) -> dict[str, Any]:
    q = WindowQuerySerializer(data=request.query_params)
    q.is_valid(raise_exception=True)
    return q.validated_data


class HistoryView(SeriesAPIView):
    """The 1-hour liquidation series, oldest first."""

    @extend_schema(
        summary="History of the 1h liquidation amount",
        description=(
            "Records of one minute each (or buckets with `interval`), oldest first. Amounts in 万 USD "
            "(10,000 USD), open interest in 亿 USD (100,000,000 USD). Missing minutes are missing: "
            "nothing is interpolated."
        ),
        parameters=[WindowQuerySerializer],
        responses={200: HistoryResponseSerializer, **ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        p = _window(request)
        if (response := self.not_modified(request)) is not None:
            return response
        records = series.select(self.store, p.get("start_time"), p.get("end_time"), p["limit"], p["interval"])
        return Response(
            {
                "count": len(records),
                "start": p.get("start_time"),
                "end": p.get("end_time"),
                "interval": p["interval"],
                "results": [series.present(r) for r in records],
            }
        )


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
        age = max(0, int(time.time()) - self.newest["timestamp"])
        return Response(
            {**series.present(self.newest), "age_seconds": age, "stale": age > settings.LIQUIDATION_STALE_SECONDS}
        )


class StatsView(SeriesAPIView):
    time_dependent = True

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
        q = StatsQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        if (response := self.not_modified(request)) is not None:
            return response
        now = time.time()
        hours = q.validated_data["hours"]
        minute_end = int(now) // 60 * 60 + 59  # minute-aligned: one cached read serves the whole minute
        records = self.store.range(minute_end - hours * 3600 - 119, minute_end)
        return Response(series.stats(records, hours, now))


class CollectorStatusView(InlineStylesCSP, APIView):
    """What the collector and the listener last said: for dashboards that must explain an empty or
    stale series ("no exchange reachable", "listener not running")."""

    throttle_classes = [ApiRateThrottle]

    @extend_schema(
        summary="Collector and listener status",
        description=(
            "`last_run`: the collector's last outcome (time, outcome ok | duplicate | error | unconfigured, source, "
            "detail or error). `streams`: the websocket listener's status.json (per exchange: connected, since, "
            "events stored, frames skipped by reason, reconnects), or null when it never ran."
        ),
        responses={200: OpenApiTypes.OBJECT, 429: ERRORS[429]},
    )
    def get(self, request: Request) -> Response:
        response = Response(
            {
                "last_run": _read_json(settings.LIQUIDATION_LAST_RUN_FILE),
                "streams": _read_json(settings.LIQUIDATION_EVENTS_DIR / "status.json"),
            }
        )
        patch_cache_control(response, no_cache=True)
        return response


def _read_json(path: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# -- exports --------------------------------------------------------------------------------------


class _FirstRenderer(BaseContentNegotiation):
    """Exports have one format, whatever the client's Accept header says."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return b""  # exports stream their own body; errors are rendered as JSON


class JSONLRenderer(CSVRenderer):
    media_type = "application/x-ndjson"
    format = "jsonl"


class ExportView(SeriesAPIView):
    content_negotiation_class = _FirstRenderer
    filename_ext = ""

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        if isinstance(response, Response):  # an error: say it in JSON
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    def get(self, request: Request) -> HttpResponseBase:
        p = _window(request)
        if (response := self.not_modified(request)) is not None:
            return response
        records = series.select(self.store, p.get("start_time"), p.get("end_time"), p["limit"], p["interval"])
        first = records[0]["timestamp"] if records else 0
        last = records[-1]["timestamp"] if records else 0
        response = StreamingHttpResponse(
            self.stream(records), content_type=f"{self.renderer_classes[0].media_type}; charset=utf-8"
        )
        response.headers["Content-Disposition"] = (
            f'attachment; filename="liquidation_1h_{first}_{last}.{self.filename_ext}"'
        )
        return response

    def stream(self, records: list[dict[str, Any]]) -> Iterator[bytes]:
        raise NotImplementedError


class ExportCSVView(ExportView):
    renderer_classes = [CSVRenderer, JSONRenderer]
    filename_ext = "csv"

    @extend_schema(
        summary="Export as CSV",
        description=(
            "Same window parameters as history. UTF-8 with a byte-order mark (for Excel); the header row "
            "holds the JSON field names, nested fields flattened with dots (`by_exchange.binance.hour_1`); "
            "numbers, booleans and lists are written as JSON."
        ),
        parameters=[WindowQuerySerializer],
        responses={(200, "text/csv"): OpenApiTypes.STR, **ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        return super().get(request)

    def stream(self, records: list[dict[str, Any]]) -> Iterator[bytes]:
        rows = [dict(series.flatten(series.present(r))) for r in records]
        columns: dict[str, None] = {}
        for row in rows:
            columns.update(dict.fromkeys(row))
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(columns)
        yield "\ufeff".encode() + buf.getvalue().encode("utf-8")
        for i in range(0, len(rows), 500):
            buf.seek(0)
            buf.truncate()
            for row in rows[i : i + 500]:
                writer.writerow([series.csv_cell(row.get(c)) for c in columns])
            yield buf.getvalue().encode("utf-8")


class ExportJSONLView(ExportView):
    renderer_classes = [JSONLRenderer, JSONRenderer]
    filename_ext = "jsonl"

    @extend_schema(
        summary="Export as JSON Lines",
        description="Same window parameters as history. One stored record per line, as in the data file.",
        parameters=[WindowQuerySerializer],
        responses={(200, "application/x-ndjson"): OpenApiTypes.STR, **ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        return super().get(request)

    def stream(self, records: list[dict[str, Any]]) -> Iterator[bytes]:
        for i in range(0, len(records), 500):
            yield b"".join(to_line(r) for r in records[i : i + 500])


# -- schema and docs ------------------------------------------------------------------------------


class SchemaView(InlineStylesCSP, SpectacularAPIView):
    throttle_classes = [ApiRateThrottle]


class DocsView(InlineStylesCSP, SpectacularSwaggerSplitView):
    """Swagger UI from local static files (drf-spectacular-sidecar); its init script is a separate
    request, so the page needs no inline script."""

    throttle_classes = [ApiRateThrottle]


# -- the page -------------------------------------------------------------------------------------

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
            "staleSeconds": settings.LIQUIDATION_STALE_SECONDS,
            "lang": "en" if get_language() == "en" else "zh-hans",
            "ranges": {key: {"seconds": sec, "interval": interval} for key, (sec, interval) in RANGES.items()},
            "defaultRange": "24h",
            "strings": _js_strings(),
        }
        return context


# -- metrics ------------------------------------------------------------------------------------


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format. With LIQUIDATION_METRICS_TOKEN set, only for ``Authorization: Bearer <token>``."""
    token = settings.LIQUIDATION_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            response = HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    registry = CollectorRegistry()
    registry.register(
        LiqsiteCollector(
            settings.LIQUIDATION_DATA_FILE,
            settings.LIQUIDATION_LAST_RUN_FILE,
            settings.LIQUIDATION_EVENTS_DIR / "status.json",
            settings.LIQUIDATION_ALERT_STATE_FILE,
        )
    )
    response = HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    patch_cache_control(response, no_store=True)
    return response


# -- health ---------------------------------------------------------------------------------------


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and uptime monitors (not throttled).

    200 ``{"status": "ok", "last_record_age_seconds": …}`` when the newest record is fresher than
    LIQUIDATION_STALE_SECONDS; 503 with ``reason`` when it is stale or there is no data. Includes
    the collector's ``last_run`` (data/last_run.json) when there is one.
    """
    latest = get_store().latest()
    stale_after = settings.LIQUIDATION_STALE_SECONDS
    body: dict[str, Any] = {"stale_after_seconds": stale_after, "last_record_age_seconds": None, "last_record": None}
    if latest is None:
        body.update(status="no-data", reason="no data collected yet: is the collector running and configured?")
    else:
        age = max(0, int(time.time()) - latest["timestamp"])
        body.update(last_record_age_seconds=age, last_record=latest["timestamp"])
        if age > stale_after:
            body.update(status="stale", reason=f"newest record is {age} s old (more than {stale_after} s)")
        else:
            body["status"] = "ok"
    body["last_run"] = _read_json(settings.LIQUIDATION_LAST_RUN_FILE)
    response = JsonResponse(body, status=200 if body["status"] == "ok" else 503)
    patch_cache_control(response, no_store=True)
    return response
