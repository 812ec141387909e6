"""Money as the page shows it, for messages sent from Python (alerts).

The twin of ``static/js/format.js``: 万/亿 in Chinese ($397.14万, $1.36亿), K/M/B/T with three significant
digits in English ($3.97M, $136M). Both are tested against ``tests/fixtures/format-cases.json``.
"""

from __future__ import annotations

import math

DASH = "—"


def _significant(x: float, digits: int) -> str:
    if x >= 10**digits:
        return f"{x:.0f}"
    text = f"{float(f'{x:.{digits}g}'):.{digits}f}".rstrip("0").rstrip(".")
    return text


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _js_round(x: float) -> int:
    """``Math.round``: halves go up (Python's ``round`` sends them to the even neighbour)."""
    return math.floor(x + 0.5)


def _js_fixed(x: float, places: int) -> str:
    """``Number.prototype.toFixed`` (round half away from zero on the decimal digits shown)."""
    return f"{x:.{places}f}"


def format_usd(usd: float | None, lang: str = "zh-hans", *, compact: bool = False) -> str:
    if usd is None or not math.isfinite(usd):
        return DASH
    sign = "-" if usd < 0 else ""
    a = abs(usd)
    if lang == "en":
        units = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")]
        digits = 4 if compact else 3
        for i, (size, unit) in enumerate(units):
            if a < size:
                continue
            text = _significant(a / size, digits)
            if float(text) >= 1000 and i > 0:
                bigger, bigger_unit = units[i - 1]
                return f"{sign}${_significant(a / bigger, digits)}{bigger_unit}"
            return f"{sign}${text}{unit}"
        if float(_js_fixed(a, 2)) >= 1000:
            return f"{sign}${_significant(a / 1e3, digits)}K"
        return f"{sign}${_js_round(a)}" if compact else f"{sign}${_trim(_js_fixed(a, 2))}"

    def fixed(x: float) -> str:
        return _trim(_js_fixed(x, 2)) if compact else _js_fixed(x, 2)

    if a >= 1e8 or float(_js_fixed(a / 1e4, 2)) >= 1e4:
        return f"{sign}${fixed(a / 1e8)}亿"
    if a >= 1e4 or _js_round(a) >= 1e4:
        return f"{sign}${fixed(a / 1e4)}万"
    return f"{sign}${_js_round(a):,}"


def format_wan(wan: float | None, lang: str = "zh-hans") -> str:
    """An amount stored in 万 USD."""
    return DASH if wan is None else format_usd(wan * 1e4, lang)


def format_index(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return DASH
    return "0" if value == 0 else _trim(f"{float(f'{value:.4g}'):f}")
