"""The tape: the newest liquidations, newest first, read from the event store through the minute buckets.

The buckets say, for every minute, whether it can hold a matching event (its coin cells: coin, venue,
side, largest order) and where its events lie in the day's file (``o``..``e``). So a request reads the
spans of the newest candidate minutes only, newest first, until the page is full: the newest 50 cost the
same on a day of a thousand events as on a day of a million, and a rare coin's page skips the minutes
without it. Events stored since the last fold (past the fold's cursor) have no bucket yet and are read
whole (up to ``TAIL_BYTES``, the newest first).

A request reads at most ``BUDGET_BYTES`` of spans (the first minute always, so paging always advances) and
``TAPE_DAYS`` day files; ``next_before`` says where the next page starts. Django-free.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from . import buckets
from .bucketlines import day_start
from .bucketread import BucketReader
from .coins import coin_of
from .depth import Filters
from .eventstore import EventStore, Pair, day_of

TAPE_DAYS = 2
BUDGET_BYTES = 16 << 20
TAIL_BYTES = 32 << 20


class _Page:
    """The newest ``limit`` matches seen so far, and the newest time of a match that did not fit."""

    def __init__(self, limit: int, before_ms: int, min_usd: float, side: str | None, f: Filters) -> None:
        self.limit, self.before_ms, self.min_usd, self.side, self.f = limit, before_ms, min_usd, side, f
        self.heap: list[tuple[int, int, dict[str, Any]]] = []
        self.left_out = -1

    @property
    def full(self) -> bool:
        return len(self.heap) >= self.limit

    @property
    def unfiltered(self) -> bool:
        return self.f.coin is None and self.f.exchange is None and self.side is None and self.min_usd <= 0

    def consider(self, offset: int, e: Mapping[str, Any]) -> None:
        if not (e["ts_ms"] < self.before_ms and buckets.countable(e) and float(e["usd"]) >= self.min_usd):
            return
        if self.side not in (None, e["side"]) or self.f.exchange not in (None, e.get("exchange")):
            return
        coin = coin_of(str(e.get("symbol", "")))
        if self.f.coin not in (None, coin):
            return
        item = (e["ts_ms"], -offset, {**_public(e), "coin": coin})
        if len(self.heap) < self.limit:
            heapq.heappush(self.heap, item)
        else:  # this one or the oldest kept is left out (an unread line is older than both)
            self.left_out = max(self.left_out, heapq.heappushpop(self.heap, item)[0])

    def newest_first(self, since_ms: int = 0) -> list[dict[str, Any]]:
        return [i[2] for i in sorted(self.heap, key=lambda i: i[:2], reverse=True) if i[0] >= since_ms]


def _could_match(venue_line: Mapping[str, Any], coin_line: Mapping[str, Any] | None, page: _Page) -> bool:
    """Whether a minute's cells allow a matching event (no filter: any minute with events)."""
    f = page.f
    if page.unfiltered:
        return True
    for coin, venues in ((coin_line or {}).get("c") or {}).items():
        if f.coin not in (None, coin):
            continue
        for venue, cell in venues.items():
            counted = cell[1] if page.side == "long" else cell[3] if page.side == "short" else cell[1] + cell[3]
            if f.exchange in (None, venue) and counted and cell[4] >= page.min_usd:
                return True
    return False


def _cursor(reader: BucketReader, events: EventStore, day: date) -> int:
    """How far ``day``'s event file is folded (a day before the fold's ``done_before`` is folded whole)."""
    mark = reader.store.mark()
    if mark is None:
        return 0
    if mark.done_before and day.isoformat() < mark.done_before:
        return events.size(day)
    return mark.cursor.get(day.isoformat(), 0)


def _tail(events: EventStore, day: date, cursor: int) -> Iterable[Pair]:
    """The events stored past the fold's cursor: all of them, or the newest ``TAIL_BYTES`` when the
    collector has not folded for long (then older unfolded events may be missed)."""
    size = events.size(day)
    if size - cursor <= TAIL_BYTES:
        _, pairs = events.iter_from(day, cursor)
        return pairs
    out = []
    for offset, e in events.read_backward(day):
        if offset < size - TAIL_BYTES:
            break
        out.append((offset, e))
    return out


def tape(
    events: EventStore,
    reader: BucketReader,
    *,
    before_ms: int,
    limit: int,
    min_usd: float = 0.0,
    side: str | None = None,
    f: Filters | None = None,
) -> dict[str, Any]:
    """The newest matching liquidations before ``before_ms``, newest first, and ``next_before``."""
    page = _Page(limit, before_ms, min_usd, side, f or Filters())
    days = events.days()
    # From the newest day that holds events: a ``before`` in the future (the default, now + 1 day) must not
    # spend the two-day read on files that do not exist yet.
    day = min(day_of(before_ms - 1), max(days, default=day_of(before_ms - 1)))
    oldest = min(days, default=day)
    budget, complete_from, days_read = BUDGET_BYTES, 0, 0
    while day >= oldest and days_read < TAPE_DAYS and not page.full and not complete_from:
        cursor = _cursor(reader, events, day)
        for offset, e in _tail(events, day, cursor):
            page.consider(offset, e)
        start = day_start(day)
        venue_lines = reader.minutes("venues", start, start + 86340)
        coin_lines = {} if page.unfiltered else reader.minutes("coins", start, start + 86340)
        minutes = sorted((m for m in venue_lines if m * 1000 < before_ms), reverse=True)
        for n, m in enumerate(minutes):
            line = venue_lines[m]
            if page.full and (m + 60) * 1000 <= page.heap[0][0]:
                break  # this minute and every older one are older than the oldest kept
            if "o" not in line or not _could_match(line, coin_lines.get(m), page):
                continue
            if budget <= 0 and n:
                complete_from = (m + 60) * 1000  # minutes from the next one on are all read
                break
            last = min(line.get("e", cursor - 1), cursor - 1)  # a folded event lies before the cursor
            budget -= max(0, last - line["o"]) + 1
            for offset, e in events.iter_span(day, line["o"], last):
                if offset < cursor and buckets.minute_of_ms(e["ts_ms"]) == m:
                    page.consider(offset, e)
        days_read += 1
        if not complete_from:
            day = date.fromordinal(day.toordinal() - 1)
    return _answer(page, complete_from, day, oldest)


def _answer(page: _Page, complete_from: int, day: date, oldest: date) -> dict[str, Any]:
    if complete_from and (not page.full or page.heap[0][0] < complete_from):
        results, next_before = page.newest_first(complete_from), complete_from
    elif page.full:
        # A full page that ends inside a millisecond whose other events did not fit moves that millisecond
        # whole to the next page (``next_before`` just after it): paging neither repeats nor loses one,
        # unless one millisecond alone holds more than ``limit`` events (the rest of it is skipped).
        results = page.newest_first()
        last = results[-1]["ts_ms"]
        newer = [r for r in results if r["ts_ms"] != last]
        results, next_before = (newer, last + 1) if newer and page.left_out == last else (results, last)
    else:
        results = page.newest_first()
        next_before = day_start(day) * 1000 + 86_400_000 if day >= oldest else None
    return {"available": True, "count": len(results), "next_before": next_before, "results": results}


def _public(e: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "ts_ms": e["ts_ms"],
        "exchange": e.get("exchange"),
        "symbol": e.get("symbol"),
        "side": e["side"],
        "price": e.get("price"),
        "qty": e.get("qty"),
        "usd": round(float(e["usd"]), 2),
    }
