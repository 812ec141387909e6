"""HTTP views, by audience: the series API (``api``) and the panic index's 30-day band (``panicband``),
the depth API over minute buckets (``depth``), exports, the Fear & Greed Index (``feargreed``), the page
with the API's schema and docs (``page``), and operators' endpoints (``ops``). Thin shells over the store
and ``series``."""

from .api import CollectorStatusView, HistoryView, LatestView, StatsView
from .depth import BarsView, SummaryView, TapeView
from .exports import ExportCSVView, ExportJSONLView
from .feargreed import FearGreedView
from .methodology import MethodologyView
from .ops import healthz, metrics
from .page import RANGES, DocsView, PanicView, SchemaView
from .panicband import PanicBandView

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
    "PanicBandView",
    "PanicView",
    "SchemaView",
    "StatsView",
    "SummaryView",
    "TapeView",
    "healthz",
    "metrics",
]
