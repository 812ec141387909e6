"""The per-minute summary of the keyless source: a pure function over what the I/O steps gathered.

``summarize`` takes the last hour's and day's USD sums per venue (from the minute buckets), which venues
were live and since when, the open interest each venue answered, what failed, and the previous minute's
open interest, and returns the record's values and its ``by_exchange`` and ``coverage``: no network, no
files, tested with plain data.
The plausibility guards (``guards.py``) run here: a suspect venue is named and left out of the totals.

Django-free.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .coins import coin_of
from .events import plausible
from .guards import hour_sums, oi_changes

WAN, YI = 1e4, 1e8
HOUR_MS, DAY_MS = 3_600_000, 86_400_000


@dataclass
class Gathered:
    """What one minute's I/O found. ``live``: venue → complete since (Unix seconds); ``oi_usd``: venue →
    open interest in USD; ``missing``/``oi_missing``: venue → why not; ``suspect``: venue → why its
    figures are left out (guards that ran during I/O); ``skipped``: venue → reason → rows."""

    now: float
    liquidation_venues: list[str]
    live: dict[str, int] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    oi_usd: dict[str, float] = field(default_factory=dict)
    oi_missing: dict[str, str] = field(default_factory=dict)
    previous_oi: Mapping[str, Any] = field(default_factory=dict)
    suspect: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    marks: dict[str, dict[str, float]] = field(default_factory=dict)  # venue → symbol → mark price


def summarize(sums: Mapping[str, Mapping[str, float]], g: Gathered) -> tuple[dict[str, float], dict[str, Any]]:
    """(values, extra) of the record from per-venue USD ``sums`` (``sums_of`` the buckets, or ``aggregate``
    of events): 1 h / 24 h sums with the long/short split in 万 USD, total open interest in 亿 USD, the
    panic index, ``by_exchange`` and ``coverage``. Raises ValueError when no venue's open interest is
    left (the caller names the venues that failed)."""
    suspect = dict(g.suspect)
    suspect.update(oi_changes(g.oi_usd, g.previous_oi))
    suspect.update(hour_sums(sums))
    oi_usd = {v: usd for v, usd in g.oi_usd.items() if v not in suspect}
    sums = {v: figures for v, figures in sums.items() if v not in suspect}
    total_oi = sum(oi_usd.values())
    if total_oi <= 0:
        raise ValueError("no open interest left from any venue")
    totals: dict[str, float] = defaultdict(float)
    by_exchange: dict[str, dict[str, float]] = {}
    for venue in sorted(set(sums) | set(oi_usd)):
        figures = sums.get(venue, {})
        entry = {key: round(value / WAN, 2) for key, value in figures.items()}
        for key, value in figures.items():
            totals[key] += value
        if venue in oi_usd:
            entry["open_interest"] = round(oi_usd[venue] / YI, 4)
        by_exchange[venue] = entry
    values = {
        "hour_1_amount": round(totals["hour_1"] / WAN, 2),
        "hour_24_amount": round(totals["hour_24"] / WAN, 2),
        "total_position": round(total_oi / YI, 4),
        "panic_index": round(totals["hour_24"] / total_oi, 6),
        "hour_1_long": round(totals["hour_1_long"] / WAN, 2),
        "hour_1_short": round(totals["hour_1_short"] / WAN, 2),
        "hour_24_long": round(totals["hour_24_long"] / WAN, 2),
        "hour_24_short": round(totals["hour_24_short"] / WAN, 2),
    }
    now_s, live, venues = int(g.now), g.live, g.liquidation_venues
    coverage = {
        "venues": [v for v in venues if v in live],
        "missing": [v for v in venues if v not in live],
        "since": {v: live[v] for v in venues if v in live},
        "hour_1_complete": all(v in live and live[v] <= now_s - 3600 for v in venues),
        "hour_24_complete": all(v in live and live[v] <= now_s - 86400 for v in venues),
        "oi_venues": sorted(oi_usd),
        "oi_missing": sorted(g.oi_missing),
        "errors": {**g.missing, **{f"{k} open interest": v for k, v in g.oi_missing.items()}},
        "skipped": g.skipped,
        "suspect": suspect,
    }
    extra: dict[str, Any] = {"by_exchange": by_exchange, "coverage": coverage, "lower_bound": True}
    marks = prices({v: m for v, m in g.marks.items() if v not in suspect}, {v: oi for v, oi in oi_usd.items()})
    if marks:
        extra["prices"] = marks
    return values, extra


PRICED_COINS = ("BTC", "ETH")


def prices(marks: Mapping[str, Mapping[str, float]], oi_usd: Mapping[str, float]) -> dict[str, float]:
    """The mark prices of BTC and ETH: per venue, the price of the coin's main contract (USDT-quoted first,
    then the shortest symbol: ``BTCUSDT`` before ``BTCUSDT_260925`` and ``BTCPERP``), then the median across
    venues, so one venue's odd quote cannot move it."""
    out = {}
    for coin in PRICED_COINS:
        quotes = []
        for venue, symbols in marks.items():
            listed = [s for s in symbols if coin_of(s) == coin and symbols[s] > 0]
            candidates = sorted(listed, key=lambda s: ("USDT" not in s.upper(), len(s), s))
            if venue in oi_usd and candidates:
                quotes.append(symbols[candidates[0]])
        if quotes:
            out[coin] = round(statistics.median(quotes), 2)
    return out


def sums_of(hour: Mapping[str, Any], day: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per venue, the figures ``aggregate`` gives, from two bucket totals (``buckets.accumulate``): the
    trailing hour's and the trailing day's. This is how the record's sums are made: from buckets."""
    sums: dict[str, dict[str, float]] = {}
    for window, total in (("hour_1", hour), ("hour_24", day)):
        for venue, sides in (total.get("x") or {}).items():
            figures = sums.setdefault(venue, {k: 0.0 for k in _FIGURES})
            for side in ("long", "short"):
                usd = float(sides.get(side, [0.0])[0])
                figures[window] += usd
                figures[f"{window}_{side}"] += usd
    return sums


_FIGURES = ("hour_1", "hour_24", "hour_1_long", "hour_1_short", "hour_24_long", "hour_24_short")


def aggregate(events: Iterable[dict[str, Any]], now_ms: int) -> dict[str, dict[str, float]]:
    """USD sums per venue of the trailing hour and day, by side, of the events as stored (once each)."""
    sums: dict[str, dict[str, float]] = defaultdict(
        lambda: {
            "hour_1": 0.0,
            "hour_24": 0.0,
            "hour_1_long": 0.0,
            "hour_1_short": 0.0,
            "hour_24_long": 0.0,
            "hour_24_short": 0.0,
        }
    )
    for event in events:  # each stored once: de-duplication is the event store's job (its natural key)
        if not (now_ms - DAY_MS < event["ts_ms"] <= now_ms) or not plausible(event.get("usd")):
            continue  # an implausible order stored by an older version is never summed either
        if event.get("tradfi"):
            continue  # stocks and metals: stored, marked, not the crypto market's total
        venue = sums[event["exchange"]]
        usd = float(event["usd"])
        side = event["side"]
        venue["hour_24"] += usd
        venue[f"hour_24_{side}"] += usd
        if event["ts_ms"] > now_ms - HOUR_MS:
            venue["hour_1"] += usd
            venue[f"hour_1_{side}"] += usd
    return dict(sums)
