"""Where the panic index stands against its own trailing 30 days: a percentile and a band.

The panic index is a bare ratio (24 h liquidations over open interest, ``0.001399``) that nobody can read
alone; what a trader needs is whether it is high *for this market lately*. So the newest value is ranked
among every minute value of the trailing ``WINDOW_DAYS`` days (mid-rank percentile: ties count half), and
banded: below the 50th percentile of the window is *calm*, from the 50th to below the 90th *elevated*,
from the 90th *panic*. With fewer than ``MIN_SAMPLES`` minutes of history there is no band (too little to
rank against), and the answer says so. Django-free; ``/methodology`` states the same rule.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from typing import Any

WINDOW_DAYS = 30
CALM_BELOW = 50.0  # percentile
PANIC_FROM = 90.0
MIN_SAMPLES = 60  # an hour of minutes


def percentile_of(ordered: list[float], value: float) -> float:
    """The mid-rank percentile of ``value`` among ``ordered`` (sorted ascending): the share of values below
    it plus half the share equal to it, in percent."""
    below = bisect.bisect_left(ordered, value)
    equal = bisect.bisect_right(ordered, value) - below
    return 100.0 * (below + equal / 2) / len(ordered)


def quantile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``ordered`` by linear interpolation between closest ranks."""
    pos = q * (len(ordered) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def band_name(percentile: float) -> str:
    """calm below ``CALM_BELOW``, elevated below ``PANIC_FROM``, else panic: an edge is in the higher band."""
    if percentile < CALM_BELOW:
        return "calm"
    return "elevated" if percentile < PANIC_FROM else "panic"


def panic_band(values: Iterable[float], current: float | None) -> dict[str, Any]:
    """The band of ``current`` among ``values`` (the window's minute values, in any order; anything but a
    finite number is left out). ``percentile`` and ``band`` are None when ``current`` is None or fewer than
    ``MIN_SAMPLES`` values remain."""
    ordered = sorted(v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
    out: dict[str, Any] = {"value": current, "samples": len(ordered), "window_days": WINDOW_DAYS}
    if current is None or len(ordered) < MIN_SAMPLES:
        return {**out, "percentile": None, "band": None, "p50": None, "p90": None}
    percentile = percentile_of(ordered, current)
    return {
        **out,
        "percentile": round(percentile, 1),
        "band": band_name(percentile),
        "p50": quantile(ordered, CALM_BELOW / 100),
        "p90": quantile(ordered, PANIC_FROM / 100),
    }
