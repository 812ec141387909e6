"""The strings of the /panic page's Fear & Greed chart, translated here so the .po files hold them all."""

from __future__ import annotations


def fear_greed_strings() -> dict[str, str]:
    return {}
