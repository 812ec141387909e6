"""JsonlStore: an append-only series of records in one JSONL file, one record per minute.

File format: UTF-8, one JSON object per line (see ``records.py``), ordered by ``timestamp``, at
most one record per UTC minute. A line is committed once its trailing ``\\n`` is on disk.

Writers (``append``) take an exclusive ``fcntl.flock`` on the sidecar ``<file>.lock``. The sidecar
is never replaced or deleted, so the lock stays valid when a maintenance command rewrites the data
file with ``os.replace``; ``flock`` dies with its process (SIGKILL included), so no lock is ever
stale. Under the lock an append:

1. cuts off a torn tail: if the last byte is not ``\\n`` (a writer died mid-line), the fragment is
   moved to ``<file>.torn-<unix time>`` and the file truncated to its last ``\\n``;
2. refuses a second record for the newest record's minute (DuplicateMinute) and a record older
   than the newest (OutOfOrder);
3. writes the whole line with one ``os.write`` on an ``O_APPEND`` descriptor (a short write is
   truncated away and fails) and ``os.fdatasync``s it. Acknowledged means durable: an fsync error
   fails the append and is not retried (a second fsync can "succeed" with the data lost).

Readers take no lock and never raise on bad data: blank lines, invalid JSON, non-objects, bad or
missing fields and an unterminated last line are skipped and counted, with one warning per read.
The data folder must be on a local filesystem: ``O_APPEND`` is not atomic on NFS.

This module does not import Django, so benchmarks and tests use it directly.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .records import RecordError, minute_of, parse_line, to_line

logger = logging.getLogger(__name__)

_BLOCK = 64 * 1024


class StoreError(Exception):
    """The store could not do what was asked; nothing was written."""


class DuplicateMinute(StoreError):
    """The newest stored record is already in this record's minute. Not an error for a collector."""

    def __init__(self, existing: dict[str, Any]) -> None:
        super().__init__(f"a record for {existing.get('datetime')} (UTC+8) is already stored for this minute")
        self.existing = existing


class OutOfOrder(StoreError):
    """The record is older than the newest stored record (clock went backwards?)."""


@dataclass
class ReadReport:
    """What one read skipped: how many lines, the first one's number (1-based) and why."""

    skipped: int = 0
    first_line: int | None = None
    first_reason: str = ""
    reasons: list[str] = field(default_factory=list)

    def skip(self, line_no: int | None, reason: str) -> None:
        self.skipped += 1
        if self.first_reason == "":
            self.first_line, self.first_reason = line_no, reason

    def warn(self, path: Path, where: str = "") -> None:
        if self.skipped:
            at = f"line {self.first_line}" if self.first_line else where or "near the end"
            logger.warning(
                "%s: skipped %d bad line(s); first at %s: %s",
                path,
                self.skipped,
                at,
                self.first_reason,
            )


class JsonlStore:
    """The series in ``path`` (created with its folders on first append)."""

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout = lock_timeout
        self.last_report = ReadReport()

    def __repr__(self) -> str:
        return f"JsonlStore({str(self.path)!r})"

    # -- writing ---------------------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> None:
        """Durably append ``record`` (a dict as built by ``records.build_record``).

        Returns only once the line is fsynced. Raises DuplicateMinute when the newest record is in
        the same minute, OutOfOrder when it is newer, StoreError on any I/O failure (the file is
        then as it was, except for a torn tail that was already cut off and kept aside).
        """
        line = to_line(record)
        parse_line(line)  # the line we write must be one we can read back

        def refuse_duplicates(fd: int) -> None:
            newest = self._latest_from(fd, ReadReport())
            if newest is None:
                return
            if minute_of(record["timestamp"]) == minute_of(newest["timestamp"]):
                raise DuplicateMinute(newest)
            if record["timestamp"] < newest["timestamp"]:
                raise OutOfOrder(
                    f"record at {record['datetime']} is older than the newest stored record "
                    f"({newest['datetime']}, UTC+8); refusing to write out of order"
                )

        append_durably(self.path, line, lock_timeout=self.lock_timeout, check=refuse_duplicates)

    # -- reading ---------------------------------------------------------------------------

    def latest(self) -> dict[str, Any] | None:
        """The newest valid record, read from the end of the file; None when there is none.

        Cached in-process until the file changes. Callers must not modify the returned record.
        """
        identity = self._identity()
        if identity is None:
            return None
        key = (*identity, "latest")
        cached = _CACHE.get(key)
        if cached is not None:
            return cached[0]
        report = ReadReport()
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            record = self._latest_from(fd, report)
        finally:
            os.close(fd)
        report.warn(self.path, "the end of the file")
        self.last_report = report
        _CACHE.put(key, [record])
        return record

    def _latest_from(self, fd: int, report: ReadReport) -> dict[str, Any] | None:
        return next(_valid(_lines_backwards(fd, report), report), None)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every valid record, oldest first. Warns once, at the end, about skipped lines."""
        report = ReadReport()
        self.last_report = report
        try:
            f = open(self.path, "rb")  # noqa: SIM115 (closed by the with below; a missing file is not an error)
        except FileNotFoundError:
            return
        with f:
            for line_no, line in enumerate(f, start=1):
                if not line.endswith(b"\n"):
                    if line.strip():
                        report.skip(line_no, "unterminated last line (a write in progress or a torn write)")
                    break
                try:
                    yield parse_line(line)
                except RecordError as e:
                    if line.strip():
                        report.skip(line_no, str(e))
                    else:
                        report.skip(line_no, "blank line")
        report.warn(self.path)

    def range(self, start: int | None = None, end: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Records with ``start <= timestamp <= end`` (either bound optional), oldest first.

        With ``limit``, only the most recent ``limit`` of them (still oldest first). The window is
        found by binary search over byte offsets and only it is read, so the cost is what is
        returned, not the file's size. Results are cached in-process until the file changes
        (identity, size, mtime): repeated chart refreshes of a window parse nothing again. Callers
        must not modify the returned records.
        """
        if start is None and end is None and limit is None:
            return list(self.records())
        identity = self._identity()
        if identity is None:
            return []
        key = (*identity, "range", start, end, limit)
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        report = ReadReport()
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
            if limit is not None:
                stop = size if end is None else _seek_exact(fd, size, end + 1)
                out: list[dict[str, Any]] = []
                for record in _valid(_lines_backwards(fd, report, stop if stop < size else None), report):
                    ts = record["timestamp"]
                    if start is not None and ts < start:
                        break
                    if end is None or ts <= end:
                        out.append(record)
                        if len(out) >= limit:
                            break
                out.reverse()
            else:
                out = list(self._forward(fd, size, start, end, report))
        finally:
            os.close(fd)
        report.warn(self.path, "the requested window")
        self.last_report = report
        _CACHE.put(key, out)
        return out

    def iter_range(self, start: int | None, end: int | None) -> Iterator[dict[str, Any]]:
        """Like ``range`` without a limit, as a stream: for long windows that are folded (bucketed)
        as they are read, never held in memory whole. Not cached."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        report = ReadReport()
        try:
            yield from self._forward(fd, os.fstat(fd).st_size, start, end, report)
        finally:
            os.close(fd)
            report.warn(self.path, "the requested window")

    def _forward(
        self, fd: int, size: int, start: int | None, end: int | None, report: ReadReport
    ) -> Iterator[dict[str, Any]]:
        offset = 0 if start is None else _seek(fd, size, start)
        for record in _valid(_lines_forward(fd, offset, size, report), report):
            ts = record["timestamp"]
            if start is not None and ts < start:
                continue
            if end is not None and ts > end:
                break  # records are in time order
            yield record

    def _identity(self) -> tuple[Any, ...] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (str(self.path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def count(self) -> int:
        """How many valid records the file holds."""
        return sum(1 for _ in self.records())

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
                    _backup(self.path, backup)
                os.replace(tmp, self.path)
                _fsync_dir(self.path.parent)
            except OSError as e:
                tmp.unlink(missing_ok=True)
                raise StoreError(f"rewriting {self.path} failed ({e.strerror or e}); the old file is untouched") from e
        return len(records), len(new)


def append_durably(
    path: Path, data: bytes, *, lock_timeout: float = 10.0, check: Callable[[int], None] | None = None
) -> None:
    """Append ``data`` (whole lines) to ``path`` under the sidecar lock ``<path>.lock``.

    Creates the file and its folders if needed; cuts off a torn tail first; then calls ``check``
    with the open descriptor (it may raise to refuse the write); then writes ``data`` with one
    ``os.write`` and ``os.fdatasync``s it. Raises StoreError on any I/O failure, leaving the file as
    it was (a short or failed write is truncated away).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(path.with_name(path.name + ".lock"), lock_timeout):
            created = not path.exists()
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                cut_torn_tail(fd, path)
                if check is not None:
                    check(fd)
                _write_whole(fd, data, path)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(path.parent)
    except OSError as e:  # a folder or lock that cannot be created, a failed truncate: one error type
        raise StoreError(f"appending to {path} failed: {e.strerror or e}") from e


def _write_whole(fd: int, buf: bytes, path: Path) -> None:
    size_before = os.fstat(fd).st_size
    try:
        written = os.write(fd, buf)
    except OSError as e:
        _truncate_quietly(fd, size_before)
        raise StoreError(f"write to {path} failed: {e.strerror or e}") from e
    if written != len(buf):
        _truncate_quietly(fd, size_before)
        raise StoreError(f"short write to {path} ({written} of {len(buf)} bytes); undone")
    try:
        os.fdatasync(fd)
    except OSError as e:
        # Do not retry: after a failed fsync the kernel may have dropped the dirty pages and
        # a second fsync would report success for data that is gone. Take the data back out, so
        # that a later run does not find it and take it for written (a "duplicate minute").
        _truncate_quietly(fd, size_before)
        raise StoreError(
            f"fsync of {path} failed ({e.strerror or e}); the data is not known to be on disk. "
            "Check the disk and the kernel log before trusting this file."
        ) from e


def cut_torn_tail(fd: int, path: Path) -> None:
    """If the file does not end in ``\\n``, move the fragment to ``<path>.torn-<unix time>`` and
    truncate to the last complete line. Call under the lock."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    keep = _end_of_last_line(fd, size)
    fragment = _pread_all(fd, keep, size - keep)
    aside = _torn_path(path)
    with open(aside, "wb") as f:
        f.write(fragment)
        f.flush()
        os.fsync(f.fileno())
    os.ftruncate(fd, keep)
    os.fsync(fd)
    _fsync_dir(path.parent)
    logger.warning(
        "%s: cut off a torn last line (%d bytes, a writer died mid-write); fragment kept in %s",
        path,
        len(fragment),
        aside,
    )


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Delete temp files a killed rewrite of ``path`` left behind (call under the lock)."""
    removed = []
    for tmp in path.parent.glob(f".{path.name}.rewrite-*.tmp"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def _backup(path: Path, backup: Path) -> None:
    try:
        os.link(path, backup)
    except OSError:
        import shutil

        shutil.copy2(path, backup)
    _fsync_dir(backup.parent)


def _torn_path(path: Path) -> Path:
    base = path.with_name(f"{path.name}.torn-{int(time.time())}")
    candidate, n = base, 1
    while candidate.exists():
        candidate = base.with_name(f"{base.name}.{n}")
        n += 1
    return candidate


class FileLock:
    """An exclusive ``flock`` on a sidecar file, waited for up to ``timeout`` seconds."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path, self.timeout, self.fd = path, timeout, -1

    def __enter__(self) -> FileLock:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise StoreError(f"cannot open the lock file {self.path}: {e.strerror or e}") from e
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(self.fd)
                    raise StoreError(f"cannot lock {self.path}: {e.strerror}") from e
            if time.monotonic() >= deadline:
                os.close(self.fd)
                raise StoreError(
                    f"{self.path} has been locked by another process for {self.timeout:.0f} s; "
                    "is a maintenance command running? Nothing was written."
                )
            time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the descriptor releases the flock


def _lines_backwards(fd: int, report: ReadReport, stop: int | None = None) -> Iterator[bytes]:
    """Complete lines backwards from the end of the file, or from ``stop`` (a line start); an
    unterminated last line is skipped."""
    if stop is None:
        size = os.fstat(fd).st_size
        end = _end_of_last_line(fd, size)
        if end < size:
            report.skip(None, "unterminated last line (a write in progress or a torn write)")
    else:
        end = stop
    pos, carry = end, b""
    while pos > 0:
        start = max(0, pos - _BLOCK)
        chunk = os.pread(fd, pos - start, start) + carry
        pos = start
        lines = chunk.split(b"\n")
        if pos > 0:  # the first piece continues in the block before this one
            carry = lines.pop(0)
        for line in reversed(lines):
            if line.strip():
                yield line + b"\n"
            elif line:
                report.skip(None, "blank line")


def _valid(lines: Iterator[bytes], report: ReadReport) -> Iterator[dict[str, Any]]:
    """The records among ``lines``; each line that is not one is skipped and counted in ``report``."""
    for line in lines:
        try:
            yield parse_line(line)
        except RecordError as e:
            report.skip(None, str(e))


def _lines_forward(fd: int, offset: int, size: int, report: ReadReport) -> Iterator[bytes]:
    """Complete lines from ``offset`` (a line start) to the end; an unterminated last line is skipped."""
    pos, carry = offset, b""
    step = _FIRST_CHUNK  # small first: a 1 h window is ~10 KB; grows for long reads
    while pos < size:
        chunk = os.pread(fd, min(step, size - pos), pos)
        step = min(step * 2, _READ_CHUNK)
        if not chunk:
            break
        pos += len(chunk)
        lines = (carry + chunk).split(b"\n")
        carry = lines.pop()
        for line in lines:
            if line.strip():
                yield line + b"\n"
            elif line:
                report.skip(None, "blank line")
    if carry.strip():
        report.skip(None, "unterminated last line (a write in progress or a torn write)")


def _seek(fd: int, size: int, target: int) -> int:
    """A line start such that every record before it is older than ``target`` (Unix seconds).

    Binary search over byte offsets: from a probe point, resynchronise on the next newline, read
    the first valid record there (bad lines are stepped over) and compare. Reading forward from the
    result finds every record at or after ``target``. O(log(size)) small reads.
    """
    lo, hi = 0, size
    while hi - lo > _SEEK_SLACK:
        mid = (lo + hi) // 2
        found = _first_record_after(fd, mid, hi)
        if found is None or found[1] >= target:
            hi = mid
        else:
            lo = found[0]
    return lo


def _seek_exact(fd: int, size: int, target: int) -> int:
    """The start of the first line whose valid record is at or after ``target`` (``size`` if none):
    ``_seek`` and then at most its slack read forward."""
    offset = _seek(fd, size, target)
    while offset < size:
        chunk = os.pread(fd, min(_READ_CHUNK, size - offset), offset)
        pos = 0
        while True:
            end = chunk.find(b"\n", pos)
            if end < 0:
                break
            try:
                if parse_line(chunk[pos : end + 1])["timestamp"] >= target:
                    return offset + pos
            except RecordError:
                pass
            pos = end + 1
        if pos == 0:
            return size  # no complete line left: only an unterminated tail
        offset += pos
    return size


def _first_record_after(fd: int, pos: int, hi: int) -> tuple[int, int] | None:
    """(line start, timestamp) of the first valid record on a line starting after ``pos`` and
    before ``hi``; None when there is none."""
    chunk = os.pread(fd, _PROBE, pos)
    newline = chunk.find(b"\n")
    if newline < 0:
        return None
    offset = pos + newline + 1
    base, start = pos, newline + 1
    while offset < hi:
        end = chunk.find(b"\n", start)
        if end < 0:  # the line goes on past this chunk: read from its start
            chunk = os.pread(fd, max(_PROBE, 4 * (len(chunk) - start)), offset)
            base, start = offset, 0
            end = chunk.find(b"\n")
            if end < 0:
                return None  # the unterminated tail
        try:
            return offset, parse_line(chunk[start : end + 1])["timestamp"]
        except RecordError:
            offset = base + end + 1
            start = end + 1
    return None


class _LRU:
    """A small in-process cache of read results, keyed on the file's identity and the query."""

    def __init__(self, size: int, max_records: int) -> None:
        self.size, self.max_records = size, max_records
        self.data: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> list[Any] | None:
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key: tuple[Any, ...], value: list[Any]) -> None:
        if len(value) > self.max_records:
            return
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            # Bounded by entries and by records held in all: a worker's memory stays small.
            while len(self.data) > self.size or sum(len(v) for v in self.data.values()) > self.max_records * 2:
                self.data.popitem(last=False)


_CACHE = _LRU(size=64, max_records=5000)
_READ_CHUNK = 1 << 20
_PROBE = 2048
_FIRST_CHUNK = 64 * 1024
_SEEK_SLACK = 64 * 1024


def _end_of_last_line(fd: int, size: int) -> int:
    """The offset just past the last ``\\n`` in the file (0 when there is none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - _BLOCK)
        idx = os.pread(fd, pos - start, start).rfind(b"\n")
        if idx >= 0:
            return start + idx + 1
        pos = start
    return 0


def _pread_all(fd: int, offset: int, length: int) -> bytes:
    parts, done = [], 0
    while done < length:
        part = os.pread(fd, length - done, offset + done)
        if not part:
            break
        parts.append(part)
        done += len(part)
    return b"".join(parts)


def _truncate_quietly(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
    except OSError:
        logger.exception("could not undo a failed write by truncating back to %d bytes", size)


def _fsync_dir(path: Path) -> None:
    """Make a created, renamed or truncated entry in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
