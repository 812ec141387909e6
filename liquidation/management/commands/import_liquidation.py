"""``manage.py import_liquidation FILE…``: merge JSONL files (the earlier system's format or ours)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from liquidation.conf import get_store
from liquidation.maintenance import import_files
from liquidation.store import StoreError


class Command(BaseCommand):
    help = (
        "Merge JSONL files into the store: validated, one record per minute (stored records win), sorted. "
        "Skipped lines are reported with their line numbers. Importing the same file twice changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="JSONL files to import")

    def handle(self, *args: Any, files: list[str], **options: Any) -> str:
        show = sys.stderr.isatty() and options["verbosity"] > 0

        def progress(name: str, done: int, total: int) -> None:
            if show:
                percent = 100 * done / total if total else 100
                sys.stderr.write(f"\r{name}: {percent:5.1f}%")
                if done >= total:
                    sys.stderr.write("\n")
                sys.stderr.flush()

        try:
            result = import_files(get_store(), files, progress=progress)
        except FileNotFoundError as e:
            raise CommandError(f"no such file: {e.filename}") from e
        except StoreError as e:
            raise CommandError(str(e)) from e
        for name, line_no, reason in result.skipped[:200]:
            self.stderr.write(f"skipped {name}:{line_no}: {reason}")
        if len(result.skipped) > 200:
            self.stderr.write(f"… and {len(result.skipped) - 200} more skipped lines")
        return result.summary()
