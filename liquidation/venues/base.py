"""What a venue may provide, and the few things every venue module shares.

A venue is one module in this package with one ``Venue`` subclass. It says what it publishes:

- ``streamed``: a websocket feed of liquidations (``plan()`` returns its connections, each with a frame
  parser), listened to by ``stream_liquidations``;
- ``polled``: a REST history of liquidations (``poll()``), read by each minute's collection;
- ``open_interest()``: the venue's total open interest in USD, if it publishes one without a key;
- ``endpoints``: its base URLs by kind (``rest``, ``ws``…) with their defaults; a deployment or a test
  overrides one with ``EXCHANGE_<NAME>_<KIND>_URL`` (settings reads every such variable generically);
- the facts the ``/methodology`` page states about it (``liquidation/methodology.py`` assembles the page
  from them, so the page cannot drift from the code): ``publishes`` (what its feed holds), ``throttle``
  (why a total built on it is a floor; None when the feed carries every liquidation), ``side_rule``,
  ``usd_rule`` and ``oi_rule`` (how the side, the USD amount and the open interest are read),
  ``caveats`` and ``doc_urls``. Each is a ``Fact`` in both languages with its ``evidence``.

Django-free.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import requests

from ..events import Parsed
from ..guards import symbol_oi
from ..http import Deadline, HttpPolicy
from ..records import RecordError, parse_number
from ..statestore import FileStateStore, StateStore


@dataclass
class ConnSpec:
    """One websocket connection: where, what to send after connecting, how to read its frames."""

    name: str
    url: str
    subscribe: list[str]
    parse: Callable[[str | bytes], Parsed]
    ping_text: str | None = None
    ping_every: float = 20.0


@dataclass(frozen=True)
class OpenInterest:
    """One contract's open interest in USD and the price (mark) it was valued at, when the venue gives one."""

    usd: float
    price: float | None = None


class VenueError(Exception):
    """One venue failed for this minute; the message says how."""


#: How sure a stated fact is: the venue's own documentation (or its official SDK) says it; real captured
#: payloads show it; only third-party consumers of the feed say it; or no source does and the code
#: assumes it. The first two are "verified", the last two "inferred".
DOCUMENTED, OBSERVED, THIRD_PARTY, ASSUMED = "documented", "observed", "third-party", "assumed"
EVIDENCE = (DOCUMENTED, OBSERVED, THIRD_PARTY, ASSUMED)
VERIFIED = frozenset({DOCUMENTED, OBSERVED})


@dataclass(frozen=True)
class Fact:
    """One thing the methodology page states about a venue, in English and Chinese, and how sure it is
    (``evidence``, one of ``EVIDENCE``; see ``exchange-apis.md`` and the venue audit for the sources)."""

    en: str
    zh: str
    evidence: str = DOCUMENTED

    def __post_init__(self) -> None:
        if self.evidence not in EVIDENCE:
            raise ValueError(f"evidence must be one of {EVIDENCE}, not {self.evidence!r}")
        if not self.en.strip() or not self.zh.strip():
            raise ValueError("a fact needs both its English and its Chinese text")

    @property
    def verified(self) -> bool:
        return self.evidence in VERIFIED


HOUR_MS, DAY_MS = 3_600_000, 86_400_000
#: Polled venues re-read the last ten minutes at every poll (de-duplicated by the event store): a row
#: published up to ten minutes after its liquidation still counts; a later one is missed.
POLL_OVERLAP_MS = 600_000

#: (events, complete since in ms, polled up to in ms) — what ``Venue.poll`` returns.
PollResult = tuple[list[dict[str, Any]], int, int]


class Venue:
    """One exchange. Subclasses set the class attributes and implement what they provide."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""  # as people write it: "Binance", "OKX"
    endpoints: ClassVar[dict[str, str]] = {}
    streamed: ClassVar[bool] = False
    polled: ClassVar[bool] = False
    has_open_interest: ClassVar[bool] = False
    # Methodology facts (see the module docstring); every registered venue declares its own.
    publishes: ClassVar[Fact | str] = ""
    throttle: ClassVar[Fact | None] = None  # a feed that drops liquidations: its totals are a floor
    side_rule: ClassVar[Fact | None] = None  # venues with a liquidation feed
    usd_rule: ClassVar[Fact | None] = None  # venues with a liquidation feed
    oi_rule: ClassVar[Fact | None] = None  # venues with open interest
    caveats: ClassVar[tuple[Fact, ...]] = ()
    doc_urls: ClassVar[dict[str, str]] = {}  # "liquidations" / "open_interest" → the venue's own doc page
    #: ``check_sources`` prints amount × price of the rows it sees (a unit not settled by documentation).
    show_units: ClassVar[bool] = False

    def __init__(
        self,
        urls: Mapping[str, str] | None = None,
        policy: HttpPolicy | None = None,
        *,
        state_dir: Path | None = None,
        state: StateStore | None = None,
        clock: Callable[[], float] = time.time,
        pace: float | None = None,
    ) -> None:
        """``urls``: ``EXCHANGE_<NAME>_<KIND>_URL`` → URL (settings' ``EXCHANGE_URLS``), or ``<kind>`` → URL;
        ``state``: where the venue may keep a cache between minutes (``state_dir``: JSON files in that folder);
        ``pace``: seconds between calls of a paged poll (None: the venue's documented pace)."""
        self.urls = dict(urls or {})
        self.policy = policy or HttpPolicy()
        self.state = state or FileStateStore({}, folder=state_dir or Path("."))
        self.clock = clock
        self.pace = pace

    @property
    def exchange(self) -> str:
        return self.name

    def url(self, kind: str) -> str:
        """The base URL of ``kind`` (no trailing slash): the override when there is one, else the default."""
        key = f"EXCHANGE_{self.name.upper()}_{kind.upper()}_URL"
        return str(self.urls.get(key) or self.urls.get(kind) or self.endpoints[kind]).rstrip("/")

    def plan(self) -> list[ConnSpec]:
        raise NotImplementedError(f"{self.name} publishes no liquidation stream")

    def poll(
        self,
        session: requests.Session,
        policy: HttpPolicy,
        deadline: Deadline,
        state: dict[str, Any],
        now_ms: int,
        skipped: Counter[str],
    ) -> PollResult:
        raise NotImplementedError(f"{self.name} publishes no liquidation history")

    def cross_check(
        self, session: requests.Session, policy: HttpPolicy, deadline: Deadline, events: list[dict[str, Any]]
    ) -> list[str]:
        """Lines comparing two independent figures the venue publishes for one thing (``check_sources``)."""
        return []

    def open_interest_by_symbol(
        self, session: requests.Session, policy: HttpPolicy, deadline: Deadline
    ) -> dict[str, OpenInterest]:
        """symbol → (open interest in USD, the price it was valued at) for every contract counted."""
        raise NotImplementedError(f"{self.name} publishes no open interest")

    def total_open_interest(self, by_symbol: Mapping[str, OpenInterest]) -> float:
        """The venue's open interest in USD from ``open_interest_by_symbol``; ``guards.Suspect`` when one
        symbol's is implausible."""
        return sum(symbol_oi(self.name, s, oi.usd) for s, oi in by_symbol.items())


def num(value: Any, name: str) -> float:
    """A strict non-negative number from a venue's answer, or VenueError naming the field."""
    try:
        return parse_number(value, name)
    except RecordError as e:
        raise VenueError(str(e)) from None


def signed(value: Any, name: str) -> float:
    """A strict number that may be negative (Gate's sizes carry the side in their sign)."""
    if isinstance(value, str) and value.startswith("-"):
        return -num(value[1:], name)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return -num(-value, name)
    return num(value, name)


def chunk_by_chars(items: list[str], budget: int) -> list[list[str]]:
    """``items`` in runs whose JSON-quoted lengths stay within ``budget`` characters."""
    chunks: list[list[str]] = []
    current: list[str] = []
    used = 0
    for item in items:
        cost = len(item) + 3  # quotes and comma
        if current and used + cost > budget:
            chunks.append(current)
            current, used = [], 0
        current.append(item)
        used += cost
    if current:
        chunks.append(current)
    return chunks
