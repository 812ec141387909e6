"""The one interface the rest of the code uses for records, whatever holds them: ``store.JsonlStore`` (one
JSONL file, the embedded default) or ``pgstore.PgRecordStore`` (PostgreSQL, for several machines).
``conf.get_store()`` picks one from ``LIQUIDATION_STORE``; views, metrics, alerts and the collector call
only what is declared here. ``tests/test_store_contract.py`` runs the same cases on both.

Errors are the ones declared below (a backend turns its library's errors into ``StoreError`` ``from`` them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from .durable import StoreError

__all__ = ["DuplicateMinute", "FutureRecord", "OutOfOrder", "RecordStore", "StoreError"]


class DuplicateMinute(StoreError):
    """A record for this record's minute is already stored. Not an error for a collector."""

    def __init__(self, existing: dict[str, Any]) -> None:
        super().__init__(f"a record for {existing.get('datetime')} (UTC+8) is already stored for this minute")
        self.existing = existing


class OutOfOrder(StoreError):
    """The record is older than the newest stored record (a store that keeps arrival order refuses it)."""


class FutureRecord(OutOfOrder):
    """The newest stored record is dated after the writer's clock: the clock jumped forward and back."""


@runtime_checkable
class RecordStore(Protocol):
    """Records, one per UTC minute, read oldest first."""

    def describe(self) -> str:
        """The store as messages name it (a file's path; never a database URL, which may hold a password)."""

    def append(self, record: dict[str, Any], *, now: float | None = None) -> None:
        """Store ``record`` durably (committed when this returns); DuplicateMinute when its minute is stored,
        StoreError on any failure, with nothing written."""

    def latest(self) -> dict[str, Any] | None:
        """The newest record, or None."""

    def range(self, start: int | None = None, end: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Records with ``start <= timestamp <= end`` (either bound optional), oldest first; with ``limit``
        only the most recent ``limit`` of them."""

    def iter_range(self, start: int | None, end: int | None) -> Iterator[dict[str, Any]]:
        """The same, streamed (for windows too long to hold)."""

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record."""

    def lines(self) -> Iterator[bytes]:
        """Every record as its stored JSON line (with its newline), oldest first: byte for byte what a JSONL
        file of this store would hold (``migrate_store`` moves these)."""

    def count(self) -> int:
        """How many records are stored."""

    def version(self) -> str:
        """A cheap token that changes whenever the records may have changed (appends included): ETags,
        response caches."""

    def revision(self) -> str:
        """A token that changes when records already served may have changed (prune, import, repair), not
        on an append: an incremental client reloads when it changes."""
