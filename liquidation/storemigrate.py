"""``migrate_store``: move the records between the JSONL file and PostgreSQL, whatever LIQUIDATION_STORE
says. Lines move byte for byte (a legacy file's formatting and number types survive a round trip).

To PostgreSQL: every valid line of the file, inserted in batches with ON CONFLICT DO NOTHING: idempotent
and resumable (a run cut short is finished by running it again; minutes already in the database keep
their row). To JSONL: the file's own lines and the database's, one per minute (the file's line wins where
both hold a minute), sorted, written to a temporary file and renamed over the old one: the file is
either as it was or complete. Events and minute buckets stay in their files for now (see the README).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .durable import fsync_dir
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
