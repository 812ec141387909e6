"""The Fear & Greed Index upstream's payload (alternative.me ``/fng/``): what a good answer is, checked
whole. ``feargreed`` fetches and stores; this module only reads a payload. Django-free."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, TypedDict

from .records import EARLIEST, MAX_FUTURE

MAX_LABEL = 40
_DIGITS = re.compile(r"[0-9]{1,12}")


class FearGreedError(Exception):
    """Fetching or storing the index failed; nothing was written. ``str()`` is one log-ready sentence
    (URLs redacted); ``kind`` a short word: upstream-error, bad-payload, bad-value, bad-timestamp,
    bad-label, empty, http-status, timeout, refused, not-json, deadline, store…"""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class Day(TypedDict):
    date: str  # the UTC day of ``ts``, YYYY-MM-DD
    ts: int  # the upstream's timestamp, Unix seconds
    value: int  # 0..100
    classification: str  # the upstream's label, as given


# -- the upstream's payload ----------------------------------------------------------------------------


def parse(payload: Any, *, now: float) -> list[Day]:
    """The payload's days, oldest first, one per UTC day (of two, the later timestamp wins).

    Raises FearGreedError naming the first problem; the payload is then refused as a whole.
    """
    if not isinstance(payload, dict):
        raise FearGreedError(f"expected a JSON object, got {type(payload).__name__}", kind="bad-payload")
    metadata = payload.get("metadata")
    error = metadata.get("error") if isinstance(metadata, dict) else None
    if error not in (None, "", False):
        raise FearGreedError(f"upstream error: metadata.error = {str(error)[:200]!r}", kind="upstream-error")
    rows = payload.get("data")
    if not isinstance(rows, list):
        raise FearGreedError(f"'data' is {type(rows).__name__}, expected a list", kind="bad-payload")
    if not rows:
        raise FearGreedError("'data' is empty: no values", kind="empty")
    latest = int(now) + MAX_FUTURE
    by_date: dict[str, Day] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise FearGreedError(f"data[{i}] is {type(row).__name__}, expected an object", kind="bad-payload")
        value = _whole(row.get("value"))
        if value is None or not 0 <= value <= 100:
            raise FearGreedError(
                f"data[{i}].value = {_show(row.get('value'))}: not an integer 0..100", kind="bad-value"
            )
        ts = _whole(row.get("timestamp"))
        if ts is None or not EARLIEST <= ts <= latest:
            raise FearGreedError(
                f"data[{i}].timestamp = {_show(row.get('timestamp'))}: not Unix seconds between 2009 and tomorrow",
                kind="bad-timestamp",
            )
        label = row.get("value_classification")
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL or not label.isprintable():
            raise FearGreedError(
                f"data[{i}].value_classification = {_show(label)}: not a short label", kind="bad-label"
            )
        day = Day(date=day_of(ts), ts=ts, value=value, classification=label.strip())
        if day["date"] not in by_date or by_date[day["date"]]["ts"] < ts:
            by_date[day["date"]] = day
    return [by_date[d] for d in sorted(by_date)]


def _whole(raw: Any) -> int | None:
    """A JSON integer or a string of digits (the documented form); None for anything else."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _DIGITS.fullmatch(raw):
        return int(raw)
    return None


def _show(raw: Any) -> str:
    return repr(raw)[:40]


def day_of(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()
