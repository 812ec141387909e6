"""Money as the page shows it, for messages sent from Python (alerts, /methodology).

The twin of ``static/js/format.js``, with its one precision rule in both languages: the amount in its unit
with two decimals and thousands separators: 万/亿 in Chinese ($397.14万, $1,467.35万, $1.36亿), K/M/B/T in
English ($3.97M, $14.67M, $136.00M); whole dollars below the smallest unit; ``compact`` (axis labels) drops
trailing zeros. Both are tested against ``tests/fixtures/format-cases.json``.
"""

from __future__ import annotations

import math

DASH = "—"
_UNITS = {
    "en": [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")],
    "zh-hans": [(1e8, "亿"), (1e4, "万")],
}


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _js_round(x: float) -> int:
    """``Math.round``: halves go up (Python's ``round`` sends them to the even neighbour)."""
    return math.floor(x + 0.5)


def _in_unit(x: float, compact: bool) -> str:
    text = f"{x:,.2f}"  # the same digits as JavaScript's toFixed(2) on the same double
    return _trim(text) if compact else text


def format_usd(usd: float | None, lang: str = "zh-hans", *, compact: bool = False) -> str:
    if usd is None or not math.isfinite(usd):
        return DASH
    sign = "-" if usd < 0 else ""
    a = abs(usd)
    units = _UNITS["en" if lang == "en" else "zh-hans"]
    for i, (size, unit) in enumerate(units):
        nxt = units[i + 1] if i + 1 < len(units) else None
        rounds_up = nxt is not None and float(f"{a / nxt[0]:.2f}") >= size / nxt[0]
        if a >= size or rounds_up:
            return f"{sign}${_in_unit(a / size, compact)}{unit}"
    whole = _js_round(a)
    size, unit = units[-1]
    if whole >= size:
        return f"{sign}${_in_unit(a / size, compact)}{unit}"
    return f"{sign}${whole:,}"


def format_wan(wan: float | None, lang: str = "zh-hans") -> str:
    """An amount stored in 万 USD."""
    return DASH if wan is None else format_usd(wan * 1e4, lang)


def format_index(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return DASH
    return "0" if value == 0 else _trim(f"{float(f'{value:.4g}'):f}")
