"""The formulas /methodology works through with the code's own answers: the panic index on a made-up
venue (``summary.summarize`` itself computes it) and the percentile bands of ``panicband``. Split from
``methodology`` (the page's assembly); both are Django-free."""

from __future__ import annotations

from typing import Any

from . import panicband
from .summary import Gathered, summarize

EN, ZH = "en", "zh-hans"

#: The worked example of the panic index: one made-up venue's trailing sums and open interest, in USD.
EXAMPLE_SUMS = {
    "hour_1": 50e6,
    "hour_24": 400e6,
    "hour_1_long": 30e6,
    "hour_1_short": 20e6,
    "hour_24_long": 250e6,
    "hour_24_short": 150e6,
}
EXAMPLE_OI_USD = 100e9


def panic_example() -> dict[str, Any]:
    """The record ``summary.summarize`` makes from ``EXAMPLE_SUMS`` and ``EXAMPLE_OI_USD``: the page shows
    the code's own answer, so a change of formula shows on the page (and fails its test)."""
    now = 1_800_000_000.0
    gathered = Gathered(
        now=now, liquidation_venues=["example"], live={"example": int(now) - 86400}, oi_usd={"example": EXAMPLE_OI_USD}
    )
    values, _ = summarize({"example": EXAMPLE_SUMS}, gathered)
    return {
        "hour_1_usd": f"{EXAMPLE_SUMS['hour_1']:,.0f}",
        "hour_24_usd": f"{EXAMPLE_SUMS['hour_24']:,.0f}",
        "oi_usd": f"{EXAMPLE_OI_USD:,.0f}",
        "hour_1_amount": values["hour_1_amount"],
        "hour_24_amount": values["hour_24_amount"],
        "total_position": values["total_position"],
        "panic_index": values["panic_index"],
        "panic_percent": f"{values['panic_index'] * 100:g}",
    }


def band_rows(lang: str) -> list[dict[str, str]]:
    """The bands ``panicband.band_name`` gives, with their percentile ranges."""
    calm, panic = f"{panicband.CALM_BELOW:g}", f"{panicband.PANIC_FROM:g}"
    names = {
        EN: {"calm": "calm", "elevated": "elevated", "panic": "panic"},
        ZH: {"calm": "平静", "elevated": "升温", "panic": "恐慌"},
    }[lang]
    ranges = (
        ("calm", f"p < {calm}"),
        ("elevated", f"{calm} ≤ p < {panic}"),
        ("panic", f"p ≥ {panic}"),
    )
    return [{"band": band, "name": names[band], "range": text} for band, text in ranges]


def band(lang: str) -> dict[str, Any]:
    """The percentile rule of ``panicband`` (window, thresholds, minimum history, bands)."""
    return {
        "window_days": panicband.WINDOW_DAYS,
        "calm_below": f"{panicband.CALM_BELOW:g}",
        "panic_from": f"{panicband.PANIC_FROM:g}",
        "min_samples": panicband.MIN_SAMPLES,
        "rows": band_rows(lang),
    }
