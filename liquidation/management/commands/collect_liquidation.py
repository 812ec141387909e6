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
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from liquidation import feargreed
from liquidation.alerts import KINDS, run_alerts
from liquidation.collector import CollectError, collect_once, log_line, run_loop, write_last_run
from liquidation.conf import alert_config, configured_source, get_store, http_policy
from liquidation.eventstore import EventStore
from liquidation.http import redact_text
from liquidation.logfiles import command_logging
from liquidation.maintenance import prune
from liquidation.sources import ConfigError
from liquidation.store import StoreError

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
            self._fear_greed(options)
            if not ok:
                raise CommandError(error, returncode=code)

    def _collect(self, options: dict[str, Any]) -> tuple[bool, str, int]:
        """One collection with its log line, last_run.json and alert step, whatever goes wrong.

        Returns (ok, error message, exit code): 0 appended or already collected, 1 failed, 2 no
        source configured. An exception nobody foresaw is this collection's failure too: logged
        once (with its traceback, for the bug report), recorded, alerted on; never a bare traceback
        that leaves last_run.json and the no-data alert behind.
        """
        started = time.monotonic()
        dry_run = options["dry_run"]
        source_name: str | None = None
        try:
            source = configured_source(options["source"], options["url"])
            source_name = source.name
            result = collect_once(source, get_store(), http_policy(), dry_run=dry_run)
        except ConfigError as e:
            return self._failed("unconfigured", None, str(e), "unconfigured", 2, started, dry_run)
        except CollectError as e:
            return self._failed("error", source_name, str(e), e.kind, 1, started, dry_run)
        except Exception as e:
            message = f"unexpected {e.__class__.__name__}: {redact_text(str(e))[:300]} (a bug: please report it)"
            return self._failed("error", source_name, message, "internal", 1, started, dry_run, exc_info=True)
        if result.outcome == "dry-run":
            self.stdout.write(json.dumps(result.record, ensure_ascii=False, indent=2))
            return True, "", 0
        record = result.record if result.outcome == "appended" else None
        logger.info("%s: %s", log_line(result.outcome, source_name, result.duration, record), result.summary())
        write_last_run(
            settings.LIQUIDATION_LAST_RUN_FILE,
            "ok" if result.outcome == "appended" else "duplicate",
            source=source_name,
            detail=result.summary(),
        )
        self._alerts(kinds=KINDS if result.outcome == "appended" else ("no_data",))
        return True, "", 0

    def _failed(
        self,
        outcome: str,
        source: str | None,
        message: str,
        error_class: str,
        code: int,
        started: float,
        dry_run: bool,
        *,
        exc_info: bool = False,
    ) -> tuple[bool, str, int]:
        logger.error("%s", log_line(outcome, source, time.monotonic() - started, error=message), exc_info=exc_info)
        if not dry_run:
            write_last_run(
                settings.LIQUIDATION_LAST_RUN_FILE, outcome, source=source, detail=message, error_class=error_class
            )
            self._alerts(kinds=("no_data",))
        return False, message, code

    def _fear_greed(self, options: dict[str, Any]) -> None:
        """After the minute's record: refresh the Fear & Greed Index when due (hourly), within what is left
        of this minute. Logged, never raised: it never changes the collection's exit status."""
        if options["dry_run"] or not settings.FEAR_GREED_URL:
            return
        try:
            result = feargreed.refresh(settings.FEAR_GREED_FILE, settings.FEAR_GREED_URL, http_policy())
        except feargreed.FearGreedError as e:
            logger.error("fear-greed failed (%s): %s; nothing written, next try in an hour", e.kind, e)
        except Exception as e:  # a bug here must not cost the collection its exit status or the loop
            detail = redact_text(str(e))[:300]
            logger.error("fear-greed: unexpected %s: %s", e.__class__.__name__, detail, exc_info=True)
        else:
            if result.outcome != "not-due":
                logger.info("fear-greed: %s", result.summary())

    def _alerts(self, kinds: tuple[str, ...]) -> None:
        """Evaluate the alert rules and send; logged, never fatal (run_alerts does not raise)."""
        outcome = run_alerts(alert_config, get_store(), kinds=kinds)  # builds the config inside its guard
        if outcome["events"] or outcome["sent"]:
            logger.info("alerts: %d event(s); sent: %s", outcome["events"], outcome["sent"])

    def _maintain(self) -> None:
        """Once a day in the loop: prune to LIQUIDATION_KEEP_DAYS, when set."""
        keep = settings.LIQUIDATION_KEEP_DAYS
        today = time.strftime("%Y-%m-%d", time.gmtime())
        if not keep or self._pruned_on == today:
            return
        self._pruned_on = today
        try:
            result = prune(get_store(), keep, events=EventStore(settings.LIQUIDATION_EVENTS_DIR, load_keys=False))
            logger.info("daily prune (LIQUIDATION_KEEP_DAYS=%d): %s", keep, result.summary())
        except (StoreError, OSError) as e:
            logger.error("daily prune failed: %s", e)

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
            self._pruned_on = ""

            def one_minute() -> None:
                self._collect(options)
                self._fear_greed(options)
                self._maintain()

            calls = run_loop(one_minute, stop, interval=options["interval"])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logger.info("collector loop stopped after %d collection(s)", calls)
