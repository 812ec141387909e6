"""Cached, merged reads of the minute buckets, for the processes that read them again and again.

``BucketReader`` keeps, per table and day file, the parsed delta lines, each minute's merged bucket and
each hour's total (``buckets.accumulate``). When the file grows only the new lines are parsed and only
the minutes and hours they touch are recomputed; a rewritten file (compaction, rebuild: a new inode) is
read again. So a 24 h summary sums ~24 hour totals and at most ~120 edge minutes, whatever the number
of events, and a collection costs the same on the first day as after a year.

The cache is per process (``READER``), bounded to ``MAX_DAYS`` day files, and thread-safe.
Django-free.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from . import buckets
from .bucketlines import day_start, parse_lines, read_day_totals
from .bucketstore import BucketStore
from .eventstore import day_of

logger = logging.getLogger(__name__)

HOUR = 3600
TAIL = 256
MAX_DAYS = 12  # day files held per process (venues and coins of six days)


@dataclass
class _Day:
    ident: tuple[int, int] = (0, 0)
    size: int = 0
    committed: int = 0
    by_seq: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    merged: dict[int, buckets.Line] = field(default_factory=dict)
    hours: dict[int, buckets.Line] = field(default_factory=dict)
    tail: bytes = b""  # the last bytes parsed: an "append" that does not continue them is a rewrite


class BucketReader:
    def __init__(self, store: BucketStore) -> None:
        self.store = store
        self._days: OrderedDict[tuple[str, str, date], _Day] = OrderedDict()
        self._lock = threading.RLock()
        self._mark: tuple[tuple[int, int, int] | None, int] = (None, 0)
        self._totals: dict[Path, tuple[tuple[int, int], dict[str, dict[str, Any]]]] = {}

    def committed(self) -> int:
        """The newest committed fold's ``seq`` (0 before the first fold); read again only when
        ``folds.jsonl`` changed (a 2,000-bar answer asks 4,000 times)."""
        try:
            st = os.stat(self.store.folds_path)
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            return 0
        with self._lock:
            if self._mark[0] != stamp:
                mark = self.store.mark()
                self._mark = (stamp, mark.seq if mark else 0)
            return self._mark[1]

    def available(self) -> bool:
        """Whether any fold has been committed (the keyless source keeps buckets)."""
        return self.committed() > 0

    def _day(self, table: str, day: date, committed: int) -> _Day:
        path = self.store.path(table, day)
        key = (str(self.store.folder), table, day)
        try:
            st = os.stat(path)
            ident, size = (st.st_dev, st.st_ino), st.st_size
        except FileNotFoundError:
            ident, size = (0, 0), 0
        with self._lock:
            cached = self._days.get(key)
            if cached is None or cached.ident != ident or cached.size > size:
                cached = _Day(ident=ident, committed=committed)
            self._days[key] = cached
            self._days.move_to_end(key)
            while len(self._days) > MAX_DAYS:
                self._days.popitem(last=False)
            touched: set[int] = set()
            if committed != cached.committed:
                still = []
                for line in cached.pending:
                    if line["seq"] <= committed:
                        cached.by_seq.setdefault(line["m"], {})[line["seq"]] = line
                        touched.add(line["m"])
                    else:
                        still.append(line)
                cached.pending, cached.committed = still, committed
            if size > cached.size:
                with open(path, "rb") as f:
                    f.seek(cached.size - len(cached.tail))
                    if f.read(len(cached.tail)) != cached.tail:  # rewritten, on a reused inode: read it all
                        cached = self._days[key] = _Day(ident=ident, committed=committed)
                        touched = set()
                        f.seek(0)
                    data = f.read(size - cached.size)
                whole = data[: data.rfind(b"\n") + 1]
                cached.tail = (cached.tail + whole)[-TAIL:]
                fresh: dict[int, dict[int, dict[str, Any]]] = {}
                cached.pending.extend(parse_lines(whole, committed, fresh))
                for m, by_seq in fresh.items():
                    cached.by_seq.setdefault(m, {}).update(by_seq)
                touched.update(fresh)
                cached.size += len(whole)
            for m in touched:
                by_seq = cached.by_seq[m]
                cached.merged[m], bad = buckets.safe_merge(by_seq[s] for s in sorted(by_seq))
                if bad:
                    logger.warning("%s: minute %d: %d bucket line(s) of the wrong shape left out", path, m, bad)
                cached.hours.pop(m // HOUR * HOUR, None)
            return cached

    def minutes(self, table: str, start: int, end: int) -> dict[int, buckets.Line]:
        """The merged buckets of the minutes starting in ``[start, end]`` (Unix s), by minute."""
        out: dict[int, buckets.Line] = {}
        committed = self.committed()
        with self._lock:
            for day in _days_between(start, end):
                cached = self._day(table, day, committed)
                out.update((m, b) for m, b in cached.merged.items() if start <= m <= end)
        return out

    def total(self, table: str, start: int, end: int) -> buckets.Line:
        """The sum of the minutes starting in ``[start, end]``: whole hours from the cache, edges by minute."""
        total = buckets.empty_total()
        committed = self.committed()
        with self._lock:
            for day in _days_between(start, end):
                self._add_day(total, self._day(table, day, committed), day, start, end)
        return total

    def _add_day(self, total: buckets.Line, cached: _Day, day: date, start: int, end: int) -> None:
        # the minutes that start in [start, end]: the edges rounded inwards to whole minutes
        lo, hi = max(-(-start // 60) * 60, day_start(day)), min(end // 60 * 60, day_start(day) + 86400 - 60)
        hour = lo // HOUR * HOUR
        while hour <= hi:
            if hour >= lo and hour + HOUR - 60 <= hi:
                buckets.accumulate(total, self._hour(cached, hour))
            else:
                for m in range(max(hour, lo), min(hour + HOUR - 60, hi) + 60, 60):
                    if m in cached.merged:
                        buckets.accumulate(total, cached.merged[m])
            hour += HOUR

    def day_total(self, table: str, day: date) -> buckets.Line:
        """The total of one whole UTC day: the compacted day's recorded total while its file is unchanged
        (a year of daily bars reads twelve small files), else summed from the day's buckets."""
        try:
            size = os.stat(self.store.path(table, day)).st_size
        except FileNotFoundError:
            size = 0
        path = self.store.totals_path(table, day)
        try:
            stamp = (os.stat(path).st_ino, os.stat(path).st_size)
        except FileNotFoundError:
            stamp = (0, 0)
        with self._lock:
            cached = self._totals.get(path)
            if cached is None or cached[0] != stamp:
                cached = (stamp, {d: e for d, e in read_day_totals(path).items() if _usable(e.get("t"))})
                self._totals[path] = cached
            entry = cached[1].get(day.isoformat())
        if entry is not None and entry.get("size") == size:
            return entry["t"]
        return self.total(table, day_start(day), day_start(day) + 86340)

    def _hour(self, cached: _Day, hour: int) -> buckets.Line:
        with self._lock:
            got = cached.hours.get(hour)
            if got is None:
                got = buckets.empty_total()
                for m in range(hour, hour + HOUR, 60):
                    if m in cached.merged:
                        buckets.accumulate(got, cached.merged[m])
                cached.hours[hour] = got
            return got

    def warm(self, now: float) -> None:
        """Read both tables' day files of the last two days (a 24 h window and the one before it, which
        ``summary`` compares with), so that the first request of a process does not pay the parse.
        Safe to call from a thread: requests arriving meanwhile wait for the lock, then read warm."""
        if not self.available():
            return
        end = int(now)
        for table in ("venues", "coins"):
            self.total(table, end - 2 * 86400, end)

    def present(self, start: int, end: int) -> set[int]:
        """The minutes in ``[start, end]`` that have a bucket (the rest are gaps)."""
        return set(self.minutes("venues", start, end))


def _usable(total: Any) -> bool:
    """Whether a recorded day total has the shape ``buckets.accumulate`` reads (else it is recomputed)."""
    try:
        buckets.accumulate(buckets.empty_total(), total)
    except buckets.MALFORMED:
        return False
    return isinstance(total, dict) and isinstance(total.get("n"), int)


def _days_between(start: int, end: int) -> Iterator[date]:
    day, last = day_of(start * 1000), day_of(end * 1000)
    while day <= last:
        yield day
        day = date.fromordinal(day.toordinal() + 1)


#: Per process: one reader per bucket folder.
_READERS: dict[str, BucketReader] = {}
_READERS_LOCK = threading.Lock()


def reader_for(store: Any) -> Any:
    """This process's reader of ``store`` (a ``BucketStore`` or a database's ``PgBucketStore``)."""
    with _READERS_LOCK:
        if store.key not in _READERS:
            _READERS[store.key] = store.new_reader()
        return _READERS[store.key]


def warm_in_background(store: Any) -> threading.Thread:
    """Warm this process's reader of ``store`` in a daemon thread (a web worker at start: at a million
    events a day the first parse of the day's coin table takes seconds, which no visitor should wait for).
    A failure is logged, never raised: the first request then reads cold, as without warming."""

    def run() -> None:
        try:
            reader_for(store).warm(time.time())
        except Exception:  # warming is an optimisation; the request path reports real errors
            logger.exception("warming the bucket reader of %s failed; requests will read cold", store.key)

    thread = threading.Thread(target=run, name="bucket-reader-warm", daemon=True)
    thread.start()
    return thread
