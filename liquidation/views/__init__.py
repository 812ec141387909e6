"""HTTP views, by audience: the series API (``api``), the depth API over minute buckets (``depth``),
exports, the Fear & Greed Index (``feargreed``), the page with the API's schema and docs (``page``), and
operators' endpoints (``ops``). Thin shells over the store and ``series``."""

from .api import CollectorStatusView, HistoryView, LatestView, StatsView
from .depth import BarsView, SummaryView, TapeView
from .exports import ExportCSVView, ExportJSONLView
from .feargreed import FearGreedView
from .methodology import MethodologyView
from .ops import healthz, metrics
from .page import RANGES, DocsView, PanicView, SchemaView

__all__ = [
    "RANGES",
    "BarsView",
    "CollectorStatusView",
    "DocsView",
    "ExportCSVView",
    "ExportJSONLView",
    "FearGreedView",
    "HistoryView",
    "LatestView",
    "MethodologyView",
    "PanicView",
    "SchemaView",
    "StatsView",
    "SummaryView",
    "TapeView",
    "healthz",
    "metrics",
]
