"""Plain functions over the series: query-time parsing, bucketing, statistics, gaps, CSV flattening.

Django-free, so the API's logic is tested directly and reused by benchmarks. Times are Unix
seconds (UTC) throughout; "Beijing time" (UTC+8) is only how naive input is read and how ``time``
is shown.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from .records import BEIJING, EARLIEST, MAX_FUTURE, minute_of
from .store import JsonlStore, Unsorted

TIME_FORMATS_HELP = "expected Unix seconds, Unix ms, ISO 8601 or 'YYYY-MM-DD HH:MM[:SS]'"
INTERVALS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}

_NUMERIC = re.compile(r"\A[0-9]{1,16}(?:\.[0-9]{1,6})?\Z")
_PLAIN = re.compile(r"\A(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?\Z")


def parse_time(value: str, now: float) -> int:
    """Parse a query-string time into Unix seconds, or raise ValueError with a message for users.

    Accepts Unix seconds, Unix milliseconds (any value >= 1e11), ISO 8601 with or without offset
    and ``YYYY-MM-DD HH:MM[:SS]``; a time without offset is Beijing time. The result must lie
    between 2009-01-01 and ``now`` + 1 day.
    """
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > 40 or not text.isascii() or not text.isprintable():
        raise ValueError(TIME_FORMATS_HELP)
    ts: float
    if _NUMERIC.match(text):
        ts = float(text)
        if ts >= 1e11:
            ts /= 1000.0
    else:
        ts = _parse_datetime(text)
    if not EARLIEST <= ts <= now + MAX_FUTURE:
        raise ValueError(f"{text!r} is out of range: times go from 2009-01-01 to one day from now")
    return math.floor(ts)


def _parse_datetime(text: str) -> float:
    match = _PLAIN.match(text)
    try:
        if match:
            parts = [int(p) if p else 0 for p in match.groups()]
            dt = datetime(*parts, tzinfo=BEIJING)  # type: ignore[misc]
        else:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=BEIJING)
        return dt.timestamp()
    except (ValueError, OverflowError, OSError):
        raise ValueError(TIME_FORMATS_HELP) from None


def iso_beijing(ts: int) -> str:
    """``2026-01-17T01:17:31+08:00`` for a Unix time."""
    return datetime.fromtimestamp(ts, BEIJING).isoformat()


def present(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as the API shows it: every stored field plus ``time`` (ISO 8601, +08:00)."""
    out = dict(record)
    out["time"] = iso_beijing(record["timestamp"])
    return out


#: How a bucket (interval > 1m) folds its records' numbers: their maximum, their mean, or the last one.
AGGREGATES: tuple[str, ...] = ("max", "mean", "last")
#: Numeric top-level fields that are times, not measurements: always the bucket's last record's.
_TIMES = frozenset({"timestamp", "source_time"})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class MinuteRuns:
    """The minutes of the records read, oldest first, kept as runs of consecutive minutes: memory
    grows with the number of gaps, not with the window, so a long streamed read stays cheap.

    Timestamps must come oldest first, as every store read returns them; one older than the newest
    minute seen (a second record of a minute) adds nothing."""

    __slots__ = ("runs",)

    def __init__(self) -> None:
        self.runs: list[list[int]] = []  # [first minute, last minute] of each run, ascending

    def add(self, timestamp: int) -> None:
        minute = minute_of(timestamp)
        if self.runs and minute <= self.runs[-1][1] + 1:
            self.runs[-1][1] = max(self.runs[-1][1], minute)
        else:
            self.runs.append([minute, minute])

    def clear(self) -> None:
        self.runs.clear()

    def __contains__(self, minute: int) -> bool:
        i = bisect_right(self.runs, minute, key=lambda run: run[0]) - 1
        return i >= 0 and self.runs[i][1] >= minute

    def gaps(self, first_minute: int, last_minute: int) -> list[list[int]]:
        """The minutes of ``[first_minute, last_minute]`` not seen, as ``missing_minutes`` gives them."""
        gaps: list[list[int]] = []
        expected = first_minute  # the next minute we hope to see
        for low, high in self.runs:
            if high < expected:
                continue
            if low > last_minute:
                break
            if low > expected:
                gaps.append([expected * 60, (low - 1) * 60])
            expected = high + 1
        if expected <= last_minute:
            gaps.append([expected * 60, last_minute * 60])
        return gaps


class _Fold:
    """One bucket being filled: its last record, count, peak and the per-field max or sum."""

    __slots__ = ("agg", "count", "key", "last", "peak", "sums", "tallies", "tops")

    def __init__(self, key: int, agg: str | None) -> None:
        self.key, self.agg, self.count = key, agg, 0
        self.last: Mapping[str, Any] = {}
        self.peak: Any = None
        self.tops: dict[str, Any] = {}
        self.sums: dict[str, float] = {}
        self.tallies: dict[str, int] = {}

    def add(self, record: Mapping[str, Any]) -> None:
        self.last = record
        self.count += 1
        amount = record["hour_1_amount"]
        self.peak = amount if self.peak is None else max(self.peak, amount)
        if self.agg in ("last", None):
            return
        for name, value in record.items():
            if name in _TIMES or not _is_number(value):
                continue
            if self.agg == "max":
                self.tops[name] = max(self.tops.get(name, value), value)
            else:
                self.sums[name] = self.sums.get(name, 0.0) + value
                self.tallies[name] = self.tallies.get(name, 0) + 1

    def result(self) -> dict[str, Any]:
        out = dict(self.last)
        for name, value in out.items():
            if name in _TIMES or not _is_number(value):
                continue
            if self.agg == "max":
                out[name] = self.tops[name]
            elif self.agg == "mean":
                out[name] = round(self.sums[name] / self.tallies[name], 6)
        out["max_hour_1_amount"] = self.peak
        if self.agg is not None:
            out["count"] = self.count
            out["agg"] = self.agg
        return out


def bucket(
    records: Iterable[Mapping[str, Any]], seconds: int, agg: str | None = None, minutes: MinuteRuns | None = None
) -> Iterator[dict[str, Any]]:
    """Fold records (oldest first) into ``seconds``-wide buckets aligned to the epoch, lazily.

    A bucket is its last record (``timestamp``, ``datetime``, and every non-numeric or nested field:
    ``source``, ``by_exchange``, ``coverage``, ``prices``, ``lower_bound``), except that with
    ``agg`` "max" / "mean" each numeric top-level field of that record (not ``timestamp`` or
    ``source_time``; booleans are not numbers) is its maximum / mean over the bucket's records that
    carry it as a number, the mean rounded to 6 decimals. Every bucket also holds
    ``max_hour_1_amount`` (the largest ``hour_1_amount``, so a short spike survives downsampling
    whatever ``agg``), ``count`` (its records) and ``agg``. Buckets without records are not
    invented. Each record's timestamp also goes to ``minutes`` when given (for the gaps). ``agg``
    None is the fold from before ``agg`` existed (exports use it): "last" without count and agg.
    """
    if agg is not None and agg not in AGGREGATES:
        raise ValueError(f"agg must be one of {', '.join(AGGREGATES)}")
    fold: _Fold | None = None
    for record in records:
        if minutes is not None:
            minutes.add(record["timestamp"])
        key = record["timestamp"] // seconds
        if fold is None or key != fold.key:
            if fold is not None:
                yield fold.result()
            fold = _Fold(key, agg)
        fold.add(record)
    if fold is not None:
        yield fold.result()


def select(
    store: JsonlStore,
    start: int | None,
    end: int | None,
    limit: int,
    interval: str,
    agg: str | None = None,
    minutes: MinuteRuns | None = None,
) -> list[dict[str, Any]]:
    """The records (``1m``) or buckets (wider intervals, folded by ``agg`` as ``bucket`` does) of ``[start, end]``,
    the most recent ``limit`` of them, oldest first. Without ``start``, a bucketed read covers just
    the ``limit`` buckets that end at ``end`` (or at the newest record). The timestamps of every
    record read (all those folded into buckets, even buckets beyond ``limit``) go to ``minutes``."""
    if interval == "1m":
        records = store.range(start, end, limit)
        if minutes is not None:
            for record in records:
                minutes.add(record["timestamp"])
        return records
    seconds = INTERVALS[interval]
    if start is None:
        newest = store.latest()
        if newest is None:
            return []
        top = end if end is not None else newest["timestamp"]
        start = (top // seconds - limit + 1) * seconds
    # Streamed: a 30-day window is folded into buckets as it is read, never held whole.
    try:
        return list(deque(bucket(store.iter_range(start, end), seconds, agg, minutes), maxlen=limit))
    except Unsorted:  # records out of order around the window: the store's sorted full scan
        if minutes is not None:
            minutes.clear()
        return list(deque(bucket(store.range(start, end), seconds, agg, minutes), maxlen=limit))


def history(
    store: JsonlStore, start: int | None, end: int | None, limit: int, interval: str, agg: str, now: float
) -> tuple[list[dict[str, Any]], list[list[int]]]:
    """``select`` and the missing minutes of the asked range, from the same single read.

    The range runs from ``start`` (its first whole minute) or, without it, from the first record
    returned (the first bucket's start for wider intervals), to ``end`` (its last whole minute) or
    now. Minutes after now are never gaps, nor is the current one (its collection may not have run
    yet) unless it has a record. When ``limit`` cut a ``1m`` answer short, the range starts at its
    first record: the minutes before it were not read. No records and no ``start``: no gaps.
    """
    seen = MinuteRuns()
    probe = limit + 1 if interval == "1m" and start is not None else limit  # one more: was it cut?
    items = select(store, start, end, probe, interval, agg, seen)
    cut = len(items) > limit
    if cut:
        items = items[1:]
    if start is not None and not cut:
        first_minute = -(-start // 60)
    elif items:
        seconds = INTERVALS[interval]
        first_minute = items[0]["timestamp"] // seconds * seconds // 60
    else:
        return items, []
    now_minute = minute_of(int(now))
    last_minute = now_minute if end is None else min(now_minute, (end + 1) // 60 - 1)
    if last_minute == now_minute and now_minute not in seen:
        last_minute -= 1  # this minute's collection may not have run yet
    return items, seen.gaps(first_minute, last_minute)


def gaps_follow_clock(end: int | None, now: float) -> bool:
    """Whether ``history``'s gaps for a window ending at ``end`` can change as time passes with no
    new record (the range then ends at the current minute, not at ``end``)."""
    return end is None or (end + 1) // 60 - 1 >= minute_of(int(now))


def missing_minutes(timestamps: Iterable[int], first_minute: int, last_minute: int) -> list[list[int]]:
    """Ranges of minutes in ``[first_minute, last_minute]`` (Unix minutes) with no record.

    Returned as ``[[from, to], …]`` in Unix seconds of the first and the last missing minute's
    start, both inclusive. Costs O(n log n) in the number of timestamps, whatever their values (a
    record dated in 9999 must not make a loop over every minute in between).
    """
    seen = MinuteRuns()
    for ts in sorted(timestamps):
        seen.add(ts)
    return seen.gaps(first_minute, last_minute)


def _summary(records: list[Mapping[str, Any]], field: str) -> dict[str, Any]:
    """min/max with their times, mean and population standard deviation. Values are bounded by the
    record format (``records.BOUNDS``), and the sums are exact (``math.fsum``) over values scaled to
    at most 1, so neither the mean nor the variance can overflow or lose the small values."""
    if not records:
        return {"min": None, "min_at": None, "max": None, "max_at": None, "avg": None, "stddev": None}
    values = [float(r[field]) for r in records]
    lo = min(records, key=lambda r: r[field])
    hi = max(records, key=lambda r: r[field])
    scale = max(abs(v) for v in values) or 1.0
    scaled = [v / scale for v in values]
    mean = math.fsum(scaled) / len(scaled)
    avg = mean * scale
    variance = math.fsum((v - mean) ** 2 for v in scaled) / len(scaled) * scale * scale
    return {
        "min": lo[field],
        "min_at": lo["timestamp"],
        "max": hi[field],
        "max_at": hi["timestamp"],
        "avg": round(avg, 6),
        "stddev": round(math.sqrt(variance), 6),
    }


def stats(records: list[Mapping[str, Any]], hours: int, now: float) -> dict[str, Any]:
    """Statistics of the records of the last ``hours`` hours before ``now`` (oldest first).

    ``expected`` counts the window's minutes (less the current one while its collection may still
    be running); ``coverage`` = count / expected. ``change_1h`` is
    the latest ``hour_1_amount`` minus the one recorded 60 minutes before it (null when that
    minute is missing). ``gaps`` lists the missing minutes; the current minute is not counted as
    missing while its collection may still be running.
    """
    now_minute = minute_of(int(now))
    first_minute = now_minute - hours * 60 + 1
    by_minute: dict[int, Mapping[str, Any]] = {}
    for r in records:  # one record per minute, the first one wins, whatever the store holds
        if minute_of(r["timestamp"]) >= first_minute and r["timestamp"] <= now:
            by_minute.setdefault(minute_of(r["timestamp"]), r)
    in_window = [by_minute[m] for m in sorted(by_minute)]
    latest = in_window[-1] if in_window else None
    change_1h = None
    if latest is not None:
        target = minute_of(latest["timestamp"]) - 60
        # Looked up in everything read, not just the window: with hours=1 it lies just outside.
        earlier = next((r for r in reversed(records) if minute_of(r["timestamp"]) == target), None)
        if earlier is not None:
            change_1h = round(latest["hour_1_amount"] - earlier["hour_1_amount"], 6)
    last_minute = now_minute
    if not in_window or minute_of(in_window[-1]["timestamp"]) != now_minute:
        last_minute = now_minute - 1  # this minute's collection may not have run yet
    expected = last_minute - first_minute + 1  # so that count + missing_minutes == expected
    gaps = missing_minutes((r["timestamp"] for r in in_window), first_minute, last_minute)
    panic = _summary(in_window, "panic_index")
    return {
        "hours": hours,
        "start": first_minute * 60,
        "end": int(now),
        "count": len(in_window),
        "expected": expected,
        "coverage": round(len(in_window) / expected, 4),
        "hour_1_amount": {
            **_summary(in_window, "hour_1_amount"),
            "latest": latest["hour_1_amount"] if latest else None,
        },
        "latest": present(latest) if latest else None,
        "change_1h": change_1h,
        "panic_index": {k: panic[k] for k in ("min", "min_at", "max", "max_at", "avg")},
        "missing_minutes": sum((to - frm) // 60 + 1 for frm, to in gaps),
        "gaps": gaps,
    }


def flatten(record: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``("by_exchange.<venue>.hour_1", 12.3)`` pairs for a nested record (lists stay whole)."""
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, name + ".")
        else:
            yield name, value


def csv_cell(value: Any) -> str:
    """A CSV cell that reads back unambiguously: JSON for numbers, booleans and lists; text as is."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, allow_nan=False)
