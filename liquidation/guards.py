"""Plausibility guards for the keyless source: a unit error must never reach the record silently.

Each guard names a venue and why (``coverage.suspect``: venue → reason); a suspect venue is left out of
that minute's totals (which stay a lower bound), logged with the venue, and counted by ``/metrics``:

- a single liquidation over ``MAX_ORDER_USD`` (the parsers skip it as ``implausible``; a venue whose
  ``implausible`` count grew since the last minute, or an old stored event over the bound, is suspect);
- one symbol's open interest over ``MAX_SYMBOL_OI_USD``;
- a venue's open interest changing more than ``MAX_OI_CHANGE``-fold from the previous minute;
- a venue's trailing 1-hour sum over ``MAX_HOUR_USD``.

The bounds are far beyond anything seen: the largest single liquidations reported were a few hundred
million USD, Bitcoin's open interest on the largest venue about USD 15 billion, and the largest hour of
the whole market (2025-10-10) about USD 7 billion. Django-free, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_ORDER_USD = 2e9
MAX_SYMBOL_OI_USD = 2e11
MAX_OI_CHANGE = 5.0
MAX_HOUR_USD = 2e10


class Suspect(Exception):
    """A venue's answer holds an implausible figure; the message says which and why."""


def symbol_oi(venue: str, symbol: Any, usd: float) -> float:
    """``usd`` when plausible for one symbol's open interest, else Suspect naming the symbol."""
    if usd > MAX_SYMBOL_OI_USD:
        raise Suspect(f"{symbol} open interest {usd:,.0f} USD is over {MAX_SYMBOL_OI_USD:,.0f}")
    return usd


def oi_changes(current: Mapping[str, float], previous: Mapping[str, Any]) -> dict[str, str]:
    """Venues whose open interest moved more than MAX_OI_CHANGE-fold since the previous minute."""
    out = {}
    for venue, now in current.items():
        before = previous.get(venue)
        if not isinstance(before, (int, float)) or isinstance(before, bool) or before <= 0 or now <= 0:
            continue
        ratio = max(now / before, before / now)
        if ratio > MAX_OI_CHANGE:
            out[venue] = f"open interest changed {ratio:.1f}× in a minute ({before:,.0f} → {now:,.0f} USD)"
    return out


def hour_sums(sums: Mapping[str, Mapping[str, float]]) -> dict[str, str]:
    """Venues whose trailing 1-hour liquidations are over MAX_HOUR_USD."""
    return {
        venue: f"1-hour liquidations {figures['hour_1']:,.0f} USD are over {MAX_HOUR_USD:,.0f}"
        for venue, figures in sums.items()
        if figures.get("hour_1", 0.0) > MAX_HOUR_USD
    }


def implausible_skips(venues: Mapping[str, Any], previous: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, int]]:
    """(suspect venues, counts to remember) from the listener's per-venue ``skipped`` counters: a venue
    whose ``implausible`` count grew since the last minute published an order over MAX_ORDER_USD."""
    suspect, counts = {}, {}
    for venue, info in venues.items():
        skipped = info.get("skipped") if isinstance(info, dict) else None
        n = skipped.get("implausible", 0) if isinstance(skipped, dict) else 0
        n = n if isinstance(n, int) and not isinstance(n, bool) else 0
        counts[venue] = n
        before = previous.get(venue, 0)
        if isinstance(before, int) and n > before:
            suspect[venue] = f"{n - before} liquidation(s) over {MAX_ORDER_USD:,.0f} USD skipped"
    return suspect, counts
