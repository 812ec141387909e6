"""Alert rules: what each kind measures, and the rules file. Django-free.

Kinds (``Rule.kind``) and their value:

- ``h1_threshold``: the newest record's 1 h amount (万 USD);
- ``spike``: that amount divided by the median of the previous ``hours`` hours' records;
- ``panic_threshold``: the newest record's panic index;
- ``no_data``: seconds since the newest record (∞ with none, or one dated after the clock);
- ``order_usd``: the largest single liquidation (USD) of the last ``ORDER_WINDOW`` seconds, from the
  minute buckets (the keyless source); the detail names its venue, symbol and side;
- ``coin_h1_usd``: the largest one-coin sum (USD, both sides, every venue) of the last hour, from the
  minute buckets; the detail names the coin.

The depth kinds need the keyless source's buckets: without them (another source) they have no value and
never fire.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .recordstore import RecordStore
from .store import FUTURE_SLACK

KINDS = ("h1_threshold", "spike", "panic_threshold", "no_data", "order_usd", "coin_h1_usd")
DEPTH_KINDS = ("order_usd", "coin_h1_usd")
ORDER_WINDOW = 300  # seconds: an order_usd rule looks at the last five minutes' largest order


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    fire: float
    clear: float
    cooldown: int = 1800
    hours: int = 6  # spike: the trailing window for the median

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"alert rule {self.name!r}: kind must be one of {', '.join(KINDS)}")
        if self.clear > self.fire:
            raise ValueError(f"alert rule {self.name!r}: clear ({self.clear}) must not be above fire ({self.fire})")


@dataclass(frozen=True)
class Value:
    value: float
    detail: str = ""  # what the value is of: a coin, an order's venue and symbol


Depth = Callable[[], Any]  # a bucket reader (``bucketread.BucketReader`` or ``pgbuckets.PgBucketReader``), or None


def rule_value(rule: Rule, store: RecordStore, now: float, depth: Depth | None = None) -> Value | None:
    """The rule's current value, or None when it cannot be computed (no data, no history, no buckets)."""
    if rule.kind in DEPTH_KINDS:
        reader = depth() if depth is not None else None
        if reader is None or not reader.available():
            return None
        return _order(reader, now) if rule.kind == "order_usd" else _coin(reader, now)
    latest = store.latest()
    if rule.kind == "no_data":
        if latest is None or latest["timestamp"] > now + FUTURE_SLACK:
            return Value(float("inf"))  # nothing, or a record from a clock that jumped: no collection can follow it
        return Value(max(0.0, now - latest["timestamp"]))
    if latest is None:
        return None
    if rule.kind == "h1_threshold":
        return Value(float(latest["hour_1_amount"]))
    if rule.kind == "panic_threshold":
        return Value(float(latest["panic_index"]))
    history = store.range(latest["timestamp"] - rule.hours * 3600, latest["timestamp"] - 1)
    values = [r["hour_1_amount"] for r in history]
    if len(values) < 10:
        return None  # not enough history for a median that means anything
    median = statistics.median(values)
    return None if median <= 0 else Value(latest["hour_1_amount"] / median)


def _order(reader: Any, now: float) -> Value:
    """The largest order of the last ``ORDER_WINDOW`` s of minutes: the current one and the four before."""
    now_m = int(now) // 60 * 60
    total = reader.total("venues", now_m - ORDER_WINDOW + 60, now_m)
    best = (0.0, "")
    for venue, sides in total["x"].items():
        for side, cell in sides.items():
            if cell[2] > best[0]:
                best = (float(cell[2]), f"{venue} {cell[3]} {side}")
    return Value(*best)


def _coin(reader: Any, now: float) -> Value:
    """The coin with the largest liquidated sum over the last hour (60 minutes, the current one included, as
    ``depth.summary`` counts them), both sides, every venue."""
    now_m = int(now) // 60 * 60
    total = reader.total("coins", now_m - 3540, now_m)
    sums = {coin: sum(cell[0] + cell[2] for cell in venues.values()) for coin, venues in total["c"].items()}
    if not sums:
        return Value(0.0)
    coin = max(sums, key=lambda c: (sums[c], c))
    return Value(float(sums[coin]), coin)


def load_rules(path: Path | None, env_rules: list[Rule]) -> list[Rule]:
    """Rules from a JSON file ``{"rules": [{"name", "kind", "fire", "clear", "cooldown", "hours"}]}``,
    else the ones from environment variables."""
    if path is None:
        return env_rules
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return [Rule(**item) for item in data.get("rules", [])]
