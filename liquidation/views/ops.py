"""For operators and machines: ``/healthz`` (load balancers, uptime monitors) and ``/metrics``
(Prometheus). Neither is throttled; neither shows a URL or an error's text, except the redacted
source URL on ``/metrics`` when it is behind its bearer token."""

from __future__ import annotations

import hmac
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ..conf import get_buckets, get_store, source_url, state_store
from ..http import redact_url
from ..metrics import LiqsiteCollector
from ..sharedfiles import read_last_run
from ..store import FUTURE_SLACK
from .base import public_last_run


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format. With LIQUIDATION_METRICS_TOKEN set, only for ``Authorization: Bearer
    <token>``, and only then with the (redacted) source URL in ``liqsite_source_info``."""
    token = settings.LIQUIDATION_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            response = HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    url = source_url()
    registry = CollectorRegistry()
    registry.register(
        LiqsiteCollector(
            get_store(),
            state_store(),
            state_store(),  # holds the alert state too
            source_url=redact_url(url) if token and url else None,
            buckets=get_buckets(),
        )
    )
    response = HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    patch_cache_control(response, no_store=True)
    return response


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and uptime monitors (not throttled).

    200 ``{"status": "ok", "last_record_age_seconds": …}`` when the newest record is fresher than
    LIQUIDATION_STALE_SECONDS; 503 with ``reason`` when it is stale, when there is no data, or when
    it is dated after this server's clock (a clock that jumped: no collection can append after it
    until ``verify_liquidation --repair``). Includes the collector's ``last_run`` (outcome, source,
    error class) when there is one.
    """
    latest = get_store().latest()
    stale_after = settings.LIQUIDATION_STALE_SECONDS
    body: dict[str, Any] = {"stale_after_seconds": stale_after, "last_record_age_seconds": None, "last_record": None}
    if latest is None:
        body.update(status="no-data", reason="no data collected yet: is the collector running and configured?")
    else:
        age = int(time.time()) - latest["timestamp"]
        body.update(last_record_age_seconds=age, last_record=latest["timestamp"])
        if age < -FUTURE_SLACK:
            body.update(
                status="future",
                reason=f"newest record is dated {-age} s after this server's clock: the clock jumped? "
                "Collection cannot append after it; run manage.py verify_liquidation --repair",
            )
        elif age > stale_after:
            body.update(status="stale", reason=f"newest record is {age} s old (more than {stale_after} s)")
        else:
            body["status"] = "ok"
    body["last_run"] = public_last_run(read_last_run(state_store()))
    response = JsonResponse(body, status=200 if body["status"] == "ok" else 503)
    patch_cache_control(response, no_store=True)
    return response
