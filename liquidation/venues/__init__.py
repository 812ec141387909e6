"""The venue registry: the only list of venues in the project.

Everything that needs the venues (the listener, the keyless source, settings' validation, the commands,
the status endpoint, the page's exchange split, the tests) iterates ``VENUES`` or asks ``get``; adding a
venue is adding its module here. Order is the display order.
"""

from __future__ import annotations

from typing import Any

from .base import ConnSpec, Venue, VenueError
from .binance import Binance
from .bitget import Bitget
from .bybit import Bybit
from .gate import Gate
from .hyperliquid import Hyperliquid
from .okx import Okx

VENUES: tuple[type[Venue], ...] = (Binance, Bybit, Okx, Gate, Bitget, Hyperliquid)


def names() -> tuple[str, ...]:
    return tuple(v.name for v in VENUES)


def get(name: str) -> type[Venue]:
    """The venue class called ``name``; KeyError naming the known ones otherwise."""
    for venue in VENUES:
        if venue.name == name:
            return venue
    raise KeyError(f"unknown exchange {name!r}: choose from {', '.join(names())}")


def titles() -> dict[str, str]:
    """name → the venue's proper name (``okx`` → ``OKX``), for pages and messages."""
    return {v.name: v.title for v in VENUES}


def build(selected: Any = None, **kwargs: Any) -> list[Venue]:
    """Instances of the venues named in ``selected`` (all when None), in registry order."""
    wanted = set(names() if selected is None else selected)
    return [v(**kwargs) for v in VENUES if v.name in wanted]


__all__ = ["VENUES", "ConnSpec", "Venue", "VenueError", "build", "get", "names", "titles"]
