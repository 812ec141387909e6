"""``manage.py collect_liquidation``: one collection (for cron), or ``--loop`` every minute. A shell over
``liquidation.pipeline.Minute`` (what a minute does); this maps its outcome to the exit status.

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

from liquidation.collector import run_loop
from liquidation.conf import legacy_alert_variables, pipeline
from liquidation.logfiles import command_logging
from liquidation.pipeline import Minute

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
            if (deprecated := legacy_alert_variables()) is not None:
                logger.warning("%s", deprecated)
            minute = pipeline(options["source"], options["url"])
            if options["loop"]:
                self._loop(minute, options["interval"])
                return
            outcome = minute.run(dry_run=options["dry_run"])
            if outcome.outcome == "dry-run":
                self.stdout.write(json.dumps(outcome.record, ensure_ascii=False, indent=2))
            if outcome.exit_code:
                raise CommandError(outcome.message, returncode=outcome.exit_code)

    def _loop(self, minute: Minute, interval: int) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: object) -> None:
            # Only a flag: a write in progress finishes, then the loop ends.
            logger.info("received %s, finishing the current collection and stopping", signal.Signals(signum).name)
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        logger.info(
            "collector loop started: every %d s, records in %s; Ctrl-C to stop", interval, minute.store().describe()
        )
        try:
            calls = run_loop(minute.run_and_maintain, stop, interval=interval)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logger.info("collector loop stopped after %d collection(s)", calls)
