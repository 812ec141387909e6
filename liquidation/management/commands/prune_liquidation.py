"""``manage.py prune_liquidation --keep-days N``: drop records (and event day files) older than N days."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from liquidation.conf import get_events, get_store
from liquidation.maintenance import prune
from liquidation.store import StoreError


class Command(BaseCommand):
    help = (
        "Remove records older than --keep-days days, safely (temp file, fsync, atomic replace, under the store's lock)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--keep-days",
            type=int,
            default=settings.LIQUIDATION_KEEP_DAYS or None,
            help="Days to keep (default: LIQUIDATION_KEEP_DAYS).",
        )

    def handle(self, *args: Any, keep_days: int | None, **options: Any) -> str:
        if not keep_days or keep_days < 1:
            raise CommandError("give --keep-days N (N >= 1) or set LIQUIDATION_KEEP_DAYS")
        try:
            result = prune(get_store(), keep_days, events=get_events())
        except StoreError as e:
            raise CommandError(str(e)) from e
        return result.summary()
