"""``manage.py rebuild_buckets [--since YYYY-MM-DD]``: recompute the minute buckets from the event store."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from liquidation.bucketstore import StoreError
from liquidation.conf import get_buckets, get_events


class Command(BaseCommand):
    help = (
        "Recompute the minute buckets of every day that has events (or of --since on), from the event store. "
        "Idempotent: run twice, the same bytes. A day whose events were pruned keeps its buckets."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=date.fromisoformat, help="First UTC day to rebuild (YYYY-MM-DD)")

    def handle(self, *args: Any, since: date | None, **options: Any) -> None:
        try:
            result = get_buckets().rebuild(get_events(), since, progress=self.stdout.write)
        except StoreError as e:
            raise CommandError(f"{e}; nothing after the last day reported was changed") from e
        self.stdout.write(result)
