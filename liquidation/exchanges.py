"""The keyless ``exchanges`` source: the per-minute record from the exchanges' own public data.

Each collection does the I/O, venue by venue from the registry (``liquidation/venues/``):

1. polls the venues that publish a liquidation history over REST into the event store that
   ``stream_liquidations`` fills from the streamed venues' websockets;
2. reads the listener's ``status.json`` to see which streamed venues are live;
3. asks every venue that publishes one for its open interest; a venue that fails is left out of the
   total and named in ``coverage.oi_missing``;

then folds the newly stored events into the minute buckets (``bucketstore``), sums the buckets of the
trailing 1 h and 24 h per venue and side (cached hour totals: the cost does not grow with the number of
events), and hands that with what it gathered to ``summary.summarize``, a pure function that applies the
plausibility guards and makes the record.

The totals are a **lower bound**: some venues publish at most one liquidation per symbol per interval
(each venue's ``throttle`` says so) and venues without a public feed are not counted at all.
``coverage`` says which venues contributed and since when each has been complete.

Django-free; ``conf.configured_source`` builds it from settings.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import requests

from . import venues as registry
from .bucketread import reader_for
from .bucketstore import BucketStore
from .durable import StoreError
from .events import MAX_FUTURE_MS
from .eventstore import EventStore
from .guards import MAX_ORDER_USD, Suspect, implausible_skips
from .http import Deadline, HttpPolicy, public_error
from .sharedfiles import read_stream_status
from .sources import Reading, SourceError
from .statestore import FileStateStore, StateStore
from .summary import Gathered, aggregate, summarize, sums_of
from .venues.base import POLL_OVERLAP_MS

logger = logging.getLogger(__name__)

STATUS_MAX_AGE = 30  # seconds: an older status.json means the listener is not running
POLLERS = "pollers"  # the state of the polled venues' cursors, the open interest of last minute, skip counts

__all__ = ["STATUS_MAX_AGE", "ExchangesSource", "aggregate"]


class ExchangesSource:
    name = "exchanges"

    def __init__(
        self,
        events_dir: str | Path,
        venues: Iterable[str] | None = None,
        urls: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        pace: float | None = None,
        state: StateStore | None = None,
        events: Any = None,
        buckets: Any = None,
    ) -> None:
        """``venues``: names from the registry (default all); ``urls``: ``EXCHANGE_<NAME>_<KIND>_URL``
        overrides (settings' ``EXCHANGE_URLS``) or ``<kind>`` → URL for every venue (tests);
        ``pace``: seconds between a paged poll's calls (None: each venue's documented pace); ``state``:
        the shared state (the listener's status ``streams``, the poll cursors and open-interest cache
        ``pollers``, the venues' caches; default: JSON files in ``events_dir``); ``events`` and ``buckets``:
        a database's event and bucket stores (default: the day files in ``events_dir``)."""
        self.events_dir = Path(events_dir)
        self.state = state or FileStateStore({"streams": self.events_dir / "status.json"}, folder=self.events_dir)
        self.clock = clock
        self.venues = registry.build(venues, urls=urls, state=self.state, clock=clock, pace=pace)
        self.events = events
        self.buckets = buckets or BucketStore(self.events_dir / "buckets")

    def describe(self) -> str:
        return f"exchanges ({', '.join(v.name for v in self.venues)})"

    def fetch(self, session: requests.Session, policy: HttpPolicy, deadline: Deadline) -> Reading:
        now = self.clock()
        now_ms = int(now * 1000)
        state = self.state.read(POLLERS)
        store = self._event_store(state, now)
        g = Gathered(now=now, liquidation_venues=[v.name for v in self.venues if v.streamed or v.polled])
        g.previous_oi = state.get("oi_usd") if isinstance(state.get("oi_usd"), dict) else {}

        for venue in (v for v in self.venues if v.polled):
            try:
                skipped: Counter[str] = Counter()
                previous = state.get(venue.name) if isinstance(state.get(venue.name), dict) else {}
                events, since_ms, last_ms = venue.poll(session, policy, deadline, previous, now_ms, skipped)
                if skipped:
                    g.skipped[venue.name] = dict(skipped)
                    logger.info("exchanges: %s rows skipped this minute: %s", venue.name, dict(skipped))
                if skipped.get("implausible"):
                    g.suspect[venue.name] = (
                        f"{skipped['implausible']} liquidation(s) over {MAX_ORDER_USD:,.0f} USD skipped"
                    )
                store.append(events)
                state[venue.name] = {"since_ms": since_ms, "last_ms": last_ms}
                g.live[venue.name] = since_ms // 1000
            except Exception as e:  # an unexpected answer marks this venue missing, nothing more
                g.missing[venue.name] = public_error(e)
                logger.warning("exchanges: %s liquidations missing this minute: %s", venue.name, e)

        streams = read_stream_status(self.state)
        listened = streams["venues"]
        fresh = now - streams["updated"] <= STATUS_MAX_AGE
        streamed = [v.name for v in self.venues if v.streamed]
        grew, state["implausible"] = implausible_skips(
            {n: i for n, i in listened.items() if n in streamed}, state.get("implausible") or {}
        )
        g.suspect.update(grew)
        for name in streamed:
            info = listened.get(name)
            if fresh and info and info["connected"] and info["connected_since"]:
                g.live[name] = info["connected_since"]
            else:
                why = (
                    "listener not running"
                    if not fresh
                    else public_error((info or {}).get("last_error") or "not connected")
                )
                g.missing[name] = why

        if not g.live:
            missing = "; ".join(f"{k}: {v}" for k, v in g.missing.items())
            raise SourceError(
                "no exchange reachable: start `manage.py stream_liquidations` and check internet access to the "
                f"exchanges' APIs; {missing}"[:600],
                kind="no-exchange-reachable",
            )
        try:
            folded = self.buckets.fold(store, g.live, now)
        except StoreError as e:
            raise SourceError(f"the minute buckets could not be written: {e}", kind="store") from e
        logger.debug("exchanges: fold %d read %d events into %d minutes", folded.seq, folded.events, folded.minutes)

        for venue in (v for v in self.venues if v.has_open_interest):
            try:
                by_symbol = venue.open_interest_by_symbol(session, policy, deadline)
                g.oi_usd[venue.name] = venue.total_open_interest(by_symbol)
                g.marks[venue.name] = {s: oi.price for s, oi in by_symbol.items() if oi.price}
            except Suspect as e:
                g.suspect[venue.name] = str(e)
            except Exception as e:  # an unexpected answer leaves this venue out of the total
                g.oi_missing[venue.name] = public_error(e)
                logger.warning("exchanges: %s open interest missing this minute: %s", venue.name, e)
        state["oi_usd"] = g.oi_usd
        self._save_state(state)

        reader = reader_for(self.buckets)
        now_m = int(now) // 60 * 60
        sums = sums_of(reader.total("venues", now_m - 3540, now_m), reader.total("venues", now_m - 86340, now_m))
        try:
            values, extra = summarize(sums, g)
        except ValueError:
            missing = "; ".join(f"{k}: {v}" for k, v in {**g.oi_missing, **g.suspect}.items())
            raise SourceError(f"no open interest from any exchange: {missing}"[:600], kind="no-open-interest") from None
        for venue, why in extra["coverage"]["suspect"].items():
            logger.warning("exchanges: %s left out of this minute's totals: %s", venue, why)
        return Reading(values=values, source=self.name, source_time=int(now), extra=extra)

    def _event_store(self, state: Mapping[str, Any], now: float) -> Any:
        """The database's event store (it de-duplicates by itself), else the file event store, knowing the
        keys of the stored events a poll may fetch again (so they are not
        stored twice): those appended since the fold that ran before the oldest poll window began (read
        from the fold's cursor: minutes of appends). A venue with no poll state yet (a 24 h backfill), or no
        fold that old, makes it load the last 25 h of keys instead, as on a first start."""
        if self.events is not None:
            return self.events
        starts = []
        for venue in (v for v in self.venues if v.polled):
            last_ms = (state.get(venue.name) or {}).get("last_ms") if isinstance(state.get(venue.name), dict) else None
            if not isinstance(last_ms, int) or last_ms < (now - 23 * 3600) * 1000:
                return EventStore(self.events_dir)
            starts.append(last_ms // 1000 - POLL_OVERLAP_MS // 1000)
        store = EventStore(self.events_dir, load_keys=False)
        if starts:
            recent = self.buckets.stored_since(store, min(starts) - 2 * MAX_FUTURE_MS // 1000)
            if recent is None:
                return EventStore(self.events_dir)
            store.remember(recent)
        return store

    def _save_state(self, state: dict) -> None:
        try:
            self.state.write(POLLERS, state)
        except (OSError, StoreError) as e:
            logger.warning("exchanges: could not save the poll state: %s", e)
