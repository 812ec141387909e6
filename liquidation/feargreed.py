"""The Crypto Fear & Greed Index of alternative.me: fetch it, check it, keep one value per day, read it back.

Upstream (keyless; https://alternative.me/crypto/fear-and-greed-index/#api, what is and is not documented
is in ``tests/fixtures/feargreed/README.md``): ``GET /fng/?limit=N&format=json`` answers
``{"name", "data": [{"value": "40", "value_classification": "Fear", "timestamp": "1551157200",
"time_until_update": "68499"}, …], "metadata": {"error": null}}``; ``limit=0`` is the whole history.
A payload is taken whole or not at all: an error envelope, a value that is not an integer of 0..100, a
timestamp that is not Unix seconds between 2009 and tomorrow, or a missing label refuses all of it
(FearGreedError) and nothing is written.

The store is one small JSON file, replaced atomically (temp file, fsync, rename, folder fsync)::

    {"format": 1, "source": "alternative.me", "updated": <Unix s of the last good fetch>,
     "days": [{"date": "YYYY-MM-DD", "ts": <upstream timestamp>, "value": 0..100, "classification": "Fear"}, …]}

oldest first, one entry per UTC day (the upstream's newer value wins a day). Beside it,
``<name>.state.json`` records the last attempt (``attempted``, ``outcome``, ``error_class``, ``error``):
attempts are claimed under the sidecar lock before the request, so cron runs and a loop together still ask
the upstream at most once an hour, failures included. Django-free: the collector passes settings in.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

from .durable import FileLock, StoreError
from .http import Deadline, DeadlineExceeded, FetchError, HttpPolicy, get_json, hard_deadline, make_session
from .records import EARLIEST, MAX_FUTURE
from .redact import redact_url
from .sharedfiles import read_json_object, write_bytes_atomic, write_json_atomic

logger = logging.getLogger(__name__)

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
MAX_LABEL = 40
_DIGITS = re.compile(r"[0-9]{1,12}")
_DATE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


class FearGreedError(Exception):
    """Fetching or storing the index failed; nothing was written. ``str()`` is one log-ready sentence
    (URLs redacted); ``kind`` a short word: upstream-error, bad-payload, bad-value, bad-timestamp,
    bad-label, empty, http-status, timeout, refused, not-json, deadline, store…"""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class Day(TypedDict):
    date: str  # the UTC day of ``ts``, YYYY-MM-DD
    ts: int  # the upstream's timestamp, Unix seconds
    value: int  # 0..100
    classification: str  # the upstream's label, as given


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


# -- the upstream's payload ----------------------------------------------------------------------------


def parse(payload: Any, *, now: float) -> list[Day]:
    """The payload's days, oldest first, one per UTC day (of two, the later timestamp wins).

    Raises FearGreedError naming the first problem; the payload is then refused as a whole.
    """
    if not isinstance(payload, dict):
        raise FearGreedError(f"expected a JSON object, got {type(payload).__name__}", kind="bad-payload")
    metadata = payload.get("metadata")
    error = metadata.get("error") if isinstance(metadata, dict) else None
    if error not in (None, "", False):
        raise FearGreedError(f"upstream error: metadata.error = {str(error)[:200]!r}", kind="upstream-error")
    rows = payload.get("data")
    if not isinstance(rows, list):
        raise FearGreedError(f"'data' is {type(rows).__name__}, expected a list", kind="bad-payload")
    if not rows:
        raise FearGreedError("'data' is empty: no values", kind="empty")
    latest = int(now) + MAX_FUTURE
    by_date: dict[str, Day] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise FearGreedError(f"data[{i}] is {type(row).__name__}, expected an object", kind="bad-payload")
        value = _whole(row.get("value"))
        if value is None or not 0 <= value <= 100:
            raise FearGreedError(
                f"data[{i}].value = {_show(row.get('value'))}: not an integer 0..100", kind="bad-value"
            )
        ts = _whole(row.get("timestamp"))
        if ts is None or not EARLIEST <= ts <= latest:
            raise FearGreedError(
                f"data[{i}].timestamp = {_show(row.get('timestamp'))}: not Unix seconds between 2009 and tomorrow",
                kind="bad-timestamp",
            )
        label = row.get("value_classification")
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL or not label.isprintable():
            raise FearGreedError(
                f"data[{i}].value_classification = {_show(label)}: not a short label", kind="bad-label"
            )
        day = Day(date=day_of(ts), ts=ts, value=value, classification=label.strip())
        if day["date"] not in by_date or by_date[day["date"]]["ts"] < ts:
            by_date[day["date"]] = day
    return [by_date[d] for d in sorted(by_date)]


def _whole(raw: Any) -> int | None:
    """A JSON integer or a string of digits (the documented form); None for anything else."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _DIGITS.fullmatch(raw):
        return int(raw)
    return None


def _show(raw: Any) -> str:
    return repr(raw)[:40]


def day_of(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


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


def should_fetch(state_path: Path, now: float, *, every: int = FETCH_EVERY) -> bool:
    """True when no attempt is recorded in ``state_path``, the last one is ``every`` seconds old or
    more, or it is dated over a minute after ``now`` (the clock went back: do not wait for it)."""
    attempted = read_json_object(state_path).get("attempted")
    if not isinstance(attempted, int) or isinstance(attempted, bool):
        return True
    return not (now - every < attempted <= now + 60)


def state_path(path: Path) -> Path:
    return path.with_name(path.stem + ".state.json")


def refresh(path: Path, url: str, policy: HttpPolicy, *, now: float | None = None) -> Refreshed:
    """Fetch and merge the index if it is due, within what is left of the current minute.

    1. Too little of the minute left: ``deferred``, nothing claimed, nothing asked.
    2. Under the sidecar lock: not due (an attempt less than FETCH_EVERY ago): ``not-due``; else claim
       this attempt in the state file.
    3. Ask for everything (nothing stored) or the last few days, check the payload.
    4. Under the lock again: merge with what is stored now and replace the file.

    Raises FearGreedError (the file is then as it was; the state file records the failure).
    """
    started = time.monotonic()
    now = time.time() if now is None else now
    budget = minute_budget(now)
    if budget < MIN_BUDGET:
        return Refreshed("deferred", budget=budget)
    state = state_path(path)
    try:
        with _lock(path):
            if not should_fetch(state, now):
                return Refreshed("not-due")
            _write_state(state, now, "started", strict=True)
    except (StoreError, OSError) as e:
        raise FearGreedError(f"claiming the hourly fetch in {state}: {e}", kind="store") from e
    try:
        limit = fetch_limit(read(path), now)
        left = max(0.2, budget - (time.monotonic() - started))
        days = fetch(url, policy, limit=limit, now=now, budget=left)
        with _lock(path):
            stored = read(path)
            old = stored.days if stored else ()
            merged = merge(old, days)
            write(path, merged, int(now))
    except FearGreedError as e:
        _write_state(state, now, "error", e)
        raise
    except (StoreError, OSError) as e:
        error = FearGreedError(f"writing {path}: {e}", kind="store")
        _write_state(state, now, "error", error)
        raise error from e
    _write_state(state, now, "ok")
    return Refreshed("fetched", limit, len(days), len(merged) - len(old), len(merged))


def _lock(path: Path) -> FileLock:
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path.with_name(path.name + ".lock"), 2.0)


def _write_state(
    state: Path, now: float, outcome: str, error: FearGreedError | None = None, *, strict: bool = False
) -> None:
    """Record the attempt. Only the claim is ``strict`` (raises OSError): without it recorded, every
    minute would ask again. Later writes log a failure and go on: the data file is what matters."""
    body = {
        "attempted": int(now),
        "outcome": outcome,
        "error_class": error.kind if error else None,
        "error": str(error) if error else None,
    }
    try:
        write_json_atomic(state, body)
    except OSError as e:
        if strict:
            raise
        logger.warning("could not write %s: %s", state, e)


def write(path: Path, days: list[Day], updated: int) -> None:
    """Replace ``path`` with ``days`` (oldest first, one per day) fetched at ``updated``: atomically and
    durably (raises OSError). Call under the sidecar lock when other writers may run (``refresh`` does)."""
    body = {"format": 1, "source": "alternative.me", "updated": updated, "days": days}
    write_bytes_atomic(path, (json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n").encode())


# -- reading ---------------------------------------------------------------------------------------------

#: path -> ((inode, size, mtime_ns), Stored): web workers parse the file again only when it was replaced.
_cache: dict[str, tuple[tuple[int, int, int], Stored | None]] = {}


def read(path: Path) -> Stored | None:
    """The stored days, or None when there is no file or no valid day in it. Never raises on bad data:
    entries of the wrong shape are left out (and logged once per version of the file)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    cached = _cache.get(str(path))
    if cached is not None and cached[0] == key:
        return cached[1]
    raw = read_json_object(path)
    entries = raw.get("days") if isinstance(raw.get("days"), list) else []
    by_date = {d["date"]: d for d in entries if _valid_day(d)}
    if not entries and st.st_size:
        logger.warning("%s holds no list of days: not a file this module wrote; ignored", path)
    elif len(by_date) < len(entries):
        logger.warning("%s: left out %d malformed or repeated entries", path, len(entries) - len(by_date))
    updated = raw.get("updated")
    result = None
    if by_date:
        result = Stored(
            updated=updated if isinstance(updated, int) and not isinstance(updated, bool) else 0,
            days=tuple(by_date[d] for d in sorted(by_date)),
        )
    _cache[str(path)] = (key, result)
    return result


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


def has_data(path: Path) -> bool:
    """Whether ``path`` holds at least one valid day: one ``stat`` while the file is unchanged."""
    return read(path) is not None


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
