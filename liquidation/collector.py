"""One collection (fetch → validate → append) and the every-minute loop around it.

``collect_once`` is what ``manage.py collect_liquidation`` runs: it returns a CollectResult
(appended, duplicate minute, or dry run) or raises CollectError with one log-ready sentence; on
any error the data file is byte-for-byte unchanged. ``run_loop`` calls a collection at the start
of every minute until its stop event is set; a failure is logged and never ends the loop.
``write_last_run`` records each outcome in a small JSON file, because cron (and django-crontab's
runner, which always exits 0) would otherwise hide failures.

Django-free: the management command passes settings in.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .http import Deadline, DeadlineExceeded, FetchError, HttpPolicy, hard_deadline, make_session, redact_text
from .records import RecordError, beijing_datetime, build_record, minute_of
from .recordstore import RecordStore
from .sharedfiles import bump
from .sources import ConfigError, Source, SourceError
from .statestore import StateStore, as_state
from .store import DuplicateMinute, FutureRecord, StoreError

logger = logging.getLogger(__name__)

HARD_DEADLINE_GRACE = 2.0  # seconds past the soft deadline before SIGALRM interrupts a fetch


class CollectError(Exception):
    """A collection failed; nothing was written. ``str()`` names the source, URL (redacted) and
    reason, for the log; ``kind`` is a short URL-free word for public answers (``timeout``,
    ``refused``, ``not-json``, ``implausible-value``, ``future-record``, ``store``, …)."""

    def __init__(self, message: str, *, kind: str = "bad-answer") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class CollectResult:
    outcome: str  # "appended" | "duplicate" | "dry-run"
    record: dict[str, Any] | None
    source: str
    duration: float = 0.0

    def summary(self) -> str:
        r = self.record or {}
        when = r.get("datetime", "?")
        if self.outcome == "duplicate":
            return f"already have the record for {when[:16]} (UTC+8); nothing written"
        values = (
            f"1h={r.get('hour_1_amount')}万 24h={r.get('hour_24_amount')}万 "
            f"OI={r.get('total_position')}亿 panic={r.get('panic_index')}"
        )
        verb = "appended" if self.outcome == "appended" else "dry run, not written:"
        return f"{verb} {when} (UTC+8) from {self.source}: {values} in {self.duration:.2f}s"


def collect_once(
    source: Source,
    store: RecordStore,
    policy: HttpPolicy,
    *,
    now: float | None = None,
    dry_run: bool = False,
) -> CollectResult:
    """Collect one record for the current minute.

    Skips the upstream entirely when the newest stored record is already in this minute. Raises
    CollectError for upstream, validation and store failures (nothing written, data file
    unchanged).
    """
    started = time.monotonic()
    ts = int(now if now is not None else time.time())
    if not dry_run:
        newest = store.latest()
        if newest is not None and minute_of(newest["timestamp"]) == minute_of(ts):
            return CollectResult("duplicate", newest, source.name, time.monotonic() - started)

    deadline = Deadline(policy.deadline)
    session = make_session(policy, deadline)
    try:
        # The soft deadline (socket timeouts, retry budget, body reads) ends almost every failure;
        # the hard one, a little later, ends the rest (slow headers, DNS).
        with hard_deadline(policy.deadline + HARD_DEADLINE_GRACE, source.describe()):
            reading = source.fetch(session, policy, deadline)
    except FetchError as e:
        raise CollectError(f"source {source.name}: {e}", kind=e.kind) from e
    except DeadlineExceeded as e:
        raise CollectError(f"source {source.name}: {e}", kind="deadline") from e
    except SourceError as e:
        raise CollectError(f"source {source.name}: {e}", kind=getattr(e, "kind", "bad-answer")) from e
    except Exception as e:
        # Whatever a hostile answer makes a parser raise (RecursionError, KeyError, TypeError…) is
        # this source's failure, told in one sentence; never a traceback that skips last_run.json.
        raise CollectError(
            f"source {source.name}: unexpected {e.__class__.__name__} while fetching or reading the answer: "
            f"{redact_text(str(e))[:200]}",
            kind="bad-answer",
        ) from e
    finally:
        session.close()

    try:
        record = build_record(
            ts, reading.values, now=ts, source=reading.source, source_time=reading.source_time, **reading.extra
        )
    except RecordError as e:
        raise CollectError(f"source {source.name}: invalid value: {e}", kind="implausible-value") from e
    if dry_run:
        return CollectResult("dry-run", record, source.name, time.monotonic() - started)
    try:
        store.append(record)
    except DuplicateMinute as e:
        return CollectResult("duplicate", e.existing, source.name, time.monotonic() - started)
    except FutureRecord as e:
        raise CollectError(f"store {store.describe()}: {e}", kind="future-record") from e
    except StoreError as e:
        raise CollectError(f"store {store.describe()}: {e}", kind="store") from e
    return CollectResult("appended", record, source.name, time.monotonic() - started)


def run_loop(
    collect: Callable[[], Any],
    stop: threading.Event,
    *,
    interval: int = 60,
    clock: Callable[[], float] = time.time,
) -> int:
    """Call ``collect`` now and then at the start of every ``interval``-second slot until ``stop``.

    ``collect`` does its own logging; any exception it raises is logged here and the loop goes
    on (with no source configured, that is the once-a-minute "what to set" message). Returns the
    number of calls made.
    """
    calls = 0
    while not stop.is_set():
        calls += 1
        try:
            collect()
        except ConfigError as e:
            logger.error("collector idle: %s", e)
        except CollectError as e:
            logger.error("collect failed: %s", e)
        except Exception:  # a bug must not stop minute-by-minute collection
            logger.exception("collect crashed; the loop goes on")
        if stop.is_set():
            break
        stop.wait(interval - (clock() % interval))
    return calls


def write_last_run(
    where: StateStore | str | os.PathLike[str],
    outcome: str,
    *,
    source: str | None,
    detail: str,
    error_class: str | None = None,
    now: float | None = None,
) -> None:
    """Replace the state ``last_run`` (a file path works too) with ``{"time", "datetime", "outcome", "source",
    "detail" | "error", "error_class", "last_success", "counts"}``.

    ``detail``/``error`` are for operators (redacted URLs, still never shown publicly);
    ``error_class`` is the short URL-free word public answers show.

    ``outcome`` is ``ok``, ``duplicate``, ``error`` or ``unconfigured``. ``counts`` keeps running totals
    as ``{outcome: {source: n}}`` and ``last_success`` the time of the last good one (the metrics read them).
    The read-modify-write excludes other writers (cron runs, loops and other machines may finish together).
    A failure to write is logged, never raised: it must not turn a good collection into a failed one.
    """
    ts = int(now if now is not None else time.time())

    def change(previous: dict[str, Any]) -> dict[str, Any]:
        return {
            "time": ts,
            "datetime": beijing_datetime(ts),
            "outcome": outcome,
            "source": source,
            "error" if outcome in ("error", "unconfigured") else "detail": redact_text(detail),
            "error_class": error_class,
            "last_success": ts if outcome in ("ok", "duplicate") else _int_or_none(previous.get("last_success")),
            "counts": bump(previous.get("counts"), outcome, source or "none"),
        }

    try:
        as_state(where, "last_run").update("last_run", change)
    except (OSError, StoreError) as e:
        logger.warning("could not write the last run (%s): %s", where, e)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def log_line(
    outcome: str, source: str | None, duration: float, record: dict[str, Any] | None = None, error: str = ""
) -> str:
    """One structured line per collection: ``key=value`` pairs a log shipper can parse."""
    parts = [f"outcome={outcome}", f"source={source or 'none'}", f"duration_ms={int(duration * 1000)}"]
    if record:
        for key in ("timestamp", "hour_1_amount", "hour_24_amount", "total_position", "panic_index"):
            if key in record:
                parts.append(f"{key}={record[key]}")
    if error:
        parts.append(f"error={json.dumps(redact_text(error), ensure_ascii=False)}")
    return "collect " + " ".join(parts)


__all__ = ["CollectError", "CollectResult", "ConfigError", "collect_once", "run_loop", "write_last_run"]
