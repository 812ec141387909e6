"""URLs of the app: the API under ``api/liquidation-1h/`` (paths as the earlier system had them),
the schema and its docs, and the health check."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("panic", views.PanicView.as_view(), name="panic"),
    path("methodology", views.MethodologyView.as_view(), name="methodology"),
    path("api/liquidation-1h/history", views.HistoryView.as_view(), name="liquidation-history"),
    path("api/liquidation-1h/latest", views.LatestView.as_view(), name="liquidation-latest"),
    path("api/liquidation-1h/stats", views.StatsView.as_view(), name="liquidation-stats"),
    path("api/liquidation-1h/summary", views.SummaryView.as_view(), name="liquidation-summary"),
    path("api/liquidation-1h/bars", views.BarsView.as_view(), name="liquidation-bars"),
    path("api/liquidation-1h/tape", views.TapeView.as_view(), name="liquidation-tape"),
    path("api/liquidation-1h/panic-band", views.PanicBandView.as_view(), name="liquidation-panic-band"),
    path("api/liquidation-1h/status", views.CollectorStatusView.as_view(), name="liquidation-status"),
    path("api/liquidation-1h/export.csv", views.ExportCSVView.as_view(), name="liquidation-export-csv"),
    path("api/liquidation-1h/export.jsonl", views.ExportJSONLView.as_view(), name="liquidation-export-jsonl"),
    path("api/fear-greed", views.FearGreedView.as_view(), name="fear-greed"),
    path("api/schema/", views.SchemaView.as_view(), name="schema"),
    path("api/docs/", views.DocsView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
]
