"""The Crypto Fear & Greed Index of alternative.me: fetch it, check it, keep one value per day, read it back.

Upstream (keyless; https://alternative.me/crypto/fear-and-greed-index/#api, what is and is not documented
is in ``tests/fixtures/feargreed/README.md``): ``GET /fng/?limit=N&format=json`` answers
``{"name", "data": [{"value": "40", "value_classification": "Fear", "timestamp": "1551157200",
"time_until_update": "68499"}, …], "metadata": {"error": null}}``; ``limit=0`` is the whole history.
A payload is taken whole or not at all: an error envelope, a value that is not an integer of 0..100, a
timestamp that is not Unix seconds between 2009 and tomorrow, or a missing label refuses all of it
(FearGreedError) and nothing is written.

The days are one JSON object in a state store (``statestore``): by default the small file FEAR_GREED_FILE,
replaced atomically; with ``LIQUIDATION_STORE=postgresql`` a row every web node reads::

    {"format": 1, "source": "alternative.me", "updated": <Unix s of the last good fetch>,
     "days": [{"date": "YYYY-MM-DD", "ts": <upstream timestamp>, "value": 0..100, "classification": "Fear"}, …]}

oldest first, one entry per UTC day (the upstream's newer value wins a day). Beside it, state
``fear_greed_attempt`` (the file ``<name>.state.json``) records the last attempt (``attempted``,
``outcome``, ``error_class``, ``error``): attempts are claimed with no other writer in between before the
request, so cron runs, loops and collectors on several machines together still ask the upstream at most
once an hour, failures included. Django-free: the collector passes settings in.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from .durable import StoreError
from .feargreed_payload import Day, FearGreedError, parse
from .http import Deadline, DeadlineExceeded, FetchError, HttpPolicy, get_json, hard_deadline, make_session
from .redact import redact_url
from .statestore import FileStateStore, StateStore

logger = logging.getLogger(__name__)

DATA, ATTEMPT = "fear_greed", "fear_greed_attempt"  # state names: the days, the last attempt
Where = StateStore | str | os.PathLike[str]

#: At most one request an hour, whatever its outcome.
FETCH_EVERY = 3600
#: Seconds kept free at the end of the minute, so the collection ends before the next one starts.
MINUTE_MARGIN = 5.0
#: Below this much time left in the minute, the fetch waits for a later minute (nothing is claimed).
MIN_BUDGET = 2.0
#: Days asked for once a history is stored; more when the newest stored day is older than that.
RECENT_DAYS = 7
#: A stored history older than this many days is fetched whole again (limit=0) rather than patched.
REFETCH_AFTER_DAYS = 60
_DATE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


@dataclass(frozen=True)
class Stored:
    updated: int
    days: tuple[Day, ...]


@dataclass(frozen=True)
class Refreshed:
    """``outcome``: ``fetched``, ``not-due`` (asked less than an hour ago) or ``deferred`` (too little of
    the minute left; a later minute tries)."""

    outcome: str
    limit: int | None = None
    received: int = 0
    added: int = 0
    total: int = 0
    budget: float = 0.0

    def summary(self) -> str:
        if self.outcome == "fetched":
            return f"fetched limit={self.limit}: {self.received} day(s) received, {self.added} new, {self.total} stored"
        if self.outcome == "deferred":
            return f"deferred: {self.budget:.1f} s left in this minute"
        return "not due (asked less than an hour ago)"


def merge(old: list[Day] | tuple[Day, ...], new: list[Day]) -> list[Day]:
    """``old`` with ``new`` merged in, oldest first, one per day; a day in both takes ``new``'s value."""
    by_date = {d["date"]: d for d in old}
    by_date.update({d["date"]: d for d in new})
    return [by_date[d] for d in sorted(by_date)]


# -- fetching --------------------------------------------------------------------------------------------


def minute_budget(now: float) -> float:
    """Seconds a fetch may take now: what is left of this wall-clock minute, less MINUTE_MARGIN."""
    return 60.0 - (now % 60.0) - MINUTE_MARGIN


def fetch_limit(stored: Stored | None, now: float) -> int:
    """``limit`` to ask for: 0 (everything) without a history or when it is over REFETCH_AFTER_DAYS old;
    else RECENT_DAYS, or enough days to reach back to the newest stored one."""
    if stored is None or not stored.days:
        return 0
    newest = date.fromisoformat(stored.days[-1]["date"])
    missing = (datetime.fromtimestamp(now, UTC).date() - newest).days
    if missing > REFETCH_AFTER_DAYS:
        return 0
    return max(RECENT_DAYS, missing + 2)


def fetch(url: str, policy: HttpPolicy, *, limit: int, now: float, budget: float) -> list[Day]:
    """GET ``url?limit=<limit>&format=json`` within ``budget`` seconds in all and parse it.

    The soft deadline (socket timeouts, retries, body reads; see ``http.get_json``) is ``budget`` less a
    grace; ``hard_deadline`` ends what it cannot (slow headers, DNS) at ``budget``. Raises FearGreedError.
    """
    grace = min(1.0, budget / 4)
    deadline = Deadline(max(0.1, min(policy.deadline, budget - grace)))
    policy = dataclasses.replace(policy, deadline=deadline.seconds)
    session = make_session(policy, deadline)
    try:
        with hard_deadline(budget, "fear-greed"):
            status, payload = get_json(session, url, policy, deadline, params={"limit": str(limit), "format": "json"})
    except FetchError as e:
        raise FearGreedError(str(e), kind=e.kind) from e
    except DeadlineExceeded as e:
        raise FearGreedError(str(e), kind="deadline") from e
    finally:
        session.close()
    if status != 200:
        raise FearGreedError(f"{redact_url(url)}: HTTP {status}", kind="http-status")
    try:
        return parse(payload, now=now)
    except FearGreedError as e:
        raise FearGreedError(f"{redact_url(url)}: {e}", kind=e.kind) from e


def should_fetch(where: Where, now: float, *, every: int = FETCH_EVERY) -> bool:
    """True when no attempt is recorded (state ``fear_greed_attempt``), the last one is ``every`` seconds
    old or more, or it is dated over a minute after ``now`` (the clock went back: do not wait for it)."""
    return _due(_as_store(where).read(ATTEMPT), now, every)


def _due(attempt: dict[str, Any], now: float, every: int = FETCH_EVERY) -> bool:
    attempted = attempt.get("attempted")
    if not isinstance(attempted, int) or isinstance(attempted, bool):
        return True
    return not (now - every < attempted <= now + 60)


def state_path(path: Path) -> Path:
    return path.with_name(path.stem + ".state.json")


def _as_store(where: Where) -> StateStore:
    """``where`` itself when it is a state store, else the data file ``where`` and its ``.state.json``."""
    if isinstance(where, (str, os.PathLike)):
        return FileStateStore({DATA: Path(where), ATTEMPT: state_path(Path(where))})
    return where


class _NotDue(Exception):
    pass


def refresh(where: Where, url: str, policy: HttpPolicy, *, now: float | None = None) -> Refreshed:
    """Fetch and merge the index if it is due, within what is left of the current minute.

    1. Too little of the minute left: ``deferred``, nothing claimed, nothing asked.
    2. With no other writer in between (``StateStore.update``): not due (an attempt less than
       FETCH_EVERY ago): ``not-due``; else claim this attempt (state ``fear_greed_attempt``).
    3. Ask for everything (nothing stored) or the last few days, check the payload.
    4. Again with no other writer: merge with what is stored now and replace it (state ``fear_greed``).

    ``where``: a state store (the files, or PostgreSQL shared by every node) or the data file's path.
    Raises FearGreedError (the data is then as it was; the attempt records the failure).
    """
    store = _as_store(where)
    started = time.monotonic()
    now = time.time() if now is None else now
    budget = minute_budget(now)
    if budget < MIN_BUDGET:
        return Refreshed("deferred", budget=budget)

    def claim(attempt: dict[str, Any]) -> dict[str, Any]:
        if not _due(attempt, now):
            raise _NotDue  # nothing written
        return _attempt(now, "started")

    try:
        store.update(ATTEMPT, claim)
    except _NotDue:
        return Refreshed("not-due")
    except (StoreError, OSError) as e:
        raise FearGreedError(f"claiming the hourly fetch in {store!r}: {e}", kind="store") from e
    sizes: list[int] = []
    try:
        limit = fetch_limit(read(store), now)
        left = max(0.2, budget - (time.monotonic() - started))
        days = fetch(url, policy, limit=limit, now=now, budget=left)

        def merge_in(current: dict[str, Any]) -> dict[str, Any]:
            stored = _parse(current, repr(store))
            old = stored.days if stored else ()
            merged = merge(old, days)
            sizes[:] = [len(old), len(merged)]
            return _body(merged, int(now))

        store.update(DATA, merge_in)
    except FearGreedError as e:
        _write_state(store, now, "error", e)
        raise
    except (StoreError, OSError) as e:
        error = FearGreedError(f"writing {store!r}: {e}", kind="store")
        _write_state(store, now, "error", error)
        raise error from e
    _write_state(store, now, "ok")
    return Refreshed("fetched", limit, len(days), sizes[1] - sizes[0], sizes[1])


def _attempt(now: float, outcome: str, error: FearGreedError | None = None) -> dict[str, Any]:
    return {
        "attempted": int(now),
        "outcome": outcome,
        "error_class": error.kind if error else None,
        "error": str(error) if error else None,
    }


def _write_state(store: StateStore, now: float, outcome: str, error: FearGreedError | None = None) -> None:
    """Record how the claimed attempt ended; a failure is logged (the data is what matters)."""
    try:
        store.write(ATTEMPT, _attempt(now, outcome, error))
    except (OSError, StoreError) as e:
        logger.warning("could not record the fear-greed attempt in %r: %s", store, e)


def _body(days: list[Day], updated: int) -> dict[str, Any]:
    return {"format": 1, "source": "alternative.me", "updated": updated, "days": days}


def write(where: Where, days: list[Day], updated: int) -> None:
    """Replace the stored days with ``days`` (oldest first, one per day) fetched at ``updated``, atomically
    and durably (raises OSError or StoreError). ``refresh`` merges under the store's lock instead."""
    _as_store(where).write(DATA, _body(days, updated))


# -- reading ---------------------------------------------------------------------------------------------

#: store -> (stamp, Stored): web workers parse the value again only when it was replaced.
_cache: dict[str, tuple[Any, Stored | None]] = {}


def read(where: Where) -> Stored | None:
    """The stored days, or None when there are none or no valid day among them. Never raises on bad data:
    entries of the wrong shape are left out (and logged once per version of the value). One ``stat`` (or
    one indexed row lookup) while the value is unchanged."""
    store = _as_store(where)
    try:
        stamp = store.stamp(DATA)
    except (OSError, StoreError):
        return None
    if stamp is None:
        return None
    key = store.path(DATA) if isinstance(store, FileStateStore) else repr(store)
    cached = _cache.get(str(key))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    result = _parse(store.read(DATA), str(key))
    _cache[str(key)] = (stamp, result)
    return result


def _parse(raw: dict[str, Any], name: str) -> Stored | None:
    entries = raw.get("days") if isinstance(raw.get("days"), list) else []
    by_date = {d["date"]: d for d in entries if _valid_day(d)}
    if not entries and raw:
        logger.warning("%s holds no list of days: not what this module writes; ignored", name)
    elif len(by_date) < len(entries):
        logger.warning("%s: left out %d malformed or repeated entries", name, len(entries) - len(by_date))
    updated = raw.get("updated")
    if not by_date:
        return None
    return Stored(
        updated=updated if isinstance(updated, int) and not isinstance(updated, bool) else 0,
        days=tuple(by_date[d] for d in sorted(by_date)),
    )


def _valid_day(d: Any) -> bool:
    return (
        isinstance(d, dict)
        and isinstance(d.get("date"), str)
        and bool(_DATE.match(d["date"]))
        and isinstance(d.get("ts"), int)
        and not isinstance(d.get("ts"), bool)
        and isinstance(d.get("value"), int)
        and not isinstance(d.get("value"), bool)
        and 0 <= d["value"] <= 100
        and isinstance(d.get("classification"), str)
    )


def has_data(where: Where) -> bool:
    """Whether at least one valid day is stored: one ``stat`` (or row lookup) while it is unchanged."""
    return read(where) is not None


def recent(stored: Stored, days: int, now: float) -> list[Day]:
    """The stored days of the last ``days`` UTC calendar days up to today (inclusive), oldest first.
    Each is a fresh dict, so a caller may change it."""
    first = (datetime.fromtimestamp(now, UTC).date() - timedelta(days=days - 1)).isoformat()
    return [
        Day(date=d["date"], ts=d["ts"], value=d["value"], classification=d["classification"])
        for d in stored.days
        if d["date"] >= first
    ]


__all__ = [
    "Day",
    "FearGreedError",
    "Refreshed",
    "Stored",
    "fetch",
    "fetch_limit",
    "has_data",
    "merge",
    "minute_budget",
    "parse",
    "read",
    "recent",
    "refresh",
    "should_fetch",
    "write",
]
