"""The websocket listener behind ``manage.py stream_liquidations``.

One asyncio task per connection of each streamed venue's ``plan()`` (``liquidation/venues/``), each
reconnecting on its own with jittered exponential back-off. A connection is also recycled before
``max_age`` (some venues cut connections after 24 hours) and whenever no data frame has arrived for
``silence`` seconds on a connection without an application ping (a venue may accept a connection and
then send nothing, so silence is a failure, not a quiet market); on a connection with a ping, its
pongs keep it alive.

Events go to an in-memory batch that a flusher writes to the EventStore every ``flush_interval``
(250 ms): one write and one fsync per batch. A status file (``status.json`` beside the events,
replaced atomically every ``status_interval`` seconds) says, per exchange, whether it is connected
and since when, the newest event's time, how many events were stored, frames skipped by reason and
reconnects. ``events_stored`` only counts what is on disk.

What to connect to and how to read each frame comes from each venue's ``plan()`` (``liquidation/venues/``);
instrument lists it needs come from the exchanges' public REST APIs and are refreshed every
``refresh_interval`` (an hour).

Django-free: the command builds the venues from settings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import connect

from . import venues as registry
from .durable import StoreError
from .events import MAX_AGE_MS
from .eventstore import EventStore
from .http import public_error, redact_text
from .statestore import StateStore, as_state
from .streamdefaults import STREAM_MAX_AGE, STREAM_SILENCE
from .venues.base import ConnSpec, Venue

logger = logging.getLogger(__name__)

#: The venues with a liquidation stream, from the registry.
EXCHANGES = tuple(v.name for v in registry.VENUES if v.streamed)


@dataclass
class VenueStatus:
    connections: dict[str, float | None] = field(default_factory=dict)  # name -> connected since (None: down)
    last_event_ms: int | None = None
    events_stored: int = 0
    duplicates: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        up = [since for since in self.connections.values() if since is not None]
        return {
            "connected": bool(up) and len(up) == len(self.connections),
            "connections_up": len(up),
            "connections": len(self.connections),
            "connected_since": int(max(up)) if up and len(up) == len(self.connections) else None,
            "last_event_ms": self.last_event_ms,
            "events_stored": self.events_stored,
            "duplicates": self.duplicates,
            "skipped": dict(self.skipped),
            "reconnects": self.reconnects,
            "last_error": self.last_error,
        }


class _Recycle(Exception):
    pass


class Listener:
    def __init__(
        self,
        store: EventStore,
        venues: list[Venue],
        status: StateStore | str | os.PathLike[str],
        *,
        flush_interval: float = 0.25,
        status_interval: float = 2.0,
        silence: float = STREAM_SILENCE,
        max_age: float = STREAM_MAX_AGE,
        refresh_interval: float = 3600.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self.store = store
        self.venues = venues
        self.state = as_state(status, "streams")  # a state store, or the status.json path
        self.flush_interval = flush_interval
        self.status_interval = status_interval
        self.silence = silence
        self.max_age = max_age
        self.refresh_interval = refresh_interval
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.status = {v.exchange: VenueStatus() for v in venues}
        self._pending: list[dict[str, Any]] = []
        self._started = time.time()
        self._forgot_at = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until ``stop`` is set, then flush what is held, write the status and return."""
        supervisors = [asyncio.create_task(self._supervise(v, stop), name=f"venue-{v.exchange}") for v in self.venues]
        flusher = asyncio.create_task(self._flush_loop(stop), name="flusher")
        reporter = asyncio.create_task(self._status_loop(stop), name="status")
        await stop.wait()
        for task in supervisors:
            task.cancel()
        await asyncio.gather(*supervisors, return_exceptions=True)
        await flusher
        reporter.cancel()
        await asyncio.gather(reporter, return_exceptions=True)
        await self.write_status_soon()
        logger.info("listener stopped: %s", {k: v.events_stored for k, v in self.status.items()})

    # -- venues and connections ---------------------------------------------------------------

    async def _supervise(self, venue: Venue, stop: asyncio.Event) -> None:
        """Plan the venue's connections, run them, and re-plan every ``refresh_interval``: metadata a
        parser reads is updated in place by the venue; a changed list of connections restarts them."""
        status = self.status[venue.exchange]
        attempt = 0
        while not stop.is_set():
            try:
                specs = await asyncio.to_thread(venue.plan)
            except Exception as e:  # an unexpected answer must not end this venue for good
                status.last_error = f"listing instruments: {public_error(e)}"
                logger.warning("%s: cannot list instruments: %s", venue.exchange, redact_text(str(e)))
                attempt += 1
                await _sleep_or_stop(stop, self._backoff(attempt))
                continue
            attempt = 0
            status.connections = {spec.name: None for spec in specs}
            tasks = [asyncio.create_task(self._connection(spec, status, stop)) for spec in specs]
            try:
                while not await _sleep_or_stop(stop, self.refresh_interval):
                    try:
                        fresh = await asyncio.to_thread(venue.plan)
                    except Exception as e:
                        status.last_error = f"refreshing instruments: {public_error(e)}"
                        continue
                    if [s.subscribe for s in fresh] != [s.subscribe for s in specs]:
                        logger.info("%s: instrument list changed; resubscribing", venue.exchange)
                        break
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _connection(self, spec: ConnSpec, status: VenueStatus, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        attempt = 0
        recycle_since = False
        kept_since: float | None = None
        while not stop.is_set():
            recycle = False
            try:
                async with connect(spec.url, open_timeout=10, close_timeout=2, max_size=2**22) as ws:
                    for message in spec.subscribe:
                        await ws.send(message)
                    # A planned recycle (age limit) keeps the connection's "since": the feed was
                    # followed throughout, but for the second it took to reconnect.
                    status.connections[spec.name] = kept_since if recycle_since else time.time()
                    logger.info("%s: connected to %s", spec.name, spec.url)
                    pinger = asyncio.create_task(self._pinger(ws, spec)) if spec.ping_text else None
                    opened = last_data = loop.time()
                    try:
                        while True:
                            now = loop.time()
                            if now - opened >= self.max_age:
                                raise _Recycle("connection age limit")
                            if now - last_data >= self.silence:
                                raise TimeoutError(f"no data for {self.silence:g} s")
                            wait = min(self.silence - (now - last_data), self.max_age - (now - opened))
                            try:
                                frame = await asyncio.wait_for(ws.recv(), timeout=max(0.01, wait))
                            except TimeoutError:
                                continue
                            parsed = spec.parse(frame)
                            # Without an application ping only data proves a feed alive (a venue may
                            # accept and then say nothing); with one, its answers count too.
                            if not parsed.control or spec.ping_text is not None:
                                last_data = loop.time()
                            if not parsed.control:
                                attempt = 0
                            if parsed.events:
                                self._pending.extend(parsed.events)
                            if parsed.skipped:
                                status.skipped.update(parsed.skipped)
                            if parsed.error:
                                status.last_error = public_error(parsed.error)
                                logger.warning("%s: upstream error: %s", spec.name, parsed.error)
                    finally:
                        if pinger is not None:
                            pinger.cancel()
            except asyncio.CancelledError:
                status.connections[spec.name] = None
                raise
            except _Recycle as e:
                recycle = True
                kept_since = status.connections.get(spec.name)
                logger.info("%s: reconnecting (%s)", spec.name, e)
            except Exception as e:  # connection refused, handshake failure, closed, silence, bad URL
                status.last_error = f"{spec.name}: {public_error(e)}"
                logger.warning("%s: %s: %s", spec.name, e.__class__.__name__, redact_text(str(e)))
            recycle_since = recycle and kept_since is not None
            status.connections[spec.name] = kept_since if recycle_since else None
            if stop.is_set():
                break
            status.reconnects += 1
            attempt += 0 if recycle else 1
            await _sleep_or_stop(stop, 0 if recycle else self._backoff(attempt))

    async def _pinger(self, ws: Any, spec: ConnSpec) -> None:
        while True:
            await asyncio.sleep(spec.ping_every)
            await ws.send(spec.ping_text)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** max(0, attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not cryptography)

    # -- storing and reporting ---------------------------------------------------------------

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        while True:
            stopping = await _sleep_or_stop(stop, self.flush_interval)
            await self.flush()
            if stopping and not self._pending:
                return
            if stopping:
                await asyncio.sleep(0.05)  # a failed final flush: try again shortly

    async def flush(self) -> int:
        """Write the held events (one batch); returns how many were new. Failed batches are kept."""
        if not self._pending:
            return 0
        batch, self._pending = self._pending, []
        try:
            written = await asyncio.to_thread(self.store.append, batch)
        except Exception as e:  # a disk error must not end the flusher: keep the batch, try again
            logger.error("storing %d events failed (%s); keeping them for the next flush", len(batch), e)
            self._pending = batch + self._pending
            return 0
        if time.monotonic() - self._forgot_at > 600:  # keys older than any accepted event: let them go
            self._forgot_at = time.monotonic()
            self.store.forget_before(int(time.time() * 1000) - MAX_AGE_MS)
        counts = Counter(e["exchange"] for e in written)
        for exchange, n in Counter(e["exchange"] for e in batch).items():
            status = self.status.setdefault(exchange, VenueStatus())
            status.events_stored += counts.get(exchange, 0)
            status.duplicates += n - counts.get(exchange, 0)
        for event in written:
            status = self.status[event["exchange"]]
            if status.last_event_ms is None or event["ts_ms"] > status.last_event_ms:
                status.last_event_ms = event["ts_ms"]
        return len(written)

    async def _status_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.write_status_soon()
            await _sleep_or_stop(stop, self.status_interval)

    def _status_body(self) -> dict[str, Any]:
        return {
            "updated": int(time.time()),
            "started": int(self._started),
            "pid": os.getpid(),
            "venues": {name: status.as_dict() for name, status in self.status.items()},
        }

    async def write_status_soon(self) -> None:
        """``write_status`` from the event loop: the status is read in the loop (which changes it), written
        in a thread, as the flusher's appends are (the state may be a database: blocking I/O)."""
        await asyncio.to_thread(self._write_status, self._status_body())

    def write_status(self) -> None:
        """Replace the status atomically (a failure is logged, never raised)."""
        self._write_status(self._status_body())

    def _write_status(self, body: dict[str, Any]) -> None:
        try:
            self.state.write("streams", body)
        except (OSError, StoreError) as e:
            logger.warning("cannot write the listener status: %s", e)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` or until ``stop``; True when stopping."""
    if stop.is_set():
        return True
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        return False
    return True
