"""JsonlStore: an append-only series of records in one JSONL file, one record per minute.

File format: UTF-8, one JSON object per line (see ``records.py``), ordered by ``timestamp``, at
most one record per UTC minute. A line is committed once its line end is on disk.

Writers (``append``) go through ``durable.append_durably``: an exclusive ``flock`` on the sidecar
``<file>.lock``, a torn tail cut aside, then one whole-line ``O_APPEND`` write and ``fdatasync``.
Under the lock an append refuses a second record for the newest record's minute (DuplicateMinute),
a record older than the newest (OutOfOrder) and, when the newest is dated after the writer's clock
(a clock that jumped and came back), says so and what to run (FutureRecord).

Readers take no lock and never raise on bad data: bad lines (see ``lines.py``) are skipped and
counted, with one warning per read.

What reads assume, and how they check it. Windows are found by binary search, which is right only
when the file is sorted with one record per minute: true of every file this code writes, not
necessarily of one edited by hand or concatenated. So every windowed read also checks the order of
what it reads *and* of the two records on each side of the window; an adjacent second record of a
minute is dropped (the first one wins, as ``verify_liquidation --repair`` would keep it), and any
record out of order there makes that read fall back to a full scan that sorts and de-duplicates
(logged once per file; ``verify_liquidation`` reports every violation and ``--repair`` fixes them).
The data folder must be on a local filesystem: ``O_APPEND`` is not atomic on NFS.

This module does not import Django, so benchmarks and tests use it directly.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from .cache import CACHE as _CACHE
from .durable import FileLock, StoreError, append_durably, backup_file, fsync_dir, remove_stale_temp_files
from .lines import LineCursor, ReadReport, end_of_complete_lines, lines_backward, lines_forward, valid
from .records import minute_of, parse_line, to_line
from .recordstore import DuplicateMinute, FutureRecord, OutOfOrder

logger = logging.getLogger(__name__)

_COUNTS: dict[str, Any] = {}
#: How far past the writer's clock the newest record may be before it counts as "from the future".
FUTURE_SLACK = 60

__all__ = [
    "DuplicateMinute",
    "FileLock",
    "FutureRecord",
    "JsonlStore",
    "OutOfOrder",
    "ReadReport",
    "StoreError",
    "append_durably",
]


class Unsorted(Exception):
    """Internal: records out of time order (or a non-adjacent duplicate minute) around a window."""


def _numbered_valid(lines: Iterator[tuple[int | None, bytes]], report: ReadReport) -> Iterator[dict[str, Any]]:
    for line_no, line in lines:
        report.parsed += 1
        try:
            yield parse_line(line)
        except ValueError as e:
            report.skip(line_no, str(e))


def _minute(record: dict[str, Any]) -> int:
    return minute_of(record["timestamp"])


class JsonlStore:
    """The series in ``path`` (created with its folders on first append)."""

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout = lock_timeout
        self.last_report = ReadReport()

    def __repr__(self) -> str:
        return f"JsonlStore({str(self.path)!r})"

    def describe(self) -> str:
        return str(self.path)

    # -- writing ---------------------------------------------------------------------------

    def append(self, record: dict[str, Any], *, now: float | None = None) -> None:
        """Durably append ``record`` (a dict as built by ``records.build_record``).

        Returns only once the line is fsynced. Raises DuplicateMinute when the newest record is in
        the same minute, FutureRecord when the newest is dated after ``now`` (default: the clock),
        OutOfOrder when it is otherwise newer, StoreError on any I/O failure (the file is then as
        it was, except for a torn tail that was already cut off and kept aside).
        """
        line = to_line(record)
        parse_line(line)  # the line we write must be one we can read back
        clock = time.time() if now is None else now

        def refuse_duplicates(fd: int) -> None:
            newest = self._backward(fd, os.fstat(fd).st_size, None, None, 1, ReadReport())
            if not newest:
                return
            newest_ts = newest[0]["timestamp"]
            if minute_of(record["timestamp"]) == minute_of(newest_ts):
                raise DuplicateMinute(newest[0])
            if record["timestamp"] < newest_ts:
                if newest_ts > clock + FUTURE_SLACK:
                    raise FutureRecord(
                        f"the newest stored record is dated {newest[0]['datetime']} (UTC+8), "
                        f"{newest_ts - int(clock)} s after this machine's clock: the clock jumped forward and "
                        "came back. Run `manage.py verify_liquidation --repair`: it moves records dated after "
                        "now to a side file, and collection goes on"
                    )
                raise OutOfOrder(
                    f"record at {record['datetime']} is older than the newest stored record "
                    f"({newest[0]['datetime']}, UTC+8); refusing to write out of order"
                )

        append_durably(self.path, line, lock_timeout=self.lock_timeout, check=refuse_duplicates)

    # -- reading ---------------------------------------------------------------------------

    def latest(self) -> dict[str, Any] | None:
        """The newest valid record (the first one of its minute), read from the end of the file;
        None when there is none. Cached in-process until the file changes. Callers must not modify
        the returned record."""
        found = self.range(None, None, 1)
        return found[0] if found else None

    def records(self) -> Iterator[dict[str, Any]]:
        """Every valid record as stored (in file order). Warns once, at the end, about skipped lines."""
        report = ReadReport()
        self.last_report = report
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            yield from _numbered_valid(lines_forward(fd, 0, os.fstat(fd).st_size, report, line_no=1), report)
        finally:
            os.close(fd)
        report.warn(self.path)

    def range(self, start: int | None = None, end: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Records with ``start <= timestamp <= end`` (either bound optional), oldest first, one per
        minute. With ``limit``, only the most recent ``limit`` of them (still oldest first).

        The window is found by binary search over byte offsets and only it is read (plus two records
        on each side, to check the order), so the cost is what is returned, not the file's size.
        Results are cached in-process until the file changes (identity, size, mtime). Callers must
        not modify the returned records.
        """
        identity = self._identity()
        if identity is None:
            return []
        key = (*identity, "range", start, end, limit)
        cached = _CACHE.get(key)
        if cached is not None:
            self.last_report = ReadReport()  # a cached answer reads nothing
            return cached
        report = ReadReport()
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
            try:
                if limit is not None:
                    out = self._backward(fd, size, start, end, limit, report)
                else:
                    out = list(self._forward(fd, size, start, end, report))
            except Unsorted:
                out = self._scan(fd, size, start, end, limit, report, identity)
        finally:
            os.close(fd)
        report.warn(self.path, "the requested window")
        self.last_report = report
        _CACHE.put(key, out)
        return out

    def iter_range(self, start: int | None, end: int | None) -> Iterator[dict[str, Any]]:
        """Like ``range`` without a limit, as a stream: for long windows that are folded (bucketed)
        as they are read, never held in memory whole. Not cached.

        Raises ``Unsorted`` (possibly after yielding some records) when the records around or inside
        the window are out of order: the caller then starts again with ``range``, which falls back
        to a full scan."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        report = ReadReport()
        self.last_report = report
        try:
            yield from self._forward(fd, os.fstat(fd).st_size, start, end, report)
        finally:
            os.close(fd)
            report.warn(self.path, "the requested window")

    def _forward(
        self, fd: int, size: int, start: int | None, end: int | None, report: ReadReport
    ) -> Iterator[dict[str, Any]]:
        """The window, oldest first, read forward from the binary search's offset; raises Unsorted
        when the two records before it, the window or the record after it are out of order."""
        cursor = LineCursor(fd, size, report)
        offset = 0 if start is None else cursor.seek(start)
        before = list(islice(valid(lines_backward(fd, offset, report), report), 2)) if offset else []
        if len(before) == 2 and _minute(before[1]) >= _minute(before[0]):
            raise Unsorted
        if before and start is not None and before[0]["timestamp"] >= start:
            raise Unsorted
        prev = before[0] if before else None
        past_end = False
        numbered = lines_forward(fd, offset, size, report, line_no=1 if offset == 0 else None)
        for record in _numbered_valid(numbered, report):
            if prev is not None and _minute(record) <= _minute(prev):
                if _minute(record) < _minute(prev):
                    raise Unsorted
                report.duplicates += 1  # a second record of the minute just read: the first one wins
                continue
            prev = record
            if past_end:
                break  # one record past the end, in order: nothing later can be in the window
            ts = record["timestamp"]
            if start is not None and ts < start:
                continue
            if end is not None and ts > end:
                past_end = True
                continue
            yield record

    def _backward(
        self, fd: int, size: int, start: int | None, end: int | None, limit: int, report: ReadReport
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` records of the window, oldest first, read backwards from the end of
        the window; raises Unsorted when the records read, the two after the window or the two
        before what was taken are out of order."""
        if end is None:
            stop = end_of_complete_lines(fd, size)
            if stop < size:
                report.skip(None, "unterminated last line (a write in progress or a torn write)")
            newer: list[dict[str, Any]] = []
        else:
            cursor = LineCursor(fd, size, report)
            stop = cursor.seek_exact(end + 1)
            newer = list(islice(valid((line for _, line in lines_forward(fd, stop, size, report)), report), 2))
        if len(newer) == 2 and _minute(newer[1]) <= _minute(newer[0]):
            raise Unsorted
        if newer and end is not None and newer[0]["timestamp"] <= end:
            raise Unsorted
        out: list[dict[str, Any]] = []
        prev = newer[0] if newer else None
        beyond = 0  # records checked past what was taken
        for record in valid(lines_backward(fd, stop, report), report):
            if prev is not None and _minute(record) >= _minute(prev):
                if _minute(record) > _minute(prev):
                    raise Unsorted
                # The same minute again, earlier in the file: that one is the first, so it wins.
                report.duplicates += 1
                if out and out[-1] is prev:
                    out[-1] = record
                prev = record
                continue
            prev = record
            if beyond or len(out) >= limit or (start is not None and record["timestamp"] < start):
                beyond += 1
                if beyond >= 2:
                    break
                continue
            out.append(record)
        out.reverse()
        return out

    def _scan(
        self,
        fd: int,
        size: int,
        start: int | None,
        end: int | None,
        limit: int | None,
        report: ReadReport,
        identity: tuple[Any, ...] | None,
    ) -> list[dict[str, Any]]:
        """The window from a full read: the first record of each minute, sorted. For files whose
        order is broken; costs the whole file, so it is logged once per file."""
        key = (identity[:3] if identity else (str(self.path),)) + ("unsorted-warned",)
        if _CACHE.get(key) is None:
            _CACHE.put(key, [True])
            logger.warning(
                "%s: records out of time order or duplicate minutes; answers come from a full scan until "
                "`manage.py verify_liquidation --repair` sorts the file",
                self.path,
            )
        low = None if start is None else minute_of(start)
        high = None if end is None else minute_of(end)
        by_minute: dict[int, dict[str, Any]] = {}
        for record in valid((line for _, line in lines_forward(fd, 0, size, report)), report):
            minute = _minute(record)
            if (low is None or minute >= low) and (high is None or minute <= high):
                by_minute.setdefault(minute, record)
        out = [
            by_minute[m]
            for m in sorted(by_minute)
            if (start is None or by_minute[m]["timestamp"] >= start)
            and (end is None or by_minute[m]["timestamp"] <= end)
        ]
        return out[-limit:] if limit is not None else out

    def _identity(self) -> tuple[Any, ...] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (str(self.path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def version(self) -> str:
        """A cheap token that changes whenever the records may have changed (an append included): for ETags
        and response caches. One ``stat``."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "none"
        return f"{st.st_dev:x}-{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"

    def revision(self) -> str:
        """A token that changes when records already served may have changed (prune, import, repair:
        every rewrite replaces the file, so a new inode), and not when a record is appended. A client
        that fetches only what is new keeps its copy while this stays the same."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "none"
        return f"{st.st_dev:x}-{st.st_ino:x}"

    def lines(self) -> Iterator[bytes]:
        """Every valid line byte for byte as stored (file order, newline included): what ``migrate_store``
        moves, so a legacy file's formatting survives a round trip."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            for _, line in lines_forward(fd, 0, os.fstat(fd).st_size, ReadReport(), line_no=1):
                try:
                    parse_line(line)
                except ValueError:
                    continue
                yield line.rstrip(b"\r\n") + b"\n"
        finally:
            os.close(fd)

    def count(self) -> int:
        """How many valid records the file holds; counted once per version of the file (/metrics asks on
        every scrape)."""
        key = (str(self.path), self.version())
        if _COUNTS.get("key") != key:
            _COUNTS.update(key=key, n=sum(1 for _ in self.records()))
        return _COUNTS["n"]

    def rewrite(
        self, transform: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], *, backup: Path | None = None
    ) -> tuple[int, int]:
        """Replace the file with ``transform(records)``, atomically, under the sidecar lock.

        The new content goes to a temp file in the same folder, is fsynced, then ``os.replace``d over
        the data file, and the folder is fsynced: a crash at any point leaves the old file or the new
        one, never a mix, and an append waiting on the lock lands in the new file. Temp files left by
        a rewrite that was killed are removed first. With ``backup``, the old file is hard-linked (or
        copied) there before the replace. Returns (records before, records after).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(self.lock_path, self.lock_timeout):
            remove_stale_temp_files(self.path)
            records = list(self.records()) if self.path.exists() else []
            new = transform(records)
            data = b"".join(to_line(r) for r in new)
            tmp = self.path.with_name(f".{self.path.name}.rewrite-{os.getpid()}.tmp")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if backup is not None and self.path.exists():
                    backup_file(self.path, backup)
                os.replace(tmp, self.path)
                fsync_dir(self.path.parent)
            except OSError as e:
                tmp.unlink(missing_ok=True)
                raise StoreError(f"rewriting {self.path} failed ({e.strerror or e}); the old file is untouched") from e
        return len(records), len(new)
