"""``manage.py check_sources``: a live self-check of every venue from this machine (needs internet).

Prints a table (colour on a terminal, plain when piped) or, with ``--json``, one JSON document on stdout
(logs go to stderr). Exit status 1 when a venue is unreachable or a value is suspect. ``--record DIR``
saves every raw answer and frame in the layout of the test fixtures.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from liquidation import venues as registry
from liquidation.conf import http_policy
from liquidation.selfcheck import Recorder, as_json, check, table


class Command(BaseCommand):
    help = "Check every exchange from this machine: reachability, feeds, liquidations, open interest, units."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=60.0, help="Listen and poll for this long (default 60).")
        parser.add_argument("--json", action="store_true", help="One JSON document on stdout instead of the table.")
        parser.add_argument("--record", type=Path, help="Save every raw answer and frame under this folder.")
        parser.add_argument("--exchanges", help=f"Comma-separated subset of {','.join(registry.names())}.")

    def handle(self, *args: Any, **options: Any) -> None:
        names = [n.strip() for n in (options["exchanges"] or "").split(",") if n.strip()] or list(registry.names())
        unknown = sorted(set(names) - set(registry.names()))
        if unknown:
            raise CommandError(f"unknown exchange(s) {', '.join(unknown)}: choose from {', '.join(registry.names())}")
        if options["seconds"] <= 0:
            raise CommandError("--seconds must be positive")
        policy = http_policy()
        state = Path(tempfile.mkdtemp(prefix="check_sources-"))  # caches of this run only
        venues = registry.build(names, urls=settings.EXCHANGE_URLS, policy=policy, state_dir=state)
        recorder = Recorder(options["record"]) if options["record"] else None
        checks = check(venues, options["seconds"], policy, recorder)
        if options["json"]:
            self.stdout.write(json.dumps(as_json(checks), ensure_ascii=False, indent=1))
        else:
            colour = self.stdout.isatty() if hasattr(self.stdout, "isatty") else sys.stdout.isatty()
            for line in table(checks, colour=colour):
                self.stdout.write(line)
        if recorder is not None:
            self.stderr.write(f"raw answers and frames saved under {options['record']}")
        failing = [c.title for c in checks if not c.reachable or c.suspect]
        if failing:
            raise CommandError(f"unreachable or suspect: {', '.join(failing)}", returncode=1)
