"""EventStore: normalized liquidation events in one JSONL file per UTC day.

Files are ``<dir>/liquidations-YYYY-MM-DD.jsonl`` (the UTC day of each event's ``ts_ms``). Writes follow
the core store's rules (``store.append_durably``: sidecar ``flock``, torn tail cut off, whole-data
``os.write``, ``fdatasync``), but a whole batch is one write and one fsync per day file, so a burst of
thousands of events costs a handful of syscalls.

Duplicates are dropped on their natural key (``events.event_key``) across reconnects and restarts: the
keys of the last 25 hours are loaded from disk when the store opens. Readers ask for a time window and
only the day files it overlaps are opened.

Django-free.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from .events import MAX_AGE_MS, event_key, to_json_line
from .records import RecordError, loads_strict
from .store import append_durably

logger = logging.getLogger(__name__)

PREFIX = "liquidations-"
Pair = tuple[int, dict[str, Any]]  # (byte offset of the line, the event)


def day_of(ts_ms: int) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).date()


class EventStore:
    def __init__(self, folder: str | os.PathLike[str], *, load_keys: bool = True) -> None:
        self.folder = Path(folder)
        self._seen: dict[tuple[Any, ...], int] = {}
        if load_keys:
            self._load_recent_keys()

    def path_for(self, day: date) -> Path:
        return self.folder / f"{PREFIX}{day.isoformat()}.jsonl"

    def days(self) -> list[date]:
        """The days that have a file, oldest first."""
        out = []
        for path in self.folder.glob(f"{PREFIX}*.jsonl"):
            try:
                out.append(date.fromisoformat(path.name[len(PREFIX) : -len(".jsonl")]))
            except ValueError:
                continue
        return sorted(out)

    def append(self, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Durably store the events not seen before; return those that were written.

        One write and one fsync per day file touched. Raises ``store.StoreError`` (nothing of that
        day's batch written) on I/O failure; the keys of unwritten events are forgotten again.
        """
        fresh: dict[date, list[dict[str, Any]]] = {}
        batch_keys = []
        for event in events:
            key = event_key(event)
            if key in self._seen:
                continue
            self._seen[key] = event["ts_ms"]
            batch_keys.append(key)
            fresh.setdefault(day_of(event["ts_ms"]), []).append(event)
        written: list[dict[str, Any]] = []
        try:
            for day, day_events in sorted(fresh.items()):
                append_durably(self.path_for(day), b"".join(to_json_line(e) for e in day_events))
                written.extend(day_events)
        except Exception:
            done = {event_key(e) for e in written}
            for key in batch_keys:
                if key not in done:
                    self._seen.pop(key, None)
            raise
        return written

    def drop_days_before(self, day: date) -> list[str]:
        """Delete the day files before ``day`` (whole past days: nothing appends to them any more); return
        their days. Lock sidecars stay, as every lock file does (deleting one under a waiting writer would
        split the lock)."""
        dropped = []
        for old in self.days():
            if old < day:
                self.path_for(old).unlink(missing_ok=True)
                dropped.append(old.isoformat())
        return dropped

    def version(self, now_ms: int) -> str:
        """Changes whenever an event is stored now (the tape's ETag): the size of today's file."""
        return str(self.size(day_of(now_ms)))

    def tape(self, reader: Any, **query: Any) -> dict[str, Any]:
        """``tape.tape`` over this store (the database's event store answers the same call)."""
        from .tape import tape  # tape imports this module

        return tape(self, reader, **query)

    def read(self, start_ms: int, end_ms: int) -> Iterator[dict[str, Any]]:
        """Events with ``start_ms <= ts_ms <= end_ms``, day by day (in file order within a day).

        Only the day files overlapping the window are opened. Bad and unterminated lines are skipped.
        """
        day = day_of(start_ms)
        last = day_of(end_ms)
        while day <= last:
            yield from (e for e in self._read_file(self.path_for(day)) if start_ms <= e["ts_ms"] <= end_ms)
            day += timedelta(days=1)

    def size(self, day: date) -> int:
        """Bytes in ``day``'s file (0 when it has none)."""
        try:
            return self.path_for(day).stat().st_size
        except FileNotFoundError:
            return 0

    def read_from(self, day: date, offset: int) -> tuple[list[tuple[int, dict[str, Any]]], int]:
        """``iter_from`` as a list: for small reads (the appends of a few minutes)."""
        stop, pairs = self.iter_from(day, offset)
        return list(pairs), stop

    def iter_from(
        self, day: date, offset: int, chunk: int = 8 << 20
    ) -> tuple[int, Iterator[tuple[int, dict[str, Any]]]]:
        """``(stop, pairs)``: where the whole lines of ``day``'s file end now, and an iterator of
        ``(byte_offset, event)`` for the lines from ``offset`` (a line start) to ``stop``, read ``chunk``
        bytes at a time (a day of a million events is never held whole). A line still being written is
        left for the next call; a bad line is skipped (its bytes count as read)."""
        path = self.path_for(day)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return offset, iter(())
        stop = _last_line_end(path, offset, size)
        return stop, self._pairs(path, offset, stop, chunk)

    def iter_span(self, day: date, start: int, last: int) -> Iterator[Pair]:
        """``(byte_offset, event)`` of the lines from ``start`` through the line that starts at ``last``
        (both line starts): one minute's span of the file, as its bucket's ``o`` and ``e`` give it."""
        path = self.path_for(day)
        try:
            with open(path, "rb") as f:
                f.seek(last)
                nl = f.read(1 << 16).find(b"\n")  # lines are at most 64 KiB (lines.MAX_LINE_BYTES)
        except FileNotFoundError:
            return iter(())
        if nl < 0 or last < start:
            return iter(())
        return self._pairs(path, start, last + nl + 1, 8 << 20)

    def _pairs(self, path: Path, offset: int, stop: int, chunk: int) -> Iterator[tuple[int, dict[str, Any]]]:
        skipped = 0
        with open(path, "rb") as f:
            f.seek(offset)
            pos, carry = offset, b""
            while pos < stop:
                block = f.read(min(chunk, stop - pos))
                if not block:
                    break
                base = pos - len(carry)
                data = carry + block
                pos += len(block)
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                at = 0
                while at < cut:
                    nl = data.index(b"\n", at)
                    try:
                        event = loads_strict(data[at : nl + 1])
                        if not isinstance(event, dict) or not isinstance(event.get("ts_ms"), int):
                            raise RecordError("not an event")
                        yield base + at, event
                    except (ValueError, RecordError):
                        skipped += 1
                    at = nl + 1
        if skipped:
            logger.warning("%s: skipped %d bad line(s)", path, skipped)

    def read_backward(self, day: date, block: int = 256 * 1024) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(byte_offset, event)`` of ``day``'s whole lines, last line first (a tape reads the newest
        events without reading the day); a line still being written and bad lines are skipped."""
        try:
            f = open(self.path_for(day), "rb")  # noqa: SIM115 (closed by the with below)
        except FileNotFoundError:
            return
        with f:
            end = os.fstat(f.fileno()).st_size
            tail = b""
            pos = end
            first = True
            while pos > 0:
                start = max(0, pos - block)
                f.seek(start)
                data = f.read(pos - start) + tail
                pos = start
                cut = 0
                if start > 0:
                    cut = data.find(b"\n") + 1
                    if cut == 0:  # no line start in this block yet: one long line
                        tail = data
                        continue
                tail, body = data[:cut], data[cut:]
                lines = body.split(b"\n")
                if first:
                    lines.pop()  # after the last newline: empty, or a line still being written
                    first = False
                else:
                    lines.pop()  # empty: body ends with a newline
                offsets = []
                at = start + cut
                for line in lines:
                    offsets.append(at)
                    at += len(line) + 1
                for at, line in zip(reversed(offsets), reversed(lines), strict=True):
                    try:
                        event = loads_strict(line)
                    except (ValueError, RecordError):
                        continue
                    if isinstance(event, dict) and isinstance(event.get("ts_ms"), int):
                        yield at, event

    def remember(self, events: Iterable[dict[str, Any]]) -> None:
        """Know these stored events' keys (so appending them again is a no-op) without reading any file."""
        for event in events:
            try:
                self._seen[event_key(event)] = event["ts_ms"]
            except (KeyError, TypeError):
                continue

    def _read_file(self, path: Path) -> Iterator[dict[str, Any]]:
        try:
            f = open(path, "rb")  # noqa: SIM115 (closed by the with below)
        except FileNotFoundError:
            return
        skipped = 0
        with f:
            for line in f:
                if not line.endswith(b"\n"):
                    break  # a batch being written, or torn
                try:
                    event = loads_strict(line)
                    if not isinstance(event, dict) or not isinstance(event.get("ts_ms"), int):
                        raise RecordError("not an event")
                except (ValueError, RecordError):
                    skipped += 1
                    continue
                yield event
        if skipped:
            logger.warning("%s: skipped %d bad line(s)", path, skipped)

    def _load_recent_keys(self) -> None:
        newest = max((d for d in self.days()), default=None)
        if newest is None:
            return
        horizon = int(datetime.now(UTC).timestamp() * 1000) - MAX_AGE_MS
        start = max(
            horizon, int(datetime(newest.year, newest.month, newest.day, tzinfo=UTC).timestamp() * 1000) - 86400000
        )
        end = int(datetime(newest.year, newest.month, newest.day, tzinfo=UTC).timestamp() * 1000) + 86400000 - 1
        for event in self.read(start, end):
            try:
                self._seen[event_key(event)] = event["ts_ms"]
            except KeyError:
                continue

    def forget_before(self, ts_ms: int) -> None:
        """Drop remembered keys older than ``ts_ms`` (events that old are refused anyway)."""
        self._seen = {k: t for k, t in self._seen.items() if t >= ts_ms}

    @property
    def remembered(self) -> int:
        return len(self._seen)


def _last_line_end(path: Path, floor: int, size: int) -> int:
    """The offset just past the last ``\\n`` at or after ``floor`` in the first ``size`` bytes (else ``floor``)."""
    with open(path, "rb") as f:
        pos = size
        while pos > floor:
            start = max(floor, pos - 64 * 1024)
            f.seek(start)
            idx = f.read(pos - start).rfind(b"\n")
            if idx >= 0:
                return start + idx + 1
            pos = start
    return floor
