"""``manage.py verify_liquidation [--repair]``: report (and fix) what is wrong with the data file."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from liquidation.conf import get_store
from liquidation.maintenance import repair as repair_file
from liquidation.maintenance import verify
from liquidation.store import JsonlStore, StoreError


class Command(BaseCommand):
    help = (
        "Report bad lines, a torn tail, out-of-order and duplicate records, leftover temp files and gaps. "
        "Exit status 1 when there are problems (gaps are reported, not counted). --repair keeps a backup, "
        "then writes a clean file the safe way."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--repair", action="store_true", help="Rewrite the file with only valid, sorted, unique records."
        )

    def handle(self, *args: Any, repair: bool, **options: Any) -> None:
        store = get_store()
        report = verify(store)
        for line in report.lines():
            self.stdout.write(line)
        if repair and not isinstance(store, JsonlStore):
            raise CommandError(
                "--repair rewrites the JSONL file; PostgreSQL already keeps one record per minute (its primary "
                "key) and sorts on read, so there is nothing of that kind to repair. Records dated after now, "
                "if reported, are a clock problem: delete them in SQL once the clock is right."
            )
        if repair and report.problems:
            try:
                backup, _, after = repair_file(store)
            except StoreError as e:
                raise CommandError(str(e)) from e
            self.stdout.write(f"repaired: kept {after} record(s); the old file is kept as {backup}")
            again = verify(store)
            if again.problems:
                raise CommandError(f"{again.problems} problem(s) remain after the repair")
            return
        if report.problems:
            raise CommandError(f"{report.problems} problem(s) found in {store.describe()}", returncode=1)
