"""``manage.py check_sources``: does every venue work from this machine, and do its numbers look right?

For each venue of the registry, within a time budget: reachable or not (and why); for a streamed venue,
its websocket's connect time and first frame, and the liquidations seen while listening; for a polled
venue, the liquidations of its last minutes; the largest single liquidation; frames and rows skipped by
reason; open interest with the top three symbols (USD and the price they were valued at); any value the
plausibility guards call suspect; and the cross-checks a venue can make against itself (``cross_check``).
Then each venue's share of the total open interest: a sanity line.

``Recorder`` saves every raw answer and frame seen (public market data, URLs redacted) in the layout of
the test fixtures, so a capture from a machine with internet becomes a regression fixture. Django-free.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from .events import event_key
from .guards import MAX_ORDER_USD, MAX_SYMBOL_OI_USD
from .http import Deadline, HttpPolicy, make_session, public_error, recording
from .venues.base import Venue

RECENT_MS = 15 * 60_000  # a polled venue's "last minutes"


@dataclass
class VenueCheck:
    name: str
    title: str
    reachable: bool = True
    errors: list[str] = field(default_factory=list)
    ws_connect_s: float | None = None
    first_frame_s: float | None = None
    events: int = 0
    largest: dict[str, Any] | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    oi_usd: float | None = None
    top: list[dict[str, Any]] = field(default_factory=list)
    suspect: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def saw(self, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            self.events += 1
            if self.largest is None or event["usd"] > self.largest["usd"]:
                self.largest = {k: event[k] for k in ("symbol", "side", "qty", "price", "usd")}

    def failed(self, what: str, error: BaseException | str) -> None:
        self.reachable = False
        self.errors.append(f"{what}: {public_error(error)}")


class Recorder:
    """Saves answers as ``<dir>/<venue>/<name>.json`` and frames as ``<dir>/<venue>/<connection>.frames.jsonl``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def answer(self, venue: str, url: str, status: int, body: Any) -> None:
        path = re.sub(r"[^A-Za-z0-9]+", "-", url.split("://", 1)[-1].split("/", 1)[-1]).strip("-")[:80] or "root"
        with self.lock:
            self.counts[path] += 1
            name = f"{path}-{self.counts[path]}" if self.counts[path] > 1 else path
            target = self.folder / venue / f"{name}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps({"url": url, "status": status, "body": body}, ensure_ascii=False, indent=1))

    def frame(self, venue: str, connection: str, frame: str | bytes) -> None:
        text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
        with self.lock:
            target = self.folder / venue / f"{connection}.frames.jsonl"
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "a", encoding="utf-8") as f:
                f.write(text.replace("\n", " ") + "\n")


def check(
    venues: list[Venue], seconds: float, policy: HttpPolicy, recorder: Recorder | None = None
) -> list[VenueCheck]:
    """Run every venue's checks within about ``seconds``; never raises for a venue's failure."""
    checks = {v.name: VenueCheck(v.name, v.title or v.name) for v in venues}
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=_rest_part, args=(v, checks[v.name], policy, recorder)) for v in venues]
    for t in threads:
        t.start()
    streamed = [v for v in venues if v.streamed]
    if streamed:
        asyncio.run(_listen_all(streamed, checks, until, recorder))
    for t in threads:
        t.join(max(1.0, until - time.monotonic() + policy.deadline))
    for c in checks.values():
        if c.largest and c.largest["usd"] > MAX_ORDER_USD:
            c.suspect.append(f"an order of {c.largest['usd']:,.0f} USD")
        if c.skipped.get("implausible"):
            c.suspect.append(f"{c.skipped['implausible']} order(s) over {MAX_ORDER_USD:,.0f} USD skipped")
    return list(checks.values())


def _rest_part(venue: Venue, c: VenueCheck, policy: HttpPolicy, recorder: Recorder | None) -> None:
    def record(url: str, status: int, body: Any) -> None:
        if recorder is not None and threading.current_thread() is me:
            recorder.answer(venue.name, url, status, body)

    me = threading.current_thread()
    with recording(record):
        if venue.has_open_interest:
            _open_interest(venue, c, policy)
        if venue.polled:
            _recent_history(venue, c, policy)


def _open_interest(venue: Venue, c: VenueCheck, policy: HttpPolicy) -> None:
    deadline = Deadline(policy.deadline)
    session = make_session(policy, deadline)
    try:
        by_symbol = venue.open_interest_by_symbol(session, policy, deadline)
    except Exception as e:
        c.failed("open interest", e)
        return
    finally:
        session.close()
    c.oi_usd = sum(oi.usd for oi in by_symbol.values())
    ranked = sorted(by_symbol.items(), key=lambda kv: kv[1].usd, reverse=True)
    c.top = [{"symbol": s, "usd": oi.usd, "price": oi.price} for s, oi in ranked[:3]]
    c.suspect += [f"{s} open interest {oi.usd:,.0f} USD" for s, oi in ranked if oi.usd > MAX_SYMBOL_OI_USD]


def _recent_history(venue: Venue, c: VenueCheck, policy: HttpPolicy) -> None:
    deadline = Deadline(policy.deadline)
    session = make_session(policy, deadline)
    now_ms = int(time.time() * 1000)
    skipped: Counter[str] = Counter()
    state = {"since_ms": now_ms - RECENT_MS, "last_ms": now_ms - RECENT_MS + 600_000}
    events: list[dict[str, Any]] = []
    try:
        polled, _, _ = venue.poll(session, policy, deadline, state, now_ms, skipped)
        events = list({event_key(e): e for e in polled}.values())  # overlapping pages: each order once
        c.saw(e for e in events if e["ts_ms"] >= now_ms - RECENT_MS)
        c.skipped.update(skipped)
        c.notes += venue.cross_check(session, policy, deadline, events)
    except Exception as e:
        c.failed("liquidation history", e)
    finally:
        session.close()
    if venue.show_units:  # a unit not settled by documentation: show the arithmetic on real rows
        for e in sorted(events, key=lambda e: -e["usd"])[:3]:
            c.notes.append(f"{e['symbol']} amount {e['qty']:g} × price {e['price']:g} = {e['usd']:,.2f} USD")


async def _listen_all(
    venues: list[Venue], checks: dict[str, VenueCheck], until: float, recorder: Recorder | None
) -> None:
    await asyncio.gather(*(_listen(v, checks[v.name], until, recorder) for v in venues))


async def _listen(venue: Venue, c: VenueCheck, until: float, recorder: Recorder | None) -> None:
    try:
        specs = await asyncio.wait_for(asyncio.to_thread(venue.plan), max(1.0, until - time.monotonic()))
    except Exception as e:
        c.failed("planning the websocket", e)
        return
    if not specs:
        c.failed("planning the websocket", "no connection to make")
        return
    spec = specs[0]
    started = time.monotonic()
    try:
        async with connect(spec.url, open_timeout=max(1.0, until - started), max_size=2**22) as ws:
            c.ws_connect_s = round(time.monotonic() - started, 3)
            for message in spec.subscribe:
                await ws.send(message)
            skipped: Counter[str] = Counter()
            while (left := until - time.monotonic()) > 0:
                try:
                    frame = await asyncio.wait_for(ws.recv(), min(left, spec.ping_every))
                except TimeoutError:
                    if spec.ping_text:
                        await ws.send(spec.ping_text)
                    continue
                if recorder is not None:
                    recorder.frame(venue.name, spec.name, frame)
                parsed = spec.parse(frame)
                if c.first_frame_s is None and not parsed.control:
                    c.first_frame_s = round(time.monotonic() - started, 3)
                c.saw(parsed.events)
                skipped.update(parsed.skipped)
            c.skipped.update(skipped)
    except Exception as e:
        c.failed("websocket", e)


def shares(checks: list[VenueCheck]) -> list[tuple[str, float]]:
    """(venue title, share of the total open interest), the largest first."""
    total = sum(c.oi_usd or 0.0 for c in checks)
    rows = [(c.title, (c.oi_usd or 0.0) / total) for c in checks if c.oi_usd and total > 0]
    return sorted(rows, key=lambda r: -r[1])


def as_json(checks: list[VenueCheck]) -> dict[str, Any]:
    return {
        "venues": [asdict(c) for c in checks],
        "open_interest_shares": [{"venue": n, "share": round(s, 4)} for n, s in shares(checks)],
        "ok": all(c.reachable and not c.suspect for c in checks),
    }


def table(checks: list[VenueCheck], colour: bool = False) -> list[str]:
    """The human-readable report, one block per venue."""

    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if colour else text

    lines = []
    for c in checks:
        verdict = paint("OK", "32") if c.reachable and not c.suspect else paint("PROBLEM", "31")
        lines.append(f"{c.title:<12} {verdict}")
        for error in c.errors:
            lines.append(f"  unreachable: {error}")
        if c.ws_connect_s is not None:
            first = "none yet" if c.first_frame_s is None else f"{c.first_frame_s:.2f} s"
            lines.append(f"  websocket: connected in {c.ws_connect_s:.2f} s, first frame {first}")
        lines.append(f"  liquidations seen: {c.events}")
        if c.largest:
            big = c.largest
            lines.append(
                f"  largest: {big['symbol']} {big['side']} {big['usd']:,.2f} USD ({big['qty']:g} @ {big['price']:g})"
            )
        if c.skipped:
            lines.append("  skipped: " + ", ".join(f"{k} {n}" for k, n in sorted(c.skipped.items())))
        if c.oi_usd is not None:
            lines.append(f"  open interest: {c.oi_usd:,.0f} USD")
            for t in c.top:
                price = "" if t["price"] is None else f" @ {t['price']:g}"
                lines.append(f"    {t['symbol']:<18} {t['usd']:>20,.0f} USD{price}")
        lines += [f"  note: {n}" for n in c.notes]
        lines += [paint(f"  SUSPECT: {s}", "31") for s in c.suspect]
    if shares(checks):
        lines.append("open interest shares: " + ", ".join(f"{n} {s:.1%}" for n, s in shares(checks)))
    return lines
