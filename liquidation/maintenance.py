"""Data lifecycle on the JSONL store: prune, import, verify and repair.

Every change goes through ``JsonlStore.rewrite`` (temp file in the same folder, fsync, ``os.replace``,
fsync of the folder, all under the store's sidecar lock), so a collection running at the same time is
neither lost nor duplicated, and a kill at any moment leaves the old file or the new one.

Django-free; the management commands are thin shells over these functions.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .lines import ReadReport, end_of_complete_lines, lines_forward
from .records import BOM, RecordError, check_timestamp, minute_of, parse_line, to_line
from .recordstore import RecordStore
from .series import missing_minutes
from .store import FUTURE_SLACK, JsonlStore

DAY = 86400


def clean(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sorted by time, one record per minute (the first one seen wins)."""
    by_minute: dict[int, dict[str, Any]] = {}
    for record in records:
        by_minute.setdefault(minute_of(record["timestamp"]), record)
    return [by_minute[m] for m in sorted(by_minute)]


# -- prune ----------------------------------------------------------------------------------------


@dataclass
class PruneResult:
    records_before: int
    records_after: int
    event_days_removed: list[str]

    def summary(self) -> str:
        removed = self.records_before - self.records_after
        days = f"; removed {len(self.event_days_removed)} event day file(s)" if self.event_days_removed else ""
        return f"pruned {removed} record(s), kept {self.records_after}{days}"


def prune(store: RecordStore, keep_days: int, *, now: float | None = None, events: Any = None) -> PruneResult:
    """Drop records older than ``keep_days`` days (and the events of the whole days older than that, from
    ``events``: an ``EventStore`` or a database's ``PgEventStore``). The JSONL file is rewritten (unreadable
    lines are not kept either: run ``verify_liquidation`` first to see them); a database deletes in batches
    (``prune_before``), never rewriting anything."""
    if keep_days < 1:
        raise ValueError("keep_days must be at least 1")
    cutoff = int(now if now is not None else time.time()) - keep_days * DAY
    if isinstance(store, JsonlStore):
        before, after = store.rewrite(lambda records: [r for r in records if r["timestamp"] >= cutoff])
    else:
        before = store.count()
        after = before - store.prune_before(cutoff)
    removed = []
    if events is not None:
        removed = events.drop_days_before(datetime.fromtimestamp(cutoff, UTC).date())
    return PruneResult(before, after, removed)


# -- import -----------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    files: int = 0
    lines: int = 0
    valid: int = 0
    added: int = 0
    skipped: list[tuple[str, int, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"read {self.lines} line(s) from {self.files} file(s): {self.valid} valid, {self.added} added, "
            f"{self.valid - self.added} already present (same minute), {len(self.skipped)} skipped"
        )


def import_files(
    store: RecordStore,
    files: Iterable[str | os.PathLike[str]],
    *,
    progress: Callable[[str, int, int], None] | None = None,
    now: float | None = None,
) -> ImportResult:
    """Merge files in the earlier system's format (or this project's) into the store: validated
    (records dated more than a day after ``now`` refused), one record per minute (records already
    stored win), sorted. Importing twice changes nothing."""
    now = time.time() if now is None else now
    result = ImportResult()
    incoming: list[dict[str, Any]] = []
    for name in files:
        path = Path(name)
        result.files += 1
        total = path.stat().st_size
        for line_no, item in numbered_records(path, now=now):
            result.lines += 1
            if progress is not None and line_no % 50_000 == 0:
                progress(str(path), min(total, line_no * 200), total)
            if isinstance(item, dict):
                incoming.append(item)
                result.valid += 1
            else:
                result.skipped.append((str(path), line_no, item))
        if progress is not None:
            progress(str(path), total, total)

    def merge(existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
        merged = clean([*existing, *incoming])
        result.added = len(merged) - len(clean(existing))
        return merged

    if isinstance(store, JsonlStore):
        store.rewrite(merge)
    else:  # a database: inserted as they are, minutes already stored keep their row
        before = store.count()
        store.import_lines(to_line(r) for r in clean(incoming))
        result.added = store.count() - before
    return result


# -- verify and repair ------------------------------------------------------------------------------


def numbered_records(path: Path, *, now: float | None = None) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, record or why the line is not one) for every non-empty line of ``path``, framed
    as the store's readers frame it (CR, LF and CRLF line ends; over-long lines skipped unread).
    With ``now``, a record dated more than a day after it is refused too."""
    report = ReadReport(keep=True)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        end = end_of_complete_lines(fd, size)
        for line_no, line in lines_forward(fd, 0, end, report, line_no=1):
            yield from _drain(report)  # lines the framing itself refused (blank, over-long)
            assert line_no is not None
            try:
                record = parse_line(line)
                if now is not None:
                    check_timestamp(record["timestamp"], now=now)
                yield line_no, record
            except RecordError as e:
                yield line_no, str(e)
        yield from _drain(report)
    finally:
        os.close(fd)


def _drain(report: ReadReport) -> Iterator[tuple[int, str]]:
    for line_no, reason in report.skips:
        yield line_no or 0, reason
    report.skips.clear()


@dataclass
class Report:
    records: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    torn_tail: int = 0  # bytes after the last line end
    torn_fragments: list[str] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)
    out_of_order: list[tuple[int, int]] = field(default_factory=list)  # (line, timestamp)
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (line, timestamp)
    future: list[tuple[int, int]] = field(default_factory=list)  # (line, timestamp) dated after now
    bom: bool = False
    cr_line_ends: int = 0  # lines ended by CR or CRLF instead of LF
    gaps: list[list[int]] = field(default_factory=list)
    first: int | None = None
    last: int | None = None

    @property
    def problems(self) -> int:
        """What ``--repair`` fixes; gaps (minutes never collected) are reported, not counted."""
        return (
            len(self.bad_lines)
            + (1 if self.torn_tail else 0)
            + len(self.out_of_order)
            + len(self.duplicates)
            + len(self.future)
            + len(self.temp_files)
            + (1 if self.bom else 0)
            + (1 if self.cr_line_ends else 0)
        )

    def lines(self, limit: int = 20) -> list[str]:
        out = [
            f"{self.records} valid record(s)"
            + (f" from {_utc(self.first)} to {_utc(self.last)} UTC" if self.first else "")
        ]
        for title, items in (
            ("bad line(s)", [f"line {n}: {why}" for n, why in self.bad_lines]),
            (
                "out-of-order record(s)",
                [f"line {n}: {_utc(ts)} is older than the record before it" for n, ts in self.out_of_order],
            ),
            ("duplicate minute(s)", [f"line {n}: a second record for {_utc(ts)[:16]}" for n, ts in self.duplicates]),
            (
                "record(s) dated after now (a clock that jumped)",
                [f"line {n}: {_utc(ts)} UTC" for n, ts in self.future],
            ),
            ("leftover temp file(s) of a killed rewrite", self.temp_files),
            ("torn fragment(s) kept aside by earlier appends", self.torn_fragments),
        ):
            if items:
                out.append(f"{len(items)} {title}:")
                out += [f"  {item}" for item in items[:limit]] + (
                    [f"  … and {len(items) - limit} more"] if len(items) > limit else []
                )
        if self.bom:
            out.append("the file starts with a UTF-8 byte-order mark")
        if self.cr_line_ends:
            out.append(f"{self.cr_line_ends} line(s) end in CR or CRLF instead of LF")
        if self.torn_tail:
            out.append(f"torn tail: {self.torn_tail} byte(s) after the last line end (a writer died mid-line)")
        if self.gaps:
            minutes = sum((b - a) // 60 + 1 for a, b in self.gaps)
            out.append(f"{len(self.gaps)} gap(s), {minutes} missing minute(s):")
            out += [f"  {_utc(a)[:16]} … {_utc(b)[:16]} UTC" for a, b in self.gaps[:limit]]
            if len(self.gaps) > limit:
                out.append(f"  … and {len(self.gaps) - limit} more")
        out.append(
            "no problems found" if not self.problems else f"{self.problems} problem(s) found; --repair fixes them"
        )
        return out


def verify(store: RecordStore, *, now: float | None = None) -> Report:
    """Read the whole file as it is and report what is wrong with it. Costs one pass over the file
    and a sort of its timestamps: nothing depends on the values of the timestamps."""
    now = time.time() if now is None else now
    report = Report()
    if not isinstance(store, JsonlStore):
        return _verify_database(store, report, now)
    path = store.path
    report.temp_files = sorted(str(p) for p in path.parent.glob(f".{path.name}.rewrite-*.tmp"))
    report.torn_fragments = sorted(str(p) for p in path.parent.glob(f"{path.name}.torn-*"))
    if not path.exists():
        return report
    with open(path, "rb") as f:
        report.bom = f.read(len(BOM)) == BOM
        size = os.fstat(f.fileno()).st_size
        report.torn_tail = size - end_of_complete_lines(f.fileno(), size)
        f.seek(0)
        while chunk := f.read(1 << 20):
            report.cr_line_ends += chunk.count(b"\r")
    seen_minutes: set[int] = set()
    previous: int | None = None
    timestamps: list[int] = []
    for line_no, item in numbered_records(path):
        if isinstance(item, str):
            report.bad_lines.append((line_no, item))
            continue
        ts = item["timestamp"]
        if ts > now + FUTURE_SLACK:
            report.future.append((line_no, ts))
            continue
        minute = minute_of(ts)
        if minute in seen_minutes:
            report.duplicates.append((line_no, ts))
            continue
        if previous is not None and ts < previous:
            report.out_of_order.append((line_no, ts))
        seen_minutes.add(minute)
        timestamps.append(ts)
        previous = ts if previous is None else max(previous, ts)
    report.records = len(timestamps)
    if timestamps:
        report.first, report.last = min(timestamps), max(timestamps)
        report.gaps = missing_minutes(timestamps, minute_of(report.first), minute_of(report.last))
    return report


def _verify_database(store: RecordStore, report: Report, now: float) -> Report:
    """A database keeps one record per minute by its primary key and reads sort by minute, so bad lines,
    duplicates, order, torn tails and temporary files cannot happen there: what is left to check is records
    dated after now and the gaps."""
    timestamps = []
    for n, record in enumerate(store.records(), start=1):
        if record["timestamp"] > now + FUTURE_SLACK:
            report.future.append((n, record["timestamp"]))
        else:
            timestamps.append(record["timestamp"])
    report.records = len(timestamps)
    if timestamps:
        report.first, report.last = timestamps[0], timestamps[-1]
        report.gaps = missing_minutes(timestamps, minute_of(report.first), minute_of(report.last))
    return report


def repair(store: JsonlStore, *, now: float | None = None) -> tuple[Path, int, int]:
    """Keep a backup (``<file>.bak-<unix time>``), then rewrite the file with only valid records
    dated up to now, sorted, one per minute (the first one wins), as plain LF-ended UTF-8 lines
    without a byte-order mark. Records dated after now (a clock that jumped) are moved to
    ``<file>.future-<unix time>``, so collection can go on. Returns (backup, records before, after)."""
    now = time.time() if now is None else now
    stamp = int(now)
    backup = store.path.with_name(f"{store.path.name}.bak-{stamp}")
    aside = store.path.with_name(f"{store.path.name}.future-{stamp}")

    def transform(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        future = [r for r in records if r["timestamp"] > now + FUTURE_SLACK]
        if future:
            with open(aside, "ab") as f:
                f.write(b"".join(to_line(r) for r in future))
                f.flush()
                os.fsync(f.fileno())
        return clean(r for r in records if r["timestamp"] <= now + FUTURE_SLACK)

    before, after = store.rewrite(transform, backup=backup)
    return backup, before, after


def _utc(ts: int | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
