"""BucketStore: the minute buckets (``buckets.py``) on disk, folded from the event store.

Files, in ``<events dir>/buckets/``:

- ``venues-YYYY-MM-DD.jsonl`` and ``coins-YYYY-MM-DD.jsonl``: one table each, one file per UTC day of the
  minutes they hold. A line is a *delta*: ``{"m": minute, "seq": fold, ...}`` adds one fold's events of
  that minute (venue cells ``x``, coverage ``live``, first and last offsets ``o``/``e``; or coin cells
  ``c``). A minute's bucket is the sum of its lines; two lines of one minute with the same ``seq`` are one
  fold written twice (a crash, then the replay), and the later one counts.
- ``folds.jsonl``: one line per fold, appended *after* its delta lines: ``{"seq", "at", "cursor"}``, where
  ``cursor`` is how far (bytes) each event day file has been folded. This line is the commit: readers
  ignore delta lines with a ``seq`` above the newest one here, and a fold that crashed before writing it is
  replayed whole from the previous cursor, under the same ``seq``.

So appends stay whole-line and crash-safe (``durable.append_durably``: locked, torn tail cut, fsynced),
late events (a poll's ten-minute overlap, a 24 h backfill) are simply folded when they are stored, and
the collector never re-reads what it folded before. Once a UTC day has been over for ``CLOSE_AFTER``
seconds its two files are **compacted**: rewritten atomically with one summed line per minute (``seq`` 0);
an event folded into that day later is a new delta line again.

Django-free.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from . import buckets
from .bucketlines import base_line, day_start, dumps, read_day_totals, read_minutes
from .durable import FileLock, StoreError, append_durably
from .eventstore import EventStore, day_of
from .lines import ReadReport, lines_backward
from .records import RecordError, loads_strict
from .sharedfiles import write_bytes_atomic

logger = logging.getLogger(__name__)

TABLES = ("venues", "coins")
# A day's files are compacted this long after the day ends: late rows are in by then, and no window of up to
# 24 h ending now still covers the day, so no reader of a live window has to read a rewritten file again.
CLOSE_AFTER = 86400 + 15 * 60
COVER_BACK = 25 * 3600  # coverage is never written further back than the events a venue may still send
KEEP_FOLD_LINES = 3 * 1440  # folds.jsonl is cut to about three days of folds when it is compacted


@dataclass
class Mark:
    """The newest committed fold: its ``seq``, wall time ``at`` (Unix s), event-file ``cursor`` (day → bytes),
    ``covered`` (the last minute whose coverage is written), ``compacted`` (the last compacted day) and
    ``done_before`` (event days before it are final and no longer read: the cursor only keeps newer ones)."""

    seq: int = 0
    at: int = 0
    cursor: dict[str, int] = field(default_factory=dict)
    covered: int | None = None
    done_before: str | None = None
    compacted: str | None = None

    @classmethod
    def parse(cls, line: Any) -> Mark | None:
        if not isinstance(line, dict) or not isinstance(line.get("seq"), int) or not isinstance(line.get("at"), int):
            return None
        cursor = line.get("cursor") if isinstance(line.get("cursor"), dict) else {}
        return cls(
            seq=line["seq"],
            at=line["at"],
            cursor={str(k): v for k, v in cursor.items() if isinstance(v, int) and v >= 0},
            covered=line.get("covered") if isinstance(line.get("covered"), int) else None,
            compacted=line.get("compacted") if isinstance(line.get("compacted"), str) else None,
            done_before=line.get("done_before") if isinstance(line.get("done_before"), str) else None,
        )


@dataclass
class FoldResult:
    seq: int
    events: int  # event lines read
    minutes: int  # minutes given a delta line
    compacted: list[str] = field(default_factory=list)


class BucketStore:
    def __init__(self, folder: str | os.PathLike[str], *, lock_timeout: float = 30.0) -> None:
        self.folder = Path(folder)
        self.lock_timeout = lock_timeout
        self.key = str(self.folder)

    def identity(self) -> str:
        """Names this store's history in ETags: a store rebuilt from scratch counts its folds from 1 again,
        and may even get the old fold log's inode back, so the log's inode and mtime are part of it."""
        try:
            st = os.stat(self.folds_path)
        except FileNotFoundError:
            return "none"
        return f"{st.st_ino:x}.{st.st_mtime_ns:x}"

    def new_reader(self) -> Any:
        """A cached reader of this store (``bucketread.BucketReader``); use ``bucketread.reader_for``."""
        from .bucketread import BucketReader  # bucketread imports this module

        return BucketReader(self)

    def rebuild(self, events: EventStore, since: date | None = None, progress: Callable[[str], Any] = print) -> str:
        """``rebuild`` (below) of this store."""
        return rebuild(self, events, since, progress)

    # -- files ------------------------------------------------------------------------------------

    def path(self, table: str, day: date) -> Path:
        return self.folder / f"{table}-{day.isoformat()}.jsonl"

    @property
    def folds_path(self) -> Path:
        return self.folder / "folds.jsonl"

    def days(self, table: str = "venues") -> list[date]:
        """The days with a file of ``table``, oldest first."""
        out = []
        for p in self.folder.glob(f"{table}-*.jsonl"):
            try:
                out.append(date.fromisoformat(p.name[len(table) + 1 : -len(".jsonl")]))
            except ValueError:
                continue
        return sorted(out)

    def _lock(self) -> FileLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        return FileLock(self.folder / "fold.lock", self.lock_timeout)

    def marks(self) -> Iterator[Mark]:
        """Committed folds, newest first (read backwards: the newest costs one block)."""
        try:
            fd = os.open(self.folds_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            for raw in lines_backward(fd, os.fstat(fd).st_size, ReadReport()):
                try:
                    mark = Mark.parse(loads_strict(raw))
                except (RecordError, ValueError):
                    continue
                if mark is not None:
                    yield mark
        finally:
            os.close(fd)

    def mark(self) -> Mark | None:
        """The newest committed fold, or None before the first."""
        return next(self.marks(), None)

    def cursor_at(self, at: int) -> dict[str, int] | None:
        """The event-file cursor of the newest fold committed at or before ``at`` (Unix s), or None: every
        event stored after that fold lies past it. Used to remember recent event keys cheaply."""
        for mark in self.marks():
            if mark.at <= at:
                return mark.cursor
        return None

    def stored_since(self, events: EventStore, at: int) -> list[dict[str, Any]] | None:
        """Every event stored after the newest fold committed at or before ``at`` (Unix s), read from the
        cursor on (cheap: minutes of appends, not a day of events); None when no fold is that old. An event
        whose ``ts_ms`` is at or after ``at`` + the allowed clock skew is certainly among them."""
        cursor = self.cursor_at(at)
        if cursor is None:
            return None
        first = day_of(at * 1000 - 86_400_000).isoformat()
        out: list[dict[str, Any]] = []
        for day in events.days():
            if day.isoformat() >= first:
                out.extend(e for _, e in events.read_from(day, cursor.get(day.isoformat(), 0))[0])
        return out

    # -- folding ----------------------------------------------------------------------------------

    def fold(self, events: EventStore, live: Mapping[str, int], now: float) -> FoldResult:
        """Fold every event stored since the last fold into delta lines, write coverage for the minutes
        that closed since (``live``: venue → complete since, Unix s), commit, then compact a finished day.
        Raises ``durable.StoreError`` (nothing committed; the next fold replays)."""
        with self._lock():
            mark = self.mark() or Mark()
            seq = mark.seq + 1
            cursor = dict(mark.cursor)
            now_m = int(now) // 60 * 60
            first = mark.covered + 60 if mark.covered is not None else now_m - COVER_BACK
            coverage = {}
            for m in range(max(first, now_m - COVER_BACK), now_m, 60):  # closed minutes only
                names = sorted(v for v, since in live.items() if since <= m)
                if names:
                    coverage[m] = names
            read = written = 0
            for day in events.days():
                key = day.isoformat()
                if mark.done_before and key < mark.done_before:
                    continue  # no event can be stored that long after (events.MAX_AGE_MS); rebuild refolds
                stop, pairs = events.iter_from(day, cursor.get(key, 0))
                counted = _Counted(pairs)
                deltas = buckets.fold(counted)  # a minute's events are all in its own day's file
                for m in [m for m in coverage if day_of(m * 1000) == day]:
                    deltas.setdefault(m, {"x": {}, "c": {}})["live"] = coverage.pop(m)
                self._write(seq, deltas)  # day by day: a first fold over weeks of events holds one day
                read, written, cursor[key] = read + counted.n, written + len(deltas), stop
            self._write(seq, {m: {"x": {}, "c": {}, "live": names} for m, names in coverage.items()})
            written += len(coverage)
            floor = (day_of(int(now * 1000)) - timedelta(days=2)).isoformat()
            cursor = {k: v for k, v in cursor.items() if k >= floor}
            commit = {"seq": seq, "at": int(now), "cursor": cursor, "covered": now_m - 60, "done_before": floor}
            commit["live"] = dict(live)
            if mark.compacted:
                commit["compacted"] = mark.compacted
            append_durably(self.folds_path, dumps(commit))
            return FoldResult(seq=seq, events=read, minutes=written, compacted=self._compact_finished(commit, now))

    def _write(self, seq: int, deltas: Mapping[int, buckets.Line]) -> None:
        files: dict[Path, list[bytes]] = {}
        for m in sorted(deltas):
            d = deltas[m]
            venue_line: dict[str, Any] = {"m": m, "seq": seq}
            for key in ("live", "o", "e"):
                if key in d:
                    venue_line[key] = d[key]
            if d.get("x"):
                venue_line["x"] = d["x"]
            day = day_of(m * 1000)
            files.setdefault(self.path("venues", day), []).append(dumps(venue_line))
            if d.get("c"):
                files.setdefault(self.path("coins", day), []).append(dumps({"m": m, "seq": seq, "c": d["c"]}))
        for path, lines in files.items():
            append_durably(path, b"".join(lines))

    # -- compaction and rebuilding ----------------------------------------------------------------

    def _compact_finished(self, commit: dict[str, Any], now: float) -> list[str]:
        """After a commit: compact the days that ended at least ``CLOSE_AFTER`` ago and were not compacted
        yet (at most two per fold, oldest first, so a first fold over old files does not take minutes),
        then record that in a second commit line (same cursor). A crash in between compacts them again,
        which changes nothing."""
        last_closed = day_of(int((now - CLOSE_AFTER) * 1000)) - timedelta(days=1)
        done = commit.get("compacted") or ""
        todo = [d for d in self.days() if done < d.isoformat() <= last_closed.isoformat()][:2]
        if not todo:
            return []
        for day in todo:
            self.compact(day, committed=commit["seq"])
        self._trim_folds()
        append_durably(self.folds_path, dumps({**commit, "seq": commit["seq"] + 1, "compacted": todo[-1].isoformat()}))
        return [d.isoformat() for d in todo]

    def compact(self, day: date, *, committed: int | None = None) -> None:
        """Rewrite ``day``'s two files with one summed line per minute (``seq`` 0), atomically each.
        Call under the fold lock (``fold`` and ``rebuild`` do)."""
        committed = self._committed() if committed is None else committed
        for table in TABLES:
            path = self.path(table, day)
            if not path.exists():
                continue
            merged = {m: buckets.safe_merge(lines)[0] for m, lines in read_minutes(path, committed).items()}
            self._write_compacted(table, day, merged)

    def _write_compacted(self, table: str, day: date, merged: Mapping[int, buckets.Line]) -> None:
        """Write ``day``'s file of ``table`` as one base line per minute, then record the day's total with
        that file's size in the month's totals file (a reader uses it while the day's file keeps that size)."""
        path = self.path(table, day)
        kept = [(m, b) for m, b in sorted(merged.items()) if table == "venues" or b.get("c")]
        if not kept and not path.exists():
            return
        body = b"".join(dumps(base_line(table, m, b)) for m, b in kept)
        write_bytes_atomic(path, body)
        total = buckets.empty_total()
        for _, b in kept:
            buckets.accumulate(total, b)
        line = dumps({"d": day.isoformat(), "size": len(body), "t": total})
        totals = self.totals_path(table, day)
        if read_day_totals(totals).get(day.isoformat()) != json.loads(line):  # idempotent: same total, no line
            append_durably(totals, line)

    def totals_path(self, table: str, day: date) -> Path:
        """The month's file of day totals of ``table`` (``totals-venues-2026-11.jsonl``)."""
        return self.folder / f"totals-{table}-{day.isoformat()[:7]}.jsonl"

    def _committed(self) -> int:
        mark = self.mark()
        return mark.seq if mark else 0

    def _trim_folds(self) -> None:
        marks = []
        for mark in self.marks():
            marks.append(mark)
            if len(marks) >= KEEP_FOLD_LINES:
                break
        lines = [dumps({k: v for k, v in vars(m).items() if v is not None}) for m in reversed(marks)]
        write_bytes_atomic(self.folds_path, b"".join(lines))

    def add_coverage(self, live: Mapping[int, list[str]]) -> None:
        """Record that ``live[minute]`` venues were complete for those minutes (lines of the committed fold,
        as a fold's coverage; [] says none was, which ``rebuild_day`` then keeps): how ``migrate_store``
        brings a database's coverage into the files before ``rebuild_day`` recomputes the cells."""
        with self._lock():
            mark = self.mark() or Mark()
            self._write(mark.seq, {m: {"x": {}, "c": {}, "live": names} for m, names in live.items()})

    def rebuild_day(self, events: EventStore, day: date, now: float | None = None) -> tuple[int, int]:
        """Recompute ``day``'s buckets from its event file (coverage kept from the old lines; a minute that
        had none is live for the venues with events in it), write them compacted, and move the fold
        cursor of that file to where this read stopped. Returns (events, minutes).

        The cursor moves in a commit line of the *same* ``seq`` (the delta lines a crashed fold left, of
        the next seq, stay uncommitted and are replayed by the next fold, not counted twice), stamped
        ``now`` (default: the clock), so ``stored_since`` for a time before the rebuild still reads from
        the older fold's cursor."""
        with self._lock():
            mark = self.mark() or Mark()
            stop, pairs = events.iter_from(day, 0)
            counted = _Counted(pairs)
            fresh = buckets.fold(counted)
            venue_path = self.path("venues", day)
            old = {m: buckets.safe_merge(ls)[0] for m, ls in read_minutes(venue_path, mark.seq).items()}
            for m, b in fresh.items():
                b["live"] = old[m]["live"] if m in old else sorted(b["x"])
            for m, b in old.items():
                if m not in fresh and b["live"]:
                    fresh[m] = {"x": {}, "c": {}, "live": b["live"]}
            for table in TABLES:
                self._write_compacted(table, day, fresh)
            if mark.cursor.get(day.isoformat()) != stop:
                cursor = {**mark.cursor, day.isoformat(): stop}
                commit = {"seq": mark.seq, "at": int(time.time() if now is None else now), "cursor": cursor}
                for key in ("covered", "compacted", "done_before"):
                    if getattr(mark, key) is not None:
                        commit[key] = getattr(mark, key)
                append_durably(self.folds_path, dumps(commit))
            return counted.n, len(fresh)


def rebuild(
    store: BucketStore, events: EventStore, since: date | None = None, progress: Callable[[str], Any] = print
) -> str:
    """Rebuild every day with events (from ``since``), saying so day by day; a day with buckets but no
    event file (pruned) is skipped and named. Returns the closing sentence."""
    days = sorted({*events.days(), *store.days()})
    days = [d for d in days if since is None or d >= since]
    have = set(events.days())
    done = skipped = 0
    for i, day in enumerate(days, 1):
        if day not in have:
            progress(f"{day}: events pruned, its buckets are kept as they are ({i}/{len(days)})")
            skipped += 1
            continue
        n_events, n_minutes = store.rebuild_day(events, day)
        progress(f"{day}: {n_events:,} events → {n_minutes:,} minutes ({i}/{len(days)})")
        done += 1
    return f"rebuilt {done} day(s); {skipped} day(s) kept because their events were pruned"


class _Counted:
    """An iterator that counts what passed through it."""

    def __init__(self, items: Iterator[Any]) -> None:
        self.items, self.n = items, 0

    def __iter__(self) -> Iterator[Any]:
        for item in self.items:
            self.n += 1
            yield item


__all__ = [
    "CLOSE_AFTER",
    "TABLES",
    "BucketStore",
    "FoldResult",
    "Mark",
    "StoreError",
    "day_start",
    "read_minutes",
    "rebuild",
]
