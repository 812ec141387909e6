"""HTTP views: thin shells over the store."""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from .conf import get_store


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness of the data: 200 when the newest record is fresh, 503 when stale or absent.

    Body: ``status`` (ok | stale | empty), ``latest`` timestamp, ``age_seconds``,
    ``stale_after_seconds`` and the collector's ``last_run`` (from data/last_run.json).
    """
    latest = get_store().latest()
    now = time.time()
    stale_after = settings.LIQUIDATION_STALE_SECONDS
    body: dict[str, object] = {"stale_after_seconds": stale_after, "latest": None, "age_seconds": None}
    if latest is None:
        body["status"] = "empty"
    else:
        age = max(0, int(now - latest["timestamp"]))
        body.update(latest=latest["timestamp"], age_seconds=age, status="stale" if age > stale_after else "ok")
    try:
        body["last_run"] = json.loads(settings.LIQUIDATION_LAST_RUN_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        body["last_run"] = None
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
