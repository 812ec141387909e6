"""``manage.py collect_liquidation``: one collection (for cron), or ``--loop`` every minute.

Exit status: 0 appended, or this minute already collected (nothing written); 1 the collection
failed (nothing written, the data file unchanged); 2 no source configured. Each outcome is also
written to ``data/last_run.json``, because django-crontab's runner swallows exit codes.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from liquidation.collector import CollectError, collect_once, run_loop, write_last_run
from liquidation.conf import configured_source, get_store, http_policy
from liquidation.logfiles import command_logging
from liquidation.sources import ConfigError

logger = logging.getLogger("liquidation.collector")


class Command(BaseCommand):
    help = (
        "Fetch the market's trailing 1h liquidation amount (with panic index, 24h amount and open "
        "interest) and append one record for this minute to the JSONL store."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source",
            choices=["exchanges", "panic-api", "coinglass"],
            help="Upstream to use (default: LIQUIDATION_SOURCE, else coinglass when COINGLASS_API_KEY "
            "is set, else panic-api when LIQUIDATION_SOURCE_URL is set, else the keyless exchanges source).",
        )
        parser.add_argument("--url", help="panic-api URL, overriding LIQUIDATION_SOURCE_URL.")
        parser.add_argument("--dry-run", action="store_true", help="Print the record; write nothing.")
        parser.add_argument(
            "--loop",
            action="store_true",
            help="Collect at the start of every minute until SIGINT/SIGTERM (for systemd or PM2).",
        )
        parser.add_argument("--interval", type=int, default=60, help="Seconds between loop runs (default 60).")

    def handle(self, *args: Any, **options: Any) -> None:
        with command_logging(options["verbosity"], settings.LOG_DIR / "collector.log"):
            if options["loop"]:
                self._loop(options)
                return
            ok, error, code = self._collect(options)
            if not ok:
                raise CommandError(error, returncode=code)

    def _collect(self, options: dict[str, Any]) -> tuple[bool, str, int]:
        """One collection with its logging and last_run.json. Returns (ok, error message, exit code)."""
        last_run = settings.LIQUIDATION_LAST_RUN_FILE
        try:
            source = configured_source(options["source"], options["url"])
        except ConfigError as e:
            logger.error("collector not configured: %s", e)
            if not options["dry_run"]:
                write_last_run(last_run, "unconfigured", source=None, detail=str(e))
            return False, str(e), 2
        try:
            result = collect_once(source, get_store(), http_policy(), dry_run=options["dry_run"])
        except CollectError as e:
            logger.error("collect failed: %s", e)
            if not options["dry_run"]:
                write_last_run(last_run, "error", source=source.name, detail=str(e))
            return False, str(e), 1
        if result.outcome == "dry-run":
            self.stdout.write(json.dumps(result.record, ensure_ascii=False, indent=2))
            return True, "", 0
        logger.info("%s", result.summary())
        write_last_run(
            last_run, "ok" if result.outcome == "appended" else "duplicate", source=source.name, detail=result.summary()
        )
        return True, "", 0

    def _loop(self, options: dict[str, Any]) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: object) -> None:
            # Only a flag: a write in progress finishes, then the loop ends.
            logger.info("received %s, finishing the current collection and stopping", signal.Signals(signum).name)
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        logger.info(
            "collector loop started: every %d s, data in %s; Ctrl-C to stop",
            options["interval"],
            settings.LIQUIDATION_DATA_FILE,
        )
        try:
            calls = run_loop(lambda: self._collect(options), stop, interval=options["interval"])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logger.info("collector loop stopped after %d collection(s)", calls)
