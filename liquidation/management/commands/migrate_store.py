"""``manage.py migrate_store --to postgresql|jsonl``: move the records between LIQUIDATION_DATA_FILE and the
database of DATABASE_URL (logic in ``liquidation.storemigrate``)."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from liquidation import storemigrate
from liquidation.bucketstore import BucketStore
from liquidation.durable import StoreError
from liquidation.eventstore import EventStore
from liquidation.pgbuckets import PgBucketStore
from liquidation.pgevents import PgEventStore
from liquidation.pgstore import PgRecordStore, PgStateStore
from liquidation.store import JsonlStore


class Command(BaseCommand):
    help = (
        "Move the records (LIQUIDATION_DATA_FILE), events and minute buckets (LIQUIDATION_EVENTS_DIR) between the "
        "files and PostgreSQL (DATABASE_URL), whatever LIQUIDATION_STORE says. Idempotent and resumable; record "
        "lines move byte for byte."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--to", required=True, choices=["postgresql", "jsonl"], help="where the records go")

    def handle(self, *args: Any, to: str, **options: Any) -> str:
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            raise CommandError("set DATABASE_URL to the PostgreSQL database (postgres://user:pass@host/db) first")
        show = options["verbosity"] > 0

        def progress(done: int, total: int) -> None:
            if show:
                sys.stderr.write(f"\r{done:,} / {total:,} records")
                if done >= total:
                    sys.stderr.write("\n")
                sys.stderr.flush()

        def say(text: str) -> None:
            if show:
                self.stderr.write(text)

        jsonl, pg = JsonlStore(settings.LIQUIDATION_DATA_FILE), PgRecordStore()
        folder = settings.LIQUIDATION_EVENTS_DIR
        events, buckets = EventStore(folder, load_keys=False), BucketStore(folder / "buckets")
        pg_events, pg_buckets = PgEventStore(), PgBucketStore(PgStateStore())
        try:
            if to == "postgresql":
                moved = storemigrate.to_postgresql(jsonl, pg, progress)
                new_events = storemigrate.events_to_postgresql(events, buckets, pg_events, pg_buckets, say)
            else:
                moved = storemigrate.to_jsonl(pg, jsonl, progress)
                new_events = storemigrate.events_to_jsonl(pg_events, pg_buckets, events, buckets, say)
        except (StoreError, DatabaseError, OSError) as e:
            raise CommandError(f"{e.__class__.__name__}: {e}; nothing already moved is lost: run it again") from e
        where = "PostgreSQL" if to == "postgresql" else settings.LIQUIDATION_DATA_FILE
        return f"{moved.offered} records read, {moved.written} new in {where}; {new_events} events new"
