"""HTTP views, by audience: the series API (``api``), exports, the page with the API's schema and
docs (``page``), and operators' endpoints (``ops``). Thin shells over the store and ``series``."""

from .api import CollectorStatusView, HistoryView, LatestView, StatsView
from .exports import ExportCSVView, ExportJSONLView
from .ops import healthz, metrics
from .page import RANGES, DocsView, PanicView, SchemaView

__all__ = [
    "RANGES",
    "CollectorStatusView",
    "DocsView",
    "ExportCSVView",
    "ExportJSONLView",
    "HistoryView",
    "LatestView",
    "PanicView",
    "SchemaView",
    "StatsView",
    "healthz",
    "metrics",
]
