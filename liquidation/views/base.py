"""What every API view shares: the cost-weighted throttle, the browsable API's CSP exception, and
``SeriesAPIView`` (conditional GET with ETag/Last-Modified from the newest record, 304 answers,
``Cache-Control`` up to the next minute's collection), and ``ResponseCacheMixin``, through which the
costly views answer from the per-minute response cache (``liquidation/respcache.py``).

The throttle counts *cost*, not requests: a request covering a day or less of minutes costs 1 and a
longer one costs one per day it covers (``request_cost``), so a client asking for 30-day windows
gets 1/30 as many answers per minute as one asking for the last day, and no client can hold the
workers with long reads while staying inside the rate limit. Windows are also capped
(``serializers.MAX_SPAN_DAYS``), so no single request can cost more than the limit allows.
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseBase
from django.template.response import SimpleTemplateResponse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import http_date, parse_http_date_safe
from django.utils.translation import get_language
from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from .. import respcache
from ..conf import get_store
from ..http import public_error
from ..serializers import VALIDATION_ERROR_SCHEMA, DetailSerializer, WindowQuerySerializer, window_span
from ..sharedfiles import LastRun

#: The browsable API and Swagger UI carry their own inline styles; no inline script is allowed.
API_CSP_UPDATE = {"style-src": ["'unsafe-inline'"]}
DAY = 86400

ERRORS = {
    304: OpenApiResponse(description="Not modified since the ETag / Last-Modified you sent"),
    400: OpenApiResponse(VALIDATION_ERROR_SCHEMA, description="A parameter is invalid; the body names it"),
    429: OpenApiResponse(DetailSerializer, description="Rate limited; see the Retry-After header"),
}


class ApiRateThrottle(AnonRateThrottle):
    """Per-client-address limit from ``settings.LIQUIDATION_API_RATE`` (None: no limit), counted in
    cost units: a view's ``request_cost(request)`` (default 1) is what one request uses up.

    The address is REMOTE_ADDR unless ``DJANGO_NUM_PROXIES`` says how many proxies to trust, so a
    made-up X-Forwarded-For cannot dodge the limit. Counts live in the default cache: per process
    unless a shared cache is configured.
    """

    scope = "liquidation-api"

    def get_rate(self) -> str | None:
        return settings.LIQUIDATION_API_RATE

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        cost_of = getattr(view, "request_cost", None)
        cost = max(1, min(int(cost_of(request)) if cost_of else 1, self.num_requests))
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) + cost > self.num_requests:
            return self.throttle_failure()
        self.history[:0] = [self.now] * cost
        self.cache.set(self.key, self.history, self.duration)
        return True


class InlineStylesCSP:
    """For DRF views: their browsable HTML (and Swagger UI) carry inline styles of their own, so the
    CSP allows inline styles on these responses; never inline script."""

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        response._csp_update = API_CSP_UPDATE  # read by django-csp's middleware
        return response


class ResponseCacheMixin:
    """The per-minute response cache (``liquidation/respcache.py``) for views with ``response_cache``.

    ``look_up`` runs from ``initial()`` right after DRF's (content negotiation and the throttle: a hit
    costs the client what a computed answer does) and before anything else is read: on a hit ``self.hit``
    is the answer (the body, or a 304 when the client holds its ETag) and the handler returns it at once,
    without validating the query again (the entry is a 200 to this very query, in this minute and data
    version). Otherwise the handler computes, and ``keep`` has the answer stored once rendered.
    """

    response_cache = False
    hit: HttpResponseBase | None = None
    cache_key: str | None = None

    def look_up(self, request: Request, version: str, minute: int | None) -> None:
        fmt = getattr(request.accepted_renderer, "format", None)
        if not (self.response_cache and settings.LIQUIDATION_RESPONSE_CACHE):
            return
        if request.method != "GET" or fmt not in respcache.FORMATS:
            return
        query, media_type = request.META.get("QUERY_STRING", ""), str(request.accepted_media_type)
        language = get_language() or ""
        self.cache_key = respcache.make_key(request.path, query, media_type, version, minute=minute, language=language)
        entry = respcache.lookup(self.cache_key, respcache.LOCAL, shared_cache())
        if entry is None:
            return
        headers = dict(entry.headers)
        etag, last_modified = headers.get("ETag"), parse_http_date_safe(headers.get("Last-Modified", ""))
        response = get_conditional_response(request, etag=etag, last_modified=last_modified) if etag else None
        if response is None:
            response = HttpResponse(entry.body, content_type=entry.content_type)
            response.headers[respcache.HEADER] = "hit"
        for name, value in entry.headers:
            response.headers[name] = value
        cache_control_to_next_minute(response)
        patch_vary_headers(response, ["Accept"])
        self.hit = response

    def keep(self, response: HttpResponseBase) -> HttpResponseBase:
        """``response``, to be kept under this request's key once rendered (a 200 of a cacheable request)."""
        key = self.cache_key
        if key is None or not isinstance(response, SimpleTemplateResponse) or response.status_code != 200:
            return response
        response.headers[respcache.HEADER] = "miss"

        def store(rendered: SimpleTemplateResponse) -> None:
            # Once rendered, after finalize_response added ETag and Cache-Control; store() keeps 200s only.
            status, body, content_type = rendered.status_code, rendered.content, rendered["Content-Type"]
            respcache.store(key, status, body, content_type, rendered.headers, respcache.LOCAL, shared_cache())

        response.add_post_render_callback(store)
        return response


def shared_cache() -> Any:
    """Django's default cache when it is shared (Redis); None when it is this process's memory, which
    keeps the throttle's counts and no answers."""
    default = caches["default"]
    return None if isinstance(default, LocMemCache) else default


@receiver(setting_changed)
def _forget_answers(**kwargs: Any) -> None:
    """Settings changed (tests point the store, the data files or the cache elsewhere): the answers kept in
    this process belong to the old configuration."""
    respcache.LOCAL.clear()


def cache_control_to_next_minute(response: HttpResponseBase) -> None:
    """``Cache-Control: public, max-age`` up to the next minute, replacing any the answer carried (one
    from the response cache was right when it was kept, not now)."""
    response.headers.pop("Cache-Control", None)
    patch_cache_control(response, public=True, max_age=max(1, min(60, 60 - int(time.time()) % 60)))


class SeriesAPIView(ResponseCacheMixin, InlineStylesCSP, APIView):
    throttle_classes = [ApiRateThrottle]
    time_dependent = False

    def request_cost(self, request: Request) -> int:
        """One per day of minutes the request covers (at least 1); an invalid request costs 1 and
        is answered 400 by the view."""
        q = WindowQuerySerializer(data=request.query_params)
        if not q.is_valid():
            return 1
        return max(1, math.ceil(window_span(q.validated_data, time.time()) / DAY))

    def follows_clock(self, request: Request) -> bool:
        """Whether the answer changes with the clock (ages, "stale", windows ending now): its ETag and
        cache key then change every minute even when no record arrives, or a dead collector would be
        hidden behind 304s forever."""
        return self.time_dependent

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.store = get_store()
        # Read before anything the answer is made of (the newest record included), so an answer is never
        # kept in the response cache under a newer version than its data.
        version = self.store.version()  # changes on every write, whatever holds the records
        clock = int(time.time()) // 60 if self.follows_clock(request) else None
        self.etag: str | None = None
        self.last_modified: int | None = None
        self.look_up(request, version, clock)
        if self.hit is not None:
            self.etag, self.last_modified = (
                self.hit.get("ETag"),
                parse_http_date_safe(self.hit.get("Last-Modified", "")),
            )
            return
        self.newest = self.store.latest()
        if self.newest is not None:
            fmt = getattr(request.accepted_renderer, "format", "any")
            self.etag = f'W/"{self.newest["timestamp"]}-{version}-{fmt}{"" if clock is None else f"-{clock}"}"'
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
            if self.last_modified is not None:
                response.headers["Last-Modified"] = http_date(self.last_modified)
            # The series changes once a minute, at the start of the minute.
            cache_control_to_next_minute(response)
        else:
            patch_cache_control(response, no_cache=True)
        patch_vary_headers(response, ["Accept"])
        return response


def window(request: Request) -> dict[str, Any]:
    q = WindowQuerySerializer(data=request.query_params)
    q.is_valid(raise_exception=True)
    return q.validated_data


def public_last_run(run: LastRun | None) -> dict[str, Any] | None:
    """What a public answer may show of ``last_run.json``: when, the outcome, the source's name and
    the error's class; never the operator's detail (it names URLs and commands)."""
    if run is None:
        return None
    out: dict[str, Any] = {
        "time": run["time"],
        "datetime": run["datetime"],
        "outcome": run["outcome"],
        "source": run["source"],
        "last_success": run["last_success"],
    }
    error_class = run["error_class"]
    if error_class is None and run["outcome"] in ("error", "unconfigured"):
        error_class = run["outcome"]
    out["error_class"] = public_error(error_class) if error_class is not None else None
    return out


def public_streams(data: Any) -> dict[str, Any] | None:
    """The listener's status.json without anything that could name a URL."""
    if not isinstance(data, dict):
        return None
    venues = data.get("venues") if isinstance(data.get("venues"), dict) else {}
    clean = {}
    for name, info in venues.items():
        if not isinstance(info, dict):
            continue
        entry = {k: v for k, v in info.items() if k != "last_error"}
        if info.get("last_error") is not None:
            entry["last_error"] = public_error(str(info["last_error"]))
        clean[str(name)] = entry
    return {**{k: v for k, v in data.items() if k != "venues"}, "venues": clean}


def no_cache(response: Response) -> Response:
    patch_cache_control(response, no_cache=True)
    return response
