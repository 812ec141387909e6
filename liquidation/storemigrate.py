"""``migrate_store``: move the records between the JSONL file and PostgreSQL, whatever LIQUIDATION_STORE
says. Lines move byte for byte (a legacy file's formatting and number types survive a round trip).

To PostgreSQL: every valid line of the file, inserted in batches with ON CONFLICT DO NOTHING: idempotent
and resumable (a run cut short is finished by running it again; minutes already in the database keep
their row). To JSONL: the file's own lines and the database's, one per minute (the file's line wins where
both hold a minute), sorted, written to a temporary file and renamed over the old one: the file is
either as it was or complete.

Events move day by day, de-duplicated on their natural key either way (idempotent, resumable); the minute
buckets are recomputed from them on arrival (they are a function of the events) and the coverage, which
events cannot tell, is carried over.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .bucketlines import day_start
from .bucketread import BucketReader
from .bucketstore import BucketStore
from .durable import append_durably, fsync_dir
from .events import event_key, to_json_line
from .eventstore import EventStore
from .pgstore import PgRecordStore
from .records import minute_of, parse_line
from .store import JsonlStore

Progress = Callable[[int, int], None]


@dataclass
class Moved:
    offered: int
    written: int


def _counted(lines: Iterator[bytes], total: int, progress: Progress | None) -> Iterator[bytes]:
    for done, line in enumerate(lines, start=1):
        if progress and (done % 5000 == 0 or done == total):
            progress(done, total)
        yield line


def to_postgresql(source: JsonlStore, target: PgRecordStore, progress: Progress | None = None) -> Moved:
    total = source.count()
    offered, inserted = target.import_lines(_counted(source.lines(), total, progress))
    return Moved(offered, inserted)


def to_jsonl(source: PgRecordStore, target: JsonlStore, progress: Progress | None = None) -> Moved:
    by_minute: dict[int, bytes] = {}
    for line in target.lines():
        by_minute.setdefault(minute_of(parse_line(line)["timestamp"]), line)
    before = len(by_minute)
    total = source.count()
    for line in _counted(source.lines(), total, progress):
        by_minute.setdefault(minute_of(parse_line(line)["timestamp"]), line)
    path = target.path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.migrate-{os.getpid()}")
    with open(tmp, "wb") as f:
        for minute in sorted(by_minute):
            f.write(by_minute[minute])
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return Moved(total, len(by_minute) - before)


# -- events and minute buckets ------------------------------------------------------------------------------


def events_to_postgresql(
    events: EventStore, buckets: BucketStore, target: Any, target_buckets: Any, progress: Callable[[str], Any]
) -> int:
    """Every event of the day files into the database (its natural key drops what is there already), day by
    day; then the buckets of those minutes recomputed there and the files' coverage carried over. Returns
    the events newly stored. Idempotent and resumable."""
    reader = BucketReader(buckets)
    new = 0
    for day in events.days():
        _, pairs = events.iter_from(day, 0)
        batch: list[dict[str, Any]] = []
        for _, event in pairs:
            batch.append(event)
            if len(batch) >= 5000:
                new += len(target.append(batch))
                batch = []
        new += len(target.append(batch))
        start = day_start(day)
        target_buckets.import_coverage(
            {m: b["live"] for m, b in reader.minutes("venues", start, start + 86340).items() if b.get("live")}
        )
        progress(f"{day}: events moved ({new:,} new so far)")
    target_buckets.rebuild(target, progress=progress)
    return new


def events_to_jsonl(
    source: Any, source_buckets: Any, events: EventStore, buckets: BucketStore, progress: Callable[[str], Any]
) -> int:
    """Every event of the database into the day files (an event already in its day's file is skipped),
    then each day's buckets rebuilt from its file with the database's coverage. Returns the events added."""
    new = 0
    for day in source.days():
        start = day_start(day)
        have = {event_key(e) for _, e in events.read_from(day, 0)[0]}
        fresh = [e for e in source.read(start * 1000, start * 1000 + 86_399_999) if event_key(e) not in have]
        if fresh:
            append_durably(events.path_for(day), b"".join(to_json_line(e) for e in fresh))
        new += len(fresh)
        buckets.add_coverage(source_buckets.coverage(start, start + 86340))
        buckets.rebuild_day(events, day)
        progress(f"{day}: {len(fresh):,} events added, buckets rebuilt")
    return new
