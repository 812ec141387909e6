"""The websocket listener behind ``manage.py stream_liquidations``.

One asyncio task per connection (Binance's all-market stream; Bybit's linear and inverse streams,
split so no connection subscribes more than its documented 21,000 characters of topics; OKX's public
stream for SWAP and FUTURES), each reconnecting on its own with jittered exponential back-off. A
connection is also recycled before Binance's 24-hour cut and whenever no data frame (pings and pongs
do not count) has arrived for ``silence`` seconds: Binance's old path accepts a connection and then
sends nothing, so silence is a failure, not a quiet market.

Events go to an in-memory batch that a flusher writes to the EventStore every ``flush_interval``
(250 ms): one write and one fsync per batch. A status file (``status.json`` beside the events,
replaced atomically every ``status_interval`` seconds) says, per exchange, whether it is connected
and since when, the newest event's time, how many events were stored, frames skipped by reason and
reconnects. ``events_stored`` only counts what is on disk.

Instrument lists (Bybit symbols, OKX contract values) come from the exchanges' public REST APIs via
``http.py`` and are refreshed every ``refresh_interval`` (an hour).

Django-free: the command builds the venues from settings.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from .events import (
    MAX_AGE_MS,
    BinanceContract,
    Contract,
    Parsed,
    parse_binance,
    parse_binance_contracts,
    parse_bybit,
    parse_okx,
    parse_okx_instruments,
)
from .eventstore import EventStore
from .http import Deadline, FetchError, HttpPolicy, get_json, make_session, public_error, redact_text

logger = logging.getLogger(__name__)

EXCHANGES = ("binance", "bybit", "okx")
BYBIT_MAX_ARGS_CHARS = 20000  # documented limit 21,000 per connection; keep a margin
BYBIT_ARGS_PER_MESSAGE = 50


@dataclass
class ConnSpec:
    """One websocket connection: where, what to send after connecting, how to read its frames."""

    name: str
    url: str
    subscribe: list[str]
    parse: Callable[[str | bytes], Parsed]
    ping_text: str | None = None
    ping_every: float = 20.0


class Venue:
    """An exchange: ``plan()`` returns its connections (it may call the exchange's REST API)."""

    exchange: str = ""

    def plan(self) -> list[ConnSpec]:
        raise NotImplementedError


class BinanceVenue(Venue):
    """The all-market ``!forceOrder@arr`` stream. With REST bases, ``plan()`` also loads the contract
    metadata of both exchangeInfo lists (USDⓈ-M and coin-margined), so a frame without ``st`` is still
    read right and coin-margined contracts count at their ``contractSize``. A list that cannot be
    loaded keeps the previous one (frames then rely on ``st``; the rest is skipped by name)."""

    exchange = "binance"

    def __init__(
        self,
        ws_base: str,
        rest_base: str | None = None,
        coinm_base: str | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.ws_base = ws_base.rstrip("/")
        self.rest_base, self.coinm_base = rest_base, coinm_base
        self.policy = policy or HttpPolicy()
        self.contracts: dict[str, BinanceContract] = {}

    def _info(self, base: str | None, path: str) -> Any:
        if not base:
            return None
        session = make_session(self.policy)
        try:
            _, body = get_json(session, f"{base.rstrip('/')}{path}", self.policy, Deadline(self.policy.deadline))
            return body
        except FetchError as e:
            logger.warning("binance: contract list %s not loaded: %s", path, e)
            return None
        finally:
            session.close()

    def plan(self) -> list[ConnSpec]:
        fresh = parse_binance_contracts(
            self._info(self.rest_base, "/fapi/v1/exchangeInfo"), self._info(self.coinm_base, "/dapi/v1/exchangeInfo")
        )
        if fresh:
            self.contracts.clear()  # in place: the parser of a running connection sees the update
            self.contracts.update(fresh)
        # The market route: the unrouted /stream path accepts the connection but never delivers.
        url = f"{self.ws_base}/market/stream?streams=!forceOrder@arr"
        return [ConnSpec("binance", url, [], lambda frame: parse_binance(frame, contracts=self.contracts))]


class BybitVenue(Venue):
    exchange = "bybit"

    def __init__(self, ws_base: str, rest_base: str, policy: HttpPolicy, *, ping_every: float = 20.0) -> None:
        self.ws_base, self.rest_base, self.policy = ws_base.rstrip("/"), rest_base.rstrip("/"), policy
        self.ping_every = ping_every  # Bybit: {"op": "ping"} every 20 s

    def symbols(self, category: str) -> list[str]:
        """Every trading symbol of ``category`` (linear | inverse), following the cursor pages."""
        session = make_session(self.policy)
        symbols: list[str] = []
        cursor = ""
        try:
            for _ in range(50):
                params = {"category": category, "limit": "1000"}
                if cursor:
                    params["cursor"] = cursor
                deadline = Deadline(self.policy.deadline)
                _, body = get_json(
                    session, f"{self.rest_base}/v5/market/instruments-info", self.policy, deadline, params=params
                )
                if not isinstance(body, dict) or body.get("retCode") != 0:
                    raise FetchError(self.rest_base, f"Bybit instruments-info error: {str(body)[:200]}")
                result = body.get("result") or {}
                for item in result.get("list") or []:
                    if isinstance(item, dict) and item.get("status") == "Trading" and item.get("symbol"):
                        symbols.append(str(item["symbol"]))
                cursor = str(result.get("nextPageCursor") or "")
                if not cursor:
                    break
        finally:
            session.close()
        return sorted(set(symbols))

    def plan(self) -> list[ConnSpec]:
        specs = []
        for category in ("linear", "inverse"):
            topics = [f"allLiquidation.{s}" for s in self.symbols(category)]
            for n, chunk in enumerate(_chunk_by_chars(topics, BYBIT_MAX_ARGS_CHARS)):
                messages = [
                    json.dumps({"op": "subscribe", "args": chunk[i : i + BYBIT_ARGS_PER_MESSAGE]})
                    for i in range(0, len(chunk), BYBIT_ARGS_PER_MESSAGE)
                ]
                inverse = category == "inverse"
                specs.append(
                    ConnSpec(
                        f"bybit-{category}-{n}",
                        f"{self.ws_base}/v5/public/{category}",
                        messages,
                        lambda frame, inverse=inverse: parse_bybit(frame, inverse=inverse),
                        ping_text=json.dumps({"op": "ping"}),
                        ping_every=self.ping_every,
                    )
                )
        return specs


class OkxVenue(Venue):
    exchange = "okx"

    def __init__(self, ws_base: str, rest_base: str, policy: HttpPolicy, *, ping_every: float = 25.0) -> None:
        self.ws_base, self.rest_base, self.policy = ws_base.rstrip("/"), rest_base.rstrip("/"), policy
        self.ping_every = ping_every  # OKX drops a connection silent for 30 s: text "ping" before that
        self.contracts: dict[str, Contract] = {}

    def load_contracts(self) -> dict[str, Contract]:
        session = make_session(self.policy)
        contracts: dict[str, Contract] = {}
        try:
            for inst_type in ("SWAP", "FUTURES"):
                deadline = Deadline(self.policy.deadline)
                _, body = get_json(
                    session,
                    f"{self.rest_base}/api/v5/public/instruments",
                    self.policy,
                    deadline,
                    params={"instType": inst_type},
                )
                try:
                    contracts.update(parse_okx_instruments(body))
                except ValueError as e:
                    raise FetchError(self.rest_base, str(e)) from e
        finally:
            session.close()
        return contracts

    def plan(self) -> list[ConnSpec]:
        fresh = self.load_contracts()
        self.contracts.clear()  # in place: the parser of a running connection sees the update
        self.contracts.update(fresh)
        subscribe = json.dumps(
            {
                "op": "subscribe",
                "args": [
                    {"channel": "liquidation-orders", "instType": "SWAP"},
                    {"channel": "liquidation-orders", "instType": "FUTURES"},
                ],
            }
        )
        return [
            ConnSpec(
                "okx",
                f"{self.ws_base}/ws/v5/public",
                [subscribe],
                lambda frame: parse_okx(frame, self.contracts),
                ping_text="ping",
                ping_every=self.ping_every,
            )
        ]


def _chunk_by_chars(topics: list[str], budget: int) -> list[list[str]]:
    chunks: list[list[str]] = []
    current: list[str] = []
    used = 0
    for topic in topics:
        cost = len(topic) + 3  # quotes and comma
        if current and used + cost > budget:
            chunks.append(current)
            current, used = [], 0
        current.append(topic)
        used += cost
    if current:
        chunks.append(current)
    return chunks


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
        status_path: str | os.PathLike[str],
        *,
        flush_interval: float = 0.25,
        status_interval: float = 2.0,
        silence: float = 120.0,
        max_age: float = 23.5 * 3600,
        refresh_interval: float = 3600.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self.store = store
        self.venues = venues
        self.status_path = Path(status_path)
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
        self.write_status()
        logger.info("listener stopped: %s", {k: v.events_stored for k, v in self.status.items()})

    # -- venues and connections ---------------------------------------------------------------

    async def _supervise(self, venue: Venue, stop: asyncio.Event) -> None:
        """Plan the venue's connections, run them, and re-plan every ``refresh_interval``: OKX's
        contract values are updated in place; a changed Bybit symbol list restarts its connections."""
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
                            # Binance has no application ping: only data proves its feed alive (its
                            # old path accepts and then says nothing). Bybit and OKX answer our pings.
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
            self.write_status()
            await _sleep_or_stop(stop, self.status_interval)

    def write_status(self) -> None:
        """Replace the status file atomically (a failure is logged, never raised)."""
        body = {
            "updated": int(time.time()),
            "started": int(self._started),
            "pid": os.getpid(),
            "venues": {name: status.as_dict() for name, status in self.status.items()},
        }
        try:
            self.status_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix="status.", suffix=".tmp", dir=self.status_path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(body, f, indent=1)
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.status_path)
        except OSError as e:
            logger.warning("cannot write %s: %s", self.status_path, e)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` or until ``stop``; True when stopping."""
    if stop.is_set():
        return True
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        return False
    return True
