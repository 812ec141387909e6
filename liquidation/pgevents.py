"""Liquidation events in PostgreSQL (``LIQUIDATION_STORE=postgresql``): what ``eventstore.EventStore`` does
with day files, for several listeners and collectors on several machines.

De-duplication is the database's unique natural key (``INSERT … ON CONFLICT DO NOTHING``), so two listeners
fed the same frames, or a listener and a poller that both see an order, store it once; no key set is held in
memory and no lock is taken. The tape is one indexed query (``ts_ms`` descending) whose rows go through the
same page rules as the file tape (``tape._Page``), so both backends answer alike. Uses the ORM only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import DatabaseError, transaction

from . import buckets
from .coins import coin_of
from .depth import Filters
from .events import event_key
from .models import Event
from .store import StoreError

BATCH = 2000
DAY_MS = 86_400_000


def _row(event: dict[str, Any]) -> Event:
    countable = buckets.countable(event)
    return Event(
        key=json.dumps(event_key(event), separators=(",", ":")),
        ts_ms=int(event["ts_ms"]),
        exchange=str(event["exchange"])[:32],
        side=str(event.get("side", ""))[:8],
        coin=coin_of(str(event.get("symbol", "")))[:64],
        usd=float(event["usd"]) if countable else None,
        line=json.dumps(event, separators=(",", ":"), allow_nan=False),
    )


def _day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


class PgEventStore:
    """Events in the database of alias ``using``; the parts of ``EventStore``'s contract the listener, the
    collector, the tape, prune and ``migrate_store`` use."""

    def __init__(self, using: str = "default") -> None:
        self.using = using

    def __repr__(self) -> str:
        return f"PgEventStore(using={self.using!r})"

    def _rows(self):
        return Event.objects.using(self.using)

    def append(self, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store the events whose natural key is new; return those this call wrote. Committed when this
        returns; raises ``StoreError`` (nothing of the batch written) on a database error.

        Which of them were new is read before the insert: under a concurrent writer of the same keys the
        returned list may name an event the other stored first (the table still holds it once)."""
        rows: dict[str, tuple[Event, dict[str, Any]]] = {}
        for event in events:
            row = _row(event)
            rows.setdefault(row.key, (row, event))
        if not rows:
            return []
        try:
            with transaction.atomic(using=self.using):
                keys = list(rows)
                known: set[str] = set()
                for i in range(0, len(keys), BATCH):
                    known.update(self._rows().filter(key__in=keys[i : i + BATCH]).values_list("key", flat=True))
                fresh = [rows[k] for k in keys if k not in known]
                self._rows().bulk_create([r for r, _ in fresh], batch_size=BATCH, ignore_conflicts=True)
        except DatabaseError as e:
            raise StoreError(f"PostgreSQL events: {e.__class__.__name__}: {e}") from e
        return [event for _, event in fresh]

    def forget_before(self, ts_ms: int) -> None:
        """Nothing to forget: the database holds the keys (the file store's key set needs trimming)."""

    def read(self, start_ms: int, end_ms: int) -> Iterator[dict[str, Any]]:
        """Events with ``start_ms <= ts_ms <= end_ms``, oldest first (then in order of storing)."""
        rows = self._rows().filter(ts_ms__gte=start_ms, ts_ms__lte=end_ms).order_by("ts_ms", "id")
        for line in rows.values_list("line", flat=True).iterator(chunk_size=BATCH):
            yield json.loads(line)

    def days(self) -> list[date]:
        """The UTC days that hold events, oldest first (two index lookups and one per day between)."""
        rows = self._rows().order_by("ts_ms").values_list("ts_ms", flat=True)
        first, last = rows.first(), self._rows().order_by("-ts_ms").values_list("ts_ms", flat=True).first()
        if first is None or last is None:
            return []
        out, day = [], datetime.fromtimestamp(first / 1000, UTC).date()
        while day <= datetime.fromtimestamp(last / 1000, UTC).date():
            if self._rows().filter(ts_ms__gte=_day_ms(day), ts_ms__lt=_day_ms(day) + DAY_MS).exists():
                out.append(day)
            day += timedelta(days=1)
        return out

    def drop_days_before(self, day: date) -> list[str]:
        """Delete the events of the UTC days before ``day`` in batches; return the days that had some."""
        cutoff = _day_ms(day)
        try:
            dropped = [d.isoformat() for d in self.days() if d < day]
            while True:
                ids = list(self._rows().filter(ts_ms__lt=cutoff).values_list("id", flat=True)[:BATCH])
                if not ids:
                    return dropped
                self._rows().filter(id__in=ids).delete()
        except DatabaseError as e:
            raise StoreError(f"PostgreSQL events: {e.__class__.__name__}: {e}") from e

    def version(self, now_ms: int = 0) -> str:
        """Changes whenever an event is stored (the tape's ETag): the newest row id (``now_ms``: accepted
        for the file store's signature, whose token is today's file size)."""
        newest = self._rows().order_by("-id").values_list("id", flat=True).first()
        return f"pg-{newest or 0}"

    def count(self) -> int:
        return self._rows().count()

    # -- the tape -------------------------------------------------------------------------------------

    def tape(
        self,
        reader: Any,
        *,
        before_ms: int,
        limit: int,
        min_usd: float = 0.0,
        side: str | None = None,
        f: Filters | None = None,
    ) -> dict[str, Any]:
        """``tape.tape``'s answer from one indexed query: the newest matching countable events before
        ``before_ms`` (in the newest event's UTC day and the one before), newest first, and ``next_before``."""
        from .tape import _answer, _Page  # the page rules are the file tape's: one definition of a page

        f = f or Filters()
        page = _Page(limit, before_ms, min_usd, side, f)
        newest = self._rows().filter(ts_ms__lt=before_ms).order_by("-ts_ms").values_list("ts_ms", flat=True).first()
        if newest is None:
            return _answer(page, 0, date.min, date.max)
        # Two UTC days, the newest event's and the one before, as the file tape reads two day files.
        floor = _day_ms(datetime.fromtimestamp(newest / 1000, UTC).date() - timedelta(days=1))
        rows = self._rows().filter(ts_ms__lt=before_ms, ts_ms__gte=floor, usd__gte=max(min_usd, 0.0))
        if side:
            rows = rows.filter(side=side)
        if f.exchange:
            rows = rows.filter(exchange=f.exchange)
        if f.coin:
            rows = rows.filter(coin=f.coin)
        # One row past the page tells whether the page's oldest millisecond was cut (``_Page.left_out``);
        # rows of that same millisecond beyond it change nothing the answer says.
        # Within a millisecond the first stored come first, as in the day files (the page keeps the lowest).
        for row_id, line in rows.order_by("-ts_ms", "id").values_list("id", "line")[: limit + 1]:
            page.consider(row_id, json.loads(line))
        if not page.full and self._rows().filter(ts_ms__lt=floor).exists():
            return _answer(page, floor, date.min, date.max)  # older events remain: the next page starts there
        return _answer(page, 0, date.min, date.max)
