"""Liquidation events, normalized: the shape every venue's parser produces, and its helpers.

An event is a dict (one JSON line in the event store)::

    {"exchange": "<venue>", "symbol": "BTCUSDT", "ts_ms": 1791565602120, "side": "long",
     "qty": 0.19, "price": 82651.9, "usd": 15703.861}

``side`` is the side of the position that was liquidated (``long`` = a long was force-closed).
``ts_ms`` is the exchange's own event time. ``usd`` is the notional in US dollars. Each venue's module
(``liquidation/venues/``) says how it reads its own payloads into this shape.

Anything that is not a valid liquidation is skipped with a reason (``Skip``) that the listener counts:
never a crash, never a wrong sum. Django-free.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .guards import MAX_ORDER_USD
from .records import RecordError, loads_strict, parse_number

MAX_FUTURE_MS = 5 * 60 * 1000
MAX_AGE_MS = 25 * 3600 * 1000


class Skip(Exception):
    """A frame or item that is not a valid liquidation; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class Parsed:
    """The events in one frame, what was skipped and why, and whether it was a control message."""

    events: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    control: bool = False
    error: str | None = None


def event_key(event: dict[str, Any]) -> tuple[Any, ...]:
    """The natural key of a liquidation: the same order seen twice (reconnect, restart) has the same key.

    Every venue's own fields (symbol, time, side, size, price) map onto these normalized ones.
    """
    return (event["exchange"], event["symbol"], event["ts_ms"], event["side"], event["qty"], event["price"])


def to_number(value: Any, name: str) -> float:
    try:
        number = parse_number(value, name)
    except RecordError as e:
        raise Skip("bad_number", str(e)) from None
    return number


def to_positive(value: Any, name: str) -> float:
    number = to_number(value, name)
    if number <= 0:
        raise Skip("non_positive", f"{name}={value!r}")
    return number


def to_timestamp(value: Any, now_ms: int) -> int:
    ts = int(to_number(value, "ts"))
    if ts > now_ms + MAX_FUTURE_MS:
        raise Skip("in_future", str(ts))
    if ts < now_ms - MAX_AGE_MS:
        raise Skip("too_old", str(ts))
    return ts


def plausible(usd: Any) -> bool:
    """A single order's USD notional within (0, ``guards.MAX_ORDER_USD``]: above it is a unit error (contracts
    taken for coins, a price in cents) or a hostile frame, skipped as "implausible" and never summed;
    stored events are checked again when summed."""
    return isinstance(usd, (int, float)) and not isinstance(usd, bool) and 0 < usd <= MAX_ORDER_USD


def make_event(
    exchange: str, symbol: str, ts_ms: int, side: str, qty: float, price: float, usd: float
) -> dict[str, Any]:
    if not plausible(usd):
        raise Skip("implausible", f"{exchange} {symbol}: {usd:g} USD")
    return {
        "exchange": exchange,
        "symbol": symbol,
        "ts_ms": ts_ms,
        "side": side,
        "qty": qty,
        "price": price,
        "usd": round(usd, 6),
    }


def load_frame(frame: str | bytes) -> Any:
    try:
        return loads_strict(frame)
    except (RecordError, ValueError, UnicodeDecodeError) as e:
        raise Skip("bad_json", str(e)[:80]) from None


def get_field(obj: dict[str, Any], name: str) -> Any:
    if not isinstance(obj, dict) or name not in obj or obj[name] is None:
        raise Skip("missing_field", name)
    return obj[name]


def to_json_line(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n").encode()
