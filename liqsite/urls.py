"""Root URLs. The API lives under ``api/liquidation-1h/`` (see ``liquidation/urls.py``)."""

from __future__ import annotations

from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", include("liquidation.urls")),
    path("", RedirectView.as_view(pattern_name="panic", permanent=False)),
]
