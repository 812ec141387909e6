"""The per-minute pipeline, in one place: collect → record → (buckets, inside the keyless source's
collection) → last_run → alerts → the Fear & Greed refresh → the daily prune. ``collect_liquidation``
only builds a ``Minute`` from the settings, runs it once or every minute, and maps its outcome to an exit
status. Every step after the record is logged and never changes the outcome: a failing alert channel, Fear
& Greed fetch or prune costs the collection nothing.

Outcomes: ``appended`` or ``duplicate`` (exit 0), ``dry-run`` (0, the record is returned to print),
``error`` (1, nothing written), ``unconfigured`` (2, no source). An exception nobody foresaw is this
collection's failure too: logged once with its traceback, recorded in last_run, alerted on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import feargreed
from .alerts import KINDS, run_alerts
from .collector import CollectError, collect_once, log_line, write_last_run
from .http import HttpPolicy, redact_text
from .maintenance import prune
from .recordstore import RecordStore
from .sources import ConfigError, Source
from .statestore import StateStore
from .store import StoreError

logger = logging.getLogger("liquidation.collector")

EXIT = {"appended": 0, "duplicate": 0, "dry-run": 0, "error": 1, "unconfigured": 2}


@dataclass
class Outcome:
    outcome: str
    message: str = ""
    record: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        return EXIT[self.outcome]


@dataclass
class Minute:
    """What one minute needs, built from the settings by ``conf.pipeline()``."""

    source: Callable[[], Source]  # raises ConfigError when no source is configured
    store: Callable[[], RecordStore]
    policy: HttpPolicy
    state: StateStore  # where last_run and the Fear & Greed Index go (shared with the web nodes)
    alert_config: Callable[[], Any]
    events: Callable[[], Any]  # the event store the daily prune trims (conf.get_events)
    keep_days: int = 0
    fear_greed_url: str = ""
    pruned_on: str = field(default="", init=False)

    def run(self, *, dry_run: bool = False) -> Outcome:
        """One collection and everything after it."""
        outcome = self.collect(dry_run=dry_run)
        if not dry_run:
            self.fear_greed()
        return outcome

    def run_and_maintain(self) -> Outcome:
        """What the loop does every minute: ``run`` and, once a day, the prune."""
        outcome = self.run()
        self.maintain()
        return outcome

    def collect(self, *, dry_run: bool = False) -> Outcome:
        started = time.monotonic()
        source_name: str | None = None
        try:
            source = self.source()
            source_name = source.name
            result = collect_once(source, self.store(), self.policy, dry_run=dry_run)
        except ConfigError as e:
            return self._failed("unconfigured", None, str(e), "unconfigured", started, dry_run)
        except CollectError as e:
            return self._failed("error", source_name, str(e), e.kind, started, dry_run)
        except Exception as e:
            message = f"unexpected {e.__class__.__name__}: {redact_text(str(e))[:300]} (a bug: please report it)"
            return self._failed("error", source_name, message, "internal", started, dry_run, exc_info=True)
        if result.outcome == "dry-run":
            return Outcome("dry-run", record=result.record)
        record = result.record if result.outcome == "appended" else None
        logger.info("%s: %s", log_line(result.outcome, source_name, result.duration, record), result.summary())
        appended = result.outcome == "appended"
        write_last_run(self.state, "ok" if appended else "duplicate", source=source_name, detail=result.summary())
        self.alerts(KINDS if appended else ("no_data",))
        return Outcome("appended" if appended else "duplicate", record=record)

    def _failed(
        self,
        outcome: str,
        source: str | None,
        message: str,
        error_class: str,
        started: float,
        dry_run: bool,
        *,
        exc_info: bool = False,
    ) -> Outcome:
        logger.error("%s", log_line(outcome, source, time.monotonic() - started, error=message), exc_info=exc_info)
        if not dry_run:
            write_last_run(self.state, outcome, source=source, detail=message, error_class=error_class)
            self.alerts(("no_data",))
        return Outcome(outcome, message)

    def alerts(self, kinds: tuple[str, ...]) -> None:
        """Evaluate the alert rules and send; logged, never fatal (run_alerts does not raise)."""
        outcome = run_alerts(self.alert_config, self.store(), kinds=kinds)  # builds the config in its guard
        if outcome["events"] or outcome["sent"]:
            logger.info("alerts: %d event(s); sent: %s", outcome["events"], outcome["sent"])

    def fear_greed(self) -> None:
        """Refresh the Fear & Greed Index when due (hourly), within what is left of this minute."""
        if not self.fear_greed_url:
            return
        try:
            result = feargreed.refresh(self.state, self.fear_greed_url, self.policy)
        except feargreed.FearGreedError as e:
            logger.error("fear-greed failed (%s): %s; nothing written, next try in an hour", e.kind, e)
        except Exception as e:  # a bug here must not cost the collection its exit status or the loop
            logger.error(
                "fear-greed: unexpected %s: %s", e.__class__.__name__, redact_text(str(e))[:300], exc_info=True
            )
        else:
            if result.outcome != "not-due":
                logger.info("fear-greed: %s", result.summary())

    def maintain(self, today: str | None = None) -> None:
        """Once a UTC day: prune to ``keep_days`` (0 keeps everything)."""
        today = today or time.strftime("%Y-%m-%d", time.gmtime())
        if not self.keep_days or self.pruned_on == today:
            return
        self.pruned_on = today
        try:
            result = prune(self.store(), self.keep_days, events=self.events())
            logger.info("daily prune (LIQUIDATION_KEEP_DAYS=%d): %s", self.keep_days, result.summary())
        except (StoreError, OSError) as e:
            logger.error("daily prune failed: %s", e)
