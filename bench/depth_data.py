"""Synthetic stores for bench/depth_bench.py: liquidation events as the listener and the polls store them,
folded minute by minute by the real ``BucketStore.fold``, and a year of older minute buckets written
directly in the bucket store's compacted format.

Events: six venues (binance, bybit, okx, gate, bitget, hyperliquid) with their own symbol spellings,
~200 coins with a Zipf-like share (BTC and ETH lead), both sides, USD log-normal (median ~2,000 USD), a
per-minute intensity that is log-normal too (calm hours, bursts). They are written in the order they
would arrive: streamed venues within a second or two of their time, polled venues at the next minute's
collection (one in ten published up to nine minutes late, as the polls' ten-minute overlap allows), and
the buckets are folded at every minute boundary, as the collector does: so a day's bucket files hold the
same delta lines, and its event file the same order, as in production.

Older days (``add_history``) are the newest day's buckets compacted (one line per minute, and the day's
total in the month's totals file, as compaction writes them) with their minutes moved to each older day
(cells as they are: the read cost does not depend on their values), plus a small event file per day (a
year of day files to list and stat, as a deployment that keeps its events has), all marked folded and
compacted by one commit line in ``folds.jsonl``.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from liquidation import buckets
from liquidation.bucketlines import base_line, day_start, dumps, read_minutes
from liquidation.bucketstore import BucketStore, Mark
from liquidation.eventstore import EventStore

VENUES = {"binance": 0.34, "bybit": 0.24, "okx": 0.15, "gate": 0.10, "bitget": 0.10, "hyperliquid": 0.07}
POLLED = ("gate", "bitget")
#: The venues a collection counts as live (hyperliquid publishes open interest only; its events count).
LIVE = ("binance", "bybit", "okx", "gate", "bitget")
_COIN_NAMES = (
    "BTC ETH SOL XRP DOGE BNB SUI ADA PEPE LINK AVAX TRX WIF LTC DOT BCH NEAR APT ARB OP TON FIL ETC UNI "
    "ATOM INJ SEI TIA ORDI WLD FET RNDR ENA JUP PYTH STX IMX AAVE MKR LDO CRV DYDX GMX SNX COMP SUSHI "
    "ONDO TAO HBAR ICP ALGO XLM VET EGLD FTM SAND MANA AXS GALA APE CHZ FLOW KAVA ZIL ONE KSM ENS BLUR "
    "MEME BOME BONK SHIB FLOKI NOT TURBO MEW POPCAT NEIRO GOAT PNUT ACT MOODENG CHILLGUY VIRTUAL AI16Z "
    "FARTCOIN TRUMP MELANIA HYPE BERA IP KAITO LAYER S MOVE ME USUAL PENGU VANA BIO ANIME TST BROCCOLI "
    "CAKE RUNE THETA XTZ EOS NEO QTUM ZEC DASH XMR IOTA WAVES ZRX BAT ENJ ANKR STORJ SKL CELO RSR OCEAN "
    "AGIX ARKM CYBER ID EDU MAV PENDLE RDNT LQTY BLZ TRB GAS POLYX ACE NFP AI XAI MANTA ALT DYM PIXEL "
    "STRK PORTAL AEVO ETHFI OMNI REZ BB IO ZK ZRO LISTA BANANA RENDER DOGS TON2 CATI HMSTR EIGEN SCR "
    "GRASS DRIFT SWELL COW CETUS ORCA RAY JTO W TNSR SAGA ZETA MYRO SLERF BRETT DEGEN MOG TOSHI SPX "
    "GIGA AERO VELO SUNDOG BAN LUCE ZEREBRO GRIFFAIN ARC SWARMS COOKIE AIXBT SONIC SOLV"
)
COINS = tuple(_COIN_NAMES.split())
MULTIPLIED = {"PEPE", "BONK", "SHIB", "FLOKI", "SATS", "MOG", "CAT", "RATS", "X"}  # 1000PEPEUSDT, kPEPE


def symbol(venue: str, coin: str) -> str:
    """The coin's perpetual as ``venue`` spells it (``coins.coin_of`` maps each back to ``coin``)."""
    if venue == "okx":
        return f"{coin}-USDT-SWAP"
    if venue == "gate":
        return f"{coin}_USDT"
    if venue == "hyperliquid":
        return f"k{coin}" if coin in MULTIPLIED else coin
    return f"1000{coin}USDT" if coin in MULTIPLIED else f"{coin}USDT"


def day_of(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


class Generator:
    """Events with realistic fields; deterministic for a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.coins = COINS[:200]
        weights = [1 / (i + 1) ** 1.1 for i in range(len(self.coins))]
        self.coin_cum = list(itertools.accumulate(weights))
        self.venues = list(VENUES)
        self.venue_cum = list(itertools.accumulate(VENUES.values()))
        prices = {"BTC": 95_000.0, "ETH": 3_300.0, "SOL": 180.0, "BNB": 650.0}
        self.prices = {c: prices.get(c, math.exp(self.rng.uniform(math.log(0.002), math.log(400)))) for c in self.coins}
        self.symbols = {(v, c): symbol(v, c) for v in self.venues for c in self.coins}

    def minute_counts(self, minutes: int, n: int) -> list[int]:
        """``n`` events over ``minutes`` minutes: a log-normal intensity per minute (calm hours, bursts)."""
        weights = [self.rng.lognormvariate(0, 1.0) for _ in range(minutes)]
        cum = list(itertools.accumulate(weights))
        counts = [0] * minutes
        for _ in range(n):
            counts[bisect.bisect(cum, self.rng.random() * cum[-1])] += 1
        return counts

    def event(self, ts_ms: int) -> dict[str, Any]:
        rng = self.rng
        venue = self.venues[bisect.bisect(self.venue_cum, rng.random() * self.venue_cum[-1])]
        coin = self.coins[bisect.bisect(self.coin_cum, rng.random() * self.coin_cum[-1])]
        usd = min(rng.lognormvariate(math.log(2_000), 1.6), 40_000_000.0)
        price = round(self.prices[coin] * rng.uniform(0.97, 1.03), 6)
        qty = round(usd / price, 6) or 1e-6
        return {
            "exchange": venue,
            "symbol": self.symbols[(venue, coin)],
            "ts_ms": ts_ms,
            "side": "long" if rng.random() < 0.55 else "short",
            "qty": qty,
            "price": price,
            "usd": round(qty * price, 6),
        }

    def arrival(self, event: dict[str, Any]) -> int:
        """When the event reaches the store (ms): a stream within ~2 s, a poll at the next minute's
        collection, one poll row in ten up to nine minutes late."""
        ts = event["ts_ms"]
        if event["exchange"] not in POLLED:
            return ts + self.rng.randrange(50, 2000)
        at = (ts // 60_000 + 1) * 60_000
        if self.rng.random() < 0.1:
            at += self.rng.randrange(1, 10) * 60_000
        return at

    def span(self, start: int, end: int, n: int) -> list[tuple[int, dict[str, Any]]]:
        """``(arrival_ms, event)`` for ``n`` events with ``start <= ts < end`` (Unix s), by arrival."""
        first = start // 60 * 60
        counts = self.minute_counts((end - first + 59) // 60, n)
        out = []
        for i, count in enumerate(counts):
            lo = max(start, first + i * 60) * 1000
            hi = min(end, first + i * 60 + 60) * 1000
            for _ in range(count):
                e = self.event(self.rng.randrange(lo, hi))
                out.append((self.arrival(e), e))
        out.sort(key=lambda p: p[0])
        return out


def write_events(folder: Path, events: list[dict[str, Any]]) -> None:
    """Append events to their day files as the event store writes them (one JSON line each)."""
    by_day: dict[date, list[bytes]] = {}
    for e in events:
        by_day.setdefault(day_of(e["ts_ms"] / 1000), []).append(orjson.dumps(e) + b"\n")
    store = EventStore(folder, load_keys=False)
    for day, lines in by_day.items():
        with open(store.path_for(day), "ab") as f:
            f.write(b"".join(lines))


def simulate(
    folder: Path, spans: list[tuple[int, int, int]], *, seed: int, live_since: int, fold_every: int = 60
) -> dict[str, float]:
    """Store the events of ``spans`` (``(start, end, n)``: ``n`` events with ``start <= ts < end``, Unix s)
    in arrival order, folding at every ``fold_every`` seconds up to the last end (the collector's rhythm;
    what arrives later is stored at that end). Returns the seconds spent generating and storing+folding."""
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    gen = Generator(seed)
    pairs = sorted((p for start, end, n in spans for p in gen.span(start, end, n)), key=lambda p: p[0])
    t1 = time.perf_counter()
    events = EventStore(folder, load_keys=False)
    store = BucketStore(folder / "buckets")
    live = dict.fromkeys(LIVE, live_since)
    first, end = min(s for s, _, _ in spans), max(e for _, e, _ in spans)
    folds = [*range(first // fold_every * fold_every + fold_every, end, fold_every), end]
    i = 0
    for at in folds:
        j = i
        while j < len(pairs) and (pairs[j][0] <= at * 1000 or at == end):
            j += 1
        write_events(folder, [e for _, e in pairs[i:j]])
        i = j
        store.fold(events, live, at)
    return {
        "events": len(pairs),
        "generate_s": t1 - t0,
        "store_and_fold_s": time.perf_counter() - t1,
        "folds": len(folds),
    }


# -- a year of older buckets -------------------------------------------------------------------------


def _template(source: BucketStore, day: date) -> dict[str, tuple[list[tuple[int, bytes, bytes]], bytes]]:
    """``day``'s buckets as compaction writes them (one line per minute), each line split around its
    minute, and the day's total (``buckets.accumulate`` of the minutes, as compaction records it)."""
    committed = (source.mark() or Mark()).seq
    out: dict[str, tuple[list[tuple[int, bytes, bytes]], bytes]] = {}
    base = day_start(day)
    for table in ("venues", "coins"):
        rows = []
        total = buckets.empty_total()
        for m, lines in sorted(read_minutes(source.path(table, day), committed).items()):
            merged = buckets.merge(lines)
            if table == "coins" and not merged.get("c"):
                continue
            head, tail = dumps(base_line(table, -1, merged)).split(b'"m":-1', 1)
            rows.append((m - base, head, tail))
            buckets.accumulate(total, merged)
        out[table] = (rows, dumps(total).rstrip(b"\n"))
    return out


def add_history(
    folder: Path,
    template_from: BucketStore,
    template_day: date,
    newest: date,
    days: int,
    tables: tuple[str, ...] = ("venues", "coins"),
) -> int:
    """Write ``days`` days before ``newest`` as compacted buckets (copies of ``template_day``'s, moved),
    a small event file per day, and one commit line marking them folded and compacted, on a folder with no
    fold yet (the newest day is folded after, by ``simulate``). Returns the bytes of bucket files written."""
    store = BucketStore(folder / "buckets")
    store.folder.mkdir(parents=True, exist_ok=True)
    events = EventStore(folder, load_keys=False)
    template = _template(template_from, template_day)
    gen = Generator(7)
    written = 0
    cursor = {}
    for k in range(days, 0, -1):
        day = newest - timedelta(days=k)
        base = day_start(day)
        for table, (rows, total) in template.items():
            if table not in tables:
                continue
            body = b"".join(b'%s"m":%d%s' % (head, base + off, tail) for off, head, tail in rows)
            store.path(table, day).write_bytes(body)
            written += len(body)
            if hasattr(store, "totals_path"):  # the day's total, recorded as compaction records it
                with open(store.totals_path(table, day), "ab") as f:
                    f.write(b'{"d":"%s","size":%d,"t":%s}\n' % (day.isoformat().encode(), len(body), total))
        few = sorted(
            (gen.event(gen.rng.randrange(base * 1000, (base + 86400) * 1000)) for _ in range(200)),
            key=lambda e: e["ts_ms"],
        )
        write_events(folder, few)
        cursor[day.isoformat()] = events.size(day)
    last = newest - timedelta(days=1)
    commit = {
        "seq": 1,
        "at": day_start(newest),
        "cursor": cursor,
        "covered": day_start(newest) - 60,
        "compacted": last.isoformat(),
        "done_before": (newest - timedelta(days=2)).isoformat(),
        "live": dict.fromkeys(LIVE, day_start(newest) - days * 86400),
    }
    store.folds_path.write_bytes(dumps(commit))
    return written


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
