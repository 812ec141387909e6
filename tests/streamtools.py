"""Frames and times for the listener tests: a Binance forceOrder frame as the exchange sends it."""

from __future__ import annotations

import json
import time

BINANCE_PATH = "/market/stream?streams=!forceOrder@arr"


def now_ms() -> int:
    return int(time.time() * 1000)


def binance_frame(symbol: str, side: str, z: str, ap: str, t: int, status: str = "FILLED") -> str:
    order = {
        "s": symbol,
        "S": side,
        "o": "LIMIT",
        "f": "IOC",
        "q": z,
        "p": ap,
        "ap": ap,
        "X": status,
        "l": z,
        "z": z,
        "T": t,
        "ps": symbol,
        "st": 1,
    }
    return json.dumps({"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": t + 5, "o": order}})
