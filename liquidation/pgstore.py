"""The records in PostgreSQL (``LIQUIDATION_STORE=postgresql``), through Django's ORM: the same contract as
``store.JsonlStore`` (see ``recordstore.RecordStore``), for sites with several web nodes, collectors and
listeners.

De-duplication is the database's: the minute is the primary key and appends are
``INSERT … ON CONFLICT DO NOTHING`` (``bulk_create(ignore_conflicts=True)``), so two collectors writing
the same minute on two machines leave one row and no lock is needed anywhere. Unlike the file, records
may arrive out of order (a backfill, a slower collector): reads sort by minute, so order of arrival does
not matter. Each record is stored as its exact JSON line, parsed with the same ``records.parse_line``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Min

from .models import Record, State
from .records import minute_of, parse_line, to_line
from .statestore import update_locked
from .store import DuplicateMinute, StoreError

BATCH = 2000
VERSION_SQL = (  # PgRecordStore.version: the table is models.Record's
    "SELECT (SELECT max(stored_at) FROM liquidation_record), (SELECT min(minute) FROM liquidation_record), "
    "(SELECT line FROM liquidation_record ORDER BY minute DESC LIMIT 1)"
)
#: Parsed records kept per process, by their exact line: a stored line never changes, so it always parses to
#: the same record (parsing was 24 of the 33 ms a 24 h history read took). Callers must not modify them,
#: as with the JSONL store's cache. 5,000 covers three days of minutes in a few tens of MB.
PARSED = 5000


@lru_cache(maxsize=PARSED)
def _parsed(line: str) -> dict[str, Any]:
    return parse_line(line.encode())


class PgRecordStore:
    """Records in the database of alias ``using`` (Django's ``DATABASES``)."""

    def __init__(self, using: str = "default") -> None:
        self.using = using
        self._newest: str | None = None  # the newest line as version() read it, until latest() takes it

    def __repr__(self) -> str:
        return f"PgRecordStore(using={self.using!r})"

    def describe(self) -> str:
        """What to name in messages (never the database URL: it may hold a password)."""
        return f"PostgreSQL store (database {self.using!r})"

    def _rows(self):
        return Record.objects.using(self.using)

    # -- writing -----------------------------------------------------------------------------------

    def append(self, record: dict[str, Any], *, now: float | None = None) -> None:
        """Store ``record`` unless its minute is stored already (then DuplicateMinute, as the file does).
        Committed when this returns. ``now`` is accepted for the file store's signature: the database has
        no order to protect."""
        line = to_line(record).rstrip(b"\n").decode()
        parse_line(line.encode())
        minute = minute_of(record["timestamp"])
        try:
            try:
                with transaction.atomic(using=self.using):  # one INSERT: of two writers, exactly one succeeds
                    self._rows().create(minute=minute, timestamp=record["timestamp"], line=line)
                return
            except IntegrityError:  # the minute's row exists (the other waited for its commit): not ours
                stored = self._rows().filter(minute=minute).values_list("line", flat=True).first()
        except DatabaseError as e:
            raise StoreError(f"{self.describe()}: {e.__class__.__name__}: {e}".strip()) from e
        # Even a byte-identical record (two collectors, the same second and values) is the other's append.
        raise DuplicateMinute(parse_line(stored.encode()) if stored else record)

    def import_lines(self, lines: Iterable[bytes]) -> tuple[int, int]:
        """Store raw JSON lines (each a valid record, as read from a JSONL file) byte for byte; minutes
        already stored are left as they are. Returns (offered, inserted). Idempotent and resumable."""
        offered = inserted = 0
        batch: list[Record] = []

        def flush() -> int:
            if not batch:
                return 0
            before = self._rows().count()
            with transaction.atomic(using=self.using):
                self._rows().bulk_create(batch, ignore_conflicts=True, batch_size=BATCH)
            batch.clear()
            return self._rows().count() - before

        for raw in lines:
            text = raw.rstrip(b"\r\n")
            record = parse_line(text)
            batch.append(
                Record(minute=minute_of(record["timestamp"]), timestamp=record["timestamp"], line=text.decode())
            )
            offered += 1
            if len(batch) >= BATCH:
                inserted += flush()
        inserted += flush()
        return offered, inserted

    def prune_before(self, ts: int) -> int:
        """Delete the records older than ``ts`` in batches (never a rewrite). Returns how many."""
        removed = 0
        while True:
            minutes = list(
                self._rows().filter(timestamp__lt=ts).order_by("minute").values_list("minute", flat=True)[:BATCH]
            )
            if not minutes:
                return removed
            deleted, _ = self._rows().filter(minute__in=minutes).delete()
            removed += deleted

    # -- reading -----------------------------------------------------------------------------------

    def _parse(self, lines: Iterable[str]) -> list[dict[str, Any]]:
        return [_parsed(line) for line in lines]

    def latest(self) -> dict[str, Any] | None:
        """The newest record; read with the version when ``version()`` ran on this instance (a view asks
        for both: one round trip, and the record is the one the version names)."""
        if self._newest is not None:
            line, self._newest = self._newest, None
            return _parsed(line) if line else None
        found = self.range(None, None, 1)
        return found[0] if found else None

    def range(self, start: int | None = None, end: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Records with ``start <= timestamp <= end`` oldest first, one per minute; with ``limit``, the most
        recent ``limit`` of them."""
        rows = self._rows()
        if start is not None:
            rows = rows.filter(timestamp__gte=start)
        if end is not None:
            rows = rows.filter(timestamp__lte=end)
        if limit is not None:
            return self._parse(reversed(list(rows.order_by("-minute").values_list("line", flat=True)[:limit])))
        return self._parse(rows.order_by("minute").values_list("line", flat=True))

    def iter_range(self, start: int | None, end: int | None) -> Iterator[dict[str, Any]]:
        rows = self._rows()
        if start is not None:
            rows = rows.filter(timestamp__gte=start)
        if end is not None:
            rows = rows.filter(timestamp__lte=end)
        for line in rows.order_by("minute").values_list("line", flat=True).iterator(chunk_size=BATCH):
            yield parse_line(line.encode())

    def records(self) -> Iterator[dict[str, Any]]:
        return self.iter_range(None, None)

    def lines(self) -> Iterator[bytes]:
        """Every record's JSON line, oldest first, with its newline (what a JSONL file holds)."""
        for line in self._rows().order_by("minute").values_list("line", flat=True).iterator(chunk_size=BATCH):
            yield line.encode() + b"\n"

    def count(self) -> int:
        return self._rows().count()

    def version(self) -> str:
        """Changes on every insert and delete: the newest write and the oldest row (index lookups). The
        newest record's line comes in the same statement and is kept for the next ``latest()``: the one
        query on this table the ORM cannot say as one (three scalar subqueries) is written out."""
        with connections[self.using].cursor() as cursor:
            cursor.execute(VERSION_SQL)
            written, first, newest = cursor.fetchone()
        self._newest = newest or ""
        return f"pg-{written.timestamp() if written else 0:.6f}-{first}"

    def revision(self) -> str:
        """Changes when records already served may have changed: a prune (the oldest minute moves)."""
        return f"pg-{self._rows().aggregate(first=Min('minute'))['first']}"


class PgStateStore:
    """``statestore.StateStore`` in the ``liquidation_state`` table (one row per name)."""

    def __init__(self, using: str = "default") -> None:
        self.using = using

    def __repr__(self) -> str:
        return f"PgStateStore(using={self.using!r})"

    def read(self, name: str) -> dict[str, Any]:
        try:
            text = State.objects.using(self.using).filter(name=name).values_list("value", flat=True).first()
        except DatabaseError as e:
            raise StoreError(f"state {name!r}: {e.__class__.__name__}: {e}") from e
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def write(self, name: str, value: dict[str, Any]) -> None:
        try:
            State.objects.using(self.using).update_or_create(name=name, defaults={"value": json.dumps(value)})
        except DatabaseError as e:
            raise StoreError(f"state {name!r}: {e.__class__.__name__}: {e}") from e

    def stamp(self, name: str) -> Any:
        """The row's ``updated_at`` (every write sets it), or None."""
        try:
            return State.objects.using(self.using).filter(name=name).values_list("updated_at", flat=True).first()
        except DatabaseError as e:
            raise StoreError(f"state {name!r}: {e.__class__.__name__}: {e}") from e

    def update(self, name: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        update_locked(self, name, change)

    @contextmanager
    def locked(self, name: str) -> Iterator[dict[str, Any]]:
        """The row locked (``SELECT … FOR UPDATE``: other writers wait) for the block's transaction."""
        try:
            with transaction.atomic(using=self.using):
                rows = State.objects.using(self.using)
                rows.bulk_create([State(name=name, value="{}")], ignore_conflicts=True)
                row = rows.select_for_update().get(name=name)  # other writers wait here
                try:
                    current = json.loads(row.value)
                except ValueError:
                    current = {}
                value = current if isinstance(current, dict) else {}
                yield value
                row.value = json.dumps(value)
                row.save(update_fields=["value", "updated_at"])
        except DatabaseError as e:
            raise StoreError(f"state {name!r}: {e.__class__.__name__}: {e}") from e
