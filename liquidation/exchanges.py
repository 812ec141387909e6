"""The keyless ``exchanges`` source: the per-minute record from the exchanges' own public data.

Each collection:

1. polls the venues that publish a liquidation history over REST — Gate ``/futures/usdt/liq_orders``
   (windows of at most one hour, incremental from the last poll, 24 h of backfill on a fresh start) and
   Bitget ``/api/v3/market/liquidations`` (cursor pages, newest first) — into the event store that
   ``stream_liquidations`` fills from the Binance, Bybit and OKX websockets;
2. reads the listener's ``status.json`` to see which stream venues are live;
3. fetches open interest without a key: OKX ``open-interest`` (``oiUsd``), Bybit ``tickers`` (single-side
   value when given, else half the both-sides value), Gate ``tickers`` × ``quanto_multiplier`` × mark
   price, Binance per-symbol ``openInterest`` × mark price (all symbols on the first run, then a rotation
   within its weight limits, cached), Hyperliquid ``metaAndAssetCtxs``; a venue that fails is left out
   of the total and named in ``coverage.oi_missing``;
4. sums the stored events of the trailing 1 h and 24 h, per venue and side.

The totals are a **lower bound**: Binance and OKX publish at most one liquidation per symbol per
second, Bitget the largest per side per pair per interval, and venues without a public feed are not
counted at all. ``coverage`` says which venues contributed and since when each has been complete.

Django-free; ``conf.configured_source`` builds it from settings.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from .events import MAX_AGE_MS, event_key, plausible
from .eventstore import EventStore
from .guards import MAX_ORDER_USD, Suspect, hour_sums, implausible_skips, oi_changes, symbol_oi
from .http import Deadline, FetchError, HttpPolicy, get_json, make_session, public_error
from .records import RecordError, parse_number
from .sources import Reading, SourceError

logger = logging.getLogger(__name__)

STREAM_VENUES = ("binance", "bybit", "okx")
REST_VENUES = ("gate", "bitget")
LIQUIDATION_VENUES = STREAM_VENUES + REST_VENUES
OI_VENUES = ("binance", "bybit", "okx", "gate", "hyperliquid")
ALL_VENUES = ("binance", "bybit", "okx", "gate", "bitget", "hyperliquid")

WAN, YI = 1e4, 1e8
HOUR_MS, DAY_MS = 3_600_000, 86_400_000
STATUS_MAX_AGE = 30  # seconds: an older status.json means the listener is not running
#: Re-read the last ten minutes at every poll (de-duplicated by the event store): a row Gate or Bitget
#: publishes up to ten minutes after its liquidation still counts; a later one is missed.
POLL_OVERLAP_MS = 600_000
BITGET_CATEGORIES = ("USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES")
BITGET_MAX_PAGES = 25
BITGET_PACE = 0.25  # seconds between calls: Bitget allows 5 per second per IP
BINANCE_OI_ROTATION = 40  # symbols refreshed per minute after the first run (weight 1 each)


@dataclass(frozen=True)
class ExchangeUrls:
    binance: str = "https://fapi.binance.com"
    bybit: str = "https://api.bybit.com"
    okx: str = "https://www.okx.com"
    gate: str = "https://api.gateio.ws"
    bitget: str = "https://api.bitget.com"
    hyperliquid: str = "https://api.hyperliquid.xyz"


class VenueError(Exception):
    """One venue failed for this minute; the message says how."""


def _num(value: Any, name: str) -> float:
    try:
        return parse_number(value, name)
    except RecordError as e:
        raise VenueError(str(e)) from None


def _signed(value: Any, name: str) -> float:
    """A strict number that may be negative (Gate's sizes carry the side in their sign)."""
    if isinstance(value, str) and value.startswith("-"):
        return -_num(value[1:], name)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return -_num(-value, name)
    return _num(value, name)


class ExchangesSource:
    name = "exchanges"

    def __init__(
        self,
        events_dir: str | os.PathLike[str],
        venues: Iterable[str] = ALL_VENUES,
        urls: ExchangeUrls | None = None,
        *,
        clock: Callable[[], float] = time.time,
        bitget_pace: float = BITGET_PACE,
    ) -> None:
        self.events_dir = Path(events_dir)
        self.venues = [v for v in ALL_VENUES if v in set(venues)]
        self.urls = urls or ExchangeUrls()
        self.clock = clock
        self.bitget_pace = bitget_pace
        self.state_path = self.events_dir / "pollers.json"
        self.oi_cache_path = self.events_dir / "binance_oi_cache.json"

    def describe(self) -> str:
        return f"exchanges ({', '.join(self.venues)})"

    # -- the collection ---------------------------------------------------------------------------

    def fetch(self, session: requests.Session, policy: HttpPolicy, deadline: Deadline) -> Reading:
        now = self.clock()
        now_ms = int(now * 1000)
        store = EventStore(self.events_dir)
        state = self._load_json(self.state_path)
        live: dict[str, int] = {}  # venue -> complete since (Unix seconds)
        missing: dict[str, str] = {}
        rows_skipped: dict[str, dict[str, int]] = {}  # venue -> reason -> rows of this minute's poll
        suspect: dict[str, str] = {}  # venue -> why its figures are left out this minute (guards.py)

        for venue, poll in (("gate", self._poll_gate), ("bitget", self._poll_bitget)):
            if venue not in self.venues:
                continue
            try:
                skipped: Counter[str] = Counter()
                events, since_ms, last_ms = poll(session, policy, deadline, state.get(venue) or {}, now_ms, skipped)
                if skipped:
                    rows_skipped[venue] = dict(skipped)
                    logger.info("exchanges: %s rows skipped this minute: %s", venue, dict(skipped))
                if skipped.get("implausible"):
                    suspect[venue] = f"{skipped['implausible']} liquidation(s) over {MAX_ORDER_USD:,.0f} USD skipped"
                store.append(events)
                state[venue] = {"since_ms": since_ms, "last_ms": last_ms}
                live[venue] = since_ms // 1000
            except Exception as e:  # an unexpected answer marks this venue missing, nothing more
                missing[venue] = public_error(e)
                logger.warning("exchanges: %s liquidations missing this minute: %s", venue, e)

        streams = self._load_json(self.events_dir / "status.json")
        stream_venues = {v: i for v, i in (streams.get("venues") or {}).items() if v in self.venues}
        grew, state["implausible"] = implausible_skips(stream_venues, state.get("implausible") or {})
        suspect.update(grew)
        fresh = now - streams.get("updated", 0) <= STATUS_MAX_AGE
        for venue in STREAM_VENUES:
            if venue not in self.venues:
                continue
            info = (streams.get("venues") or {}).get(venue) or {}
            if fresh and info.get("connected") and info.get("connected_since"):
                live[venue] = int(info["connected_since"])
            else:
                missing[venue] = (
                    "listener not running" if not fresh else public_error(info.get("last_error") or "not connected")
                )

        if not live:
            raise SourceError(
                "no exchange reachable: start `manage.py stream_liquidations` (Binance, Bybit, OKX) and check "
                f"internet access to the exchanges' APIs; {'; '.join(f'{k}: {v}' for k, v in missing.items())}"[:600],
                kind="no-exchange-reachable",
            )

        oi_usd: dict[str, float] = {}
        oi_missing: dict[str, str] = {}
        for venue in OI_VENUES:
            if venue not in self.venues:
                continue
            try:
                oi_usd[venue] = getattr(self, f"_oi_{venue}")(session, policy, deadline)
            except Suspect as e:
                suspect[venue] = str(e)
            except Exception as e:  # an unexpected answer leaves this venue out of the total
                oi_missing[venue] = public_error(e)
                logger.warning("exchanges: %s open interest missing this minute: %s", venue, e)
        suspect.update(oi_changes(oi_usd, state.get("oi_usd") or {}))
        state["oi_usd"] = oi_usd
        self._save_json(self.state_path, state)
        sums = aggregate(store.read(now_ms - DAY_MS, now_ms), now_ms)
        suspect.update(hour_sums(sums))
        for venue, why in suspect.items():
            logger.warning("exchanges: %s left out of this minute's totals: %s", venue, why)
        oi_usd = {v: usd for v, usd in oi_usd.items() if v not in suspect}
        sums = {v: figures for v, figures in sums.items() if v not in suspect}
        total_oi = sum(oi_usd.values())
        if total_oi <= 0:
            raise SourceError(
                f"no open interest from any exchange: {'; '.join(f'{k}: {v}' for k, v in oi_missing.items())}"[:600],
                kind="no-open-interest",
            )

        totals = defaultdict(float)
        by_exchange: dict[str, dict[str, float]] = {}
        for venue in sorted(set(sums) | set(oi_usd)):
            figures = sums.get(venue, {})
            entry = {key: round(value / WAN, 2) for key, value in figures.items()}
            for key, value in figures.items():
                totals[key] += value
            if venue in oi_usd:
                entry["open_interest"] = round(oi_usd[venue] / YI, 4)
            by_exchange[venue] = entry
        liquidation_venues = [v for v in self.venues if v in LIQUIDATION_VENUES]
        values = {
            "hour_1_amount": round(totals["hour_1"] / WAN, 2),
            "hour_24_amount": round(totals["hour_24"] / WAN, 2),
            "total_position": round(total_oi / YI, 4),
            "panic_index": round(totals["hour_24"] / total_oi, 6),
            "hour_1_long": round(totals["hour_1_long"] / WAN, 2),
            "hour_1_short": round(totals["hour_1_short"] / WAN, 2),
            "hour_24_long": round(totals["hour_24_long"] / WAN, 2),
            "hour_24_short": round(totals["hour_24_short"] / WAN, 2),
        }
        now_s = int(now)
        coverage = {
            "venues": [v for v in liquidation_venues if v in live],
            "missing": [v for v in liquidation_venues if v not in live],
            "since": {v: live[v] for v in liquidation_venues if v in live},
            "hour_1_complete": all(v in live and live[v] <= now_s - 3600 for v in liquidation_venues),
            "hour_24_complete": all(v in live and live[v] <= now_s - 86400 for v in liquidation_venues),
            "oi_venues": sorted(oi_usd),
            "oi_missing": sorted(oi_missing),
            "errors": {**missing, **{f"{k} open interest": v for k, v in oi_missing.items()}},
            "skipped": rows_skipped,
            "suspect": suspect,
        }
        return Reading(
            values=values,
            source=self.name,
            source_time=now_s,
            extra={"by_exchange": by_exchange, "coverage": coverage, "lower_bound": True},
        )

    # -- REST liquidation histories -------------------------------------------------------------

    def _poll_gate(
        self,
        session: requests.Session,
        policy: HttpPolicy,
        deadline: Deadline,
        state: dict[str, Any],
        now_ms: int,
        skipped: Counter[str],
    ) -> tuple[list[dict[str, Any]], int, int]:
        """Gate: incremental windows of <= 1 h (its limit) from the last poll; 24 h backfill when fresh.

        Side from the sign of ``size`` (> 0: a long was liquidated). Filled contracts are
        ``|order_size| - |left|`` (the liquidation order less what it left unfilled), × ``quanto_multiplier``
        × ``fill_price``; see ``_gate_event``.
        """
        multipliers = self._gate_multipliers(session, policy, deadline)
        last_ms = state.get("last_ms")
        continuing = isinstance(last_ms, int) and last_ms >= now_ms - DAY_MS + HOUR_MS
        start_ms = last_ms - POLL_OVERLAP_MS if continuing else now_ms - DAY_MS
        since_ms = state.get("since_ms", start_ms) if continuing else start_ms
        events: list[dict[str, Any]] = []
        url = f"{self.urls.gate}/api/v4/futures/usdt/liq_orders"
        windows = [(start_ms // 1000, now_ms // 1000)]
        while windows:
            a, b = windows.pop(0)
            if b - a > 3600:  # Gate refuses windows wider than an hour
                windows[:0] = [(a, a + 3600), (a + 3600, b)]
                continue
            _, body = get_json(session, url, policy, deadline, params={"from": str(a), "to": str(b), "limit": "1000"})
            if isinstance(body, dict) and "label" in body:
                raise VenueError(f"Gate liq_orders {body.get('label')}: {body.get('message')}")
            if not isinstance(body, list):
                raise VenueError(f"Gate liq_orders: expected a list, got {type(body).__name__}")
            if len(body) >= 1000:
                if b - a <= 1:
                    raise VenueError(
                        f"Gate liq_orders: 1000 liquidations within one second at {a}; cannot page further"
                    )
                mid = (a + b) // 2  # the list may be cut: ask for each half
                windows[:0] = [(a, mid), (mid, b)]
                continue
            for item in body:
                event = self._gate_event(item, multipliers, now_ms)
                if isinstance(event, str):
                    skipped[event] += 1
                else:
                    events.append(event)
        return events, since_ms, now_ms

    def _gate_multipliers(self, session: requests.Session, policy: HttpPolicy, deadline: Deadline) -> dict[str, float]:
        _, body = get_json(session, f"{self.urls.gate}/api/v4/futures/usdt/contracts", policy, deadline)
        if isinstance(body, dict) and "label" in body:
            raise VenueError(f"Gate contracts {body.get('label')}: {body.get('message')}")
        if not isinstance(body, list) or not body:
            raise VenueError("Gate contracts: empty or not a list")
        out = {}
        for item in body:
            try:
                out[str(item["name"])] = _num(item.get("quanto_multiplier"), "quanto_multiplier")
            except (KeyError, TypeError, VenueError):
                continue
        return out

    @staticmethod
    def _gate_event(item: Any, multipliers: dict[str, float], now_ms: int) -> dict[str, Any] | str:
        """The event for one ``liq_orders`` row, or the reason it is skipped.

        Filled contracts are ``|order_size| − |left|``. A row without ``order_size`` is skipped
        (``no_order_size``): ``size`` is the whole position, so a position closed in steps would be
        counted again at every step. Sizes are decimals (``"4.2"``) and ``|order_size|`` may differ
        from ``|size|`` (size −1835, order_size 309): never assumed equal."""
        if isinstance(item, dict) and "order_size" not in item:
            return "no_order_size"
        try:
            contract = str(item["contract"])
            size = _signed(item["size"], "size")
            order_size = abs(_signed(item["order_size"], "order_size"))
            left = abs(_signed(item.get("left", 0), "left"))
            price = _num(item["fill_price"], "fill_price")
            ts_ms = int(item["time"]) * 1000
        except (KeyError, TypeError, ValueError, VenueError, AttributeError):
            return "bad_row"
        multiplier = multipliers.get(contract)
        filled = order_size - left
        if multiplier is None:
            return "unknown_contract"
        if filled <= 0 or price <= 0 or size == 0:
            return "not_filled"
        if ts_ms > now_ms + 300_000 or ts_ms < now_ms - MAX_AGE_MS:
            return "out_of_window"
        qty = filled * multiplier
        if not plausible(qty * price):
            return "implausible"
        return {
            "exchange": "gate",
            "symbol": contract,
            "ts_ms": ts_ms,
            "side": "long" if size > 0 else "short",
            "qty": round(qty, 12),
            "price": price,
            "usd": round(qty * price, 6),
        }

    def _poll_bitget(
        self,
        session: requests.Session,
        policy: HttpPolicy,
        deadline: Deadline,
        state: dict[str, Any],
        now_ms: int,
        skipped: Counter[str],
    ) -> tuple[list[dict[str, Any]], int, int]:
        """Bitget: cursor pages, newest first, back to the last poll (24 h when fresh, at most
        BITGET_MAX_PAGES pages per category a minute). ``side: buy`` is a long liquidated; ``amount``
        is in the base coin (real BTCUSDT rows: 0.0009, 0.3463, 1.2128 at about 84,000; as USD they
        would be below the minimum order), so USD = ``amount × price``."""
        last_ms = state.get("last_ms")
        continuing = isinstance(last_ms, int) and last_ms >= now_ms - DAY_MS + HOUR_MS
        floor_ms = last_ms - POLL_OVERLAP_MS if continuing else now_ms - DAY_MS
        reached_ms = floor_ms
        events: list[dict[str, Any]] = []
        url = f"{self.urls.bitget}/api/v3/market/liquidations"
        calls = 0
        for category in BITGET_CATEGORIES:
            cursor = ""
            category_oldest = now_ms
            for _ in range(BITGET_MAX_PAGES):
                if calls:
                    time.sleep(self.bitget_pace)
                calls += 1
                params = {"category": category, "limit": "100"}
                if cursor:
                    params["cursor"] = cursor
                _, body = get_json(session, url, policy, deadline, params=params)
                if not isinstance(body, dict) or str(body.get("code")) != "00000":
                    raise VenueError(f"Bitget liquidations {category}: {str(body)[:160]}")
                data = body.get("data") or {}
                items = data.get("list") or []
                for item in items:
                    event = self._bitget_event(item, now_ms)
                    if event is None:
                        skipped["bad_row"] += 1
                        continue
                    category_oldest = min(category_oldest, event["ts_ms"])
                    if event["ts_ms"] >= floor_ms:
                        events.append(event)
                cursor = str(data.get("cursor") or "")
                if not items or not cursor or category_oldest < floor_ms:
                    break
            else:
                # The page budget ran out before the floor: complete only from the oldest reached.
                reached_ms = max(reached_ms, category_oldest)
        # Fresh, or the page budget ran out before the last poll: complete only from what was reached.
        since_ms = state.get("since_ms", reached_ms) if continuing and reached_ms == floor_ms else reached_ms
        return events, since_ms, now_ms

    @staticmethod
    def _bitget_event(item: Any, now_ms: int) -> dict[str, Any] | None:
        try:
            side = item["side"]
            price = _num(item["price"], "price")
            amount = _num(item["amount"], "amount")  # base coin
            usd = amount * price
            ts_ms = int(item["ts"])
            symbol = str(item["symbol"])
        except (KeyError, TypeError, ValueError, VenueError):
            return None
        if (
            side not in ("buy", "sell")
            or price <= 0
            or not plausible(usd)
            or ts_ms > now_ms + 300_000
            or ts_ms < now_ms - MAX_AGE_MS
        ):
            return None
        return {
            "exchange": "bitget",
            "symbol": symbol,
            "ts_ms": ts_ms,
            "side": "long" if side == "buy" else "short",
            "qty": amount,
            "price": price,
            "usd": round(usd, 6),
        }

    # -- open interest ----------------------------------------------------------------------------

    def _oi_okx(self, session: requests.Session, policy: HttpPolicy, deadline: Deadline) -> float:
        total = 0.0
        for inst_type in ("SWAP", "FUTURES"):
            _, body = get_json(
                session,
                f"{self.urls.okx}/api/v5/public/open-interest",
                policy,
                deadline,
                params={"instType": inst_type},
            )
            if not isinstance(body, dict) or str(body.get("code")) != "0" or not isinstance(body.get("data"), list):
                raise VenueError(f"OKX open-interest {inst_type}: {str(body)[:160]}")
            total += sum(
                symbol_oi("okx", item.get("instId"), _num(item.get("oiUsd"), "oiUsd")) for item in body["data"]
            )
        return total

    def _oi_bybit(self, session: requests.Session, policy: HttpPolicy, deadline: Deadline) -> float:
        total = 0.0
        for category in ("linear", "inverse"):
            _, body = get_json(
                session, f"{self.urls.bybit}/v5/market/tickers", policy, deadline, params={"category": category}
            )
            if not isinstance(body, dict) or body.get("retCode") != 0:
                raise VenueError(f"Bybit tickers {category}: {str(body)[:160]}")
            items = (body.get("result") or {}).get("list")
            if not isinstance(items, list) or not items:
                raise VenueError(f"Bybit tickers {category}: empty list")
            for item in items:
                if category == "linear":  # values in USD(T)
                    single, both = item.get("singleOpenInterestValue"), item.get("openInterestValue")
                else:  # inverse: openInterest is counted in USD contracts
                    single, both = item.get("singleOpenInterest"), item.get("openInterest")
                if single not in (None, ""):
                    total += symbol_oi("bybit", item.get("symbol"), _num(single, "singleOpenInterest"))
                elif both not in (None, ""):
                    # both sides counted: one side is half
                    total += symbol_oi("bybit", item.get("symbol"), _num(both, "openInterest") / 2)
        return total

    def _oi_gate(self, session: requests.Session, policy: HttpPolicy, deadline: Deadline) -> float:
        multipliers = self._gate_multipliers(session, policy, deadline)
        _, body = get_json(session, f"{self.urls.gate}/api/v4/futures/usdt/tickers", policy, deadline)
        if isinstance(body, dict) and "label" in body:
            raise VenueError(f"Gate tickers {body.get('label')}: {body.get('message')}")
        if not isinstance(body, list) or not body:
            raise VenueError("Gate tickers: empty or not a list")
        total = 0.0
        for item in body:
            multiplier = multipliers.get(str(item.get("contract")))
            if multiplier is None:
                continue
            size = _num(item.get("total_size"), "total_size")
            total += symbol_oi("gate", item.get("contract"), size * multiplier * _num(item.get("mark_price"), "mark"))
        return total

    def _oi_hyperliquid(self, session: requests.Session, policy: HttpPolicy, deadline: Deadline) -> float:
        _, body = get_json(
            session, f"{self.urls.hyperliquid}/info", policy, deadline, json_body={"type": "metaAndAssetCtxs"}
        )
        if not (isinstance(body, list) and len(body) == 2 and isinstance(body[0], dict) and isinstance(body[1], list)):
            raise VenueError("Hyperliquid metaAndAssetCtxs: unexpected shape")
        universe = body[0].get("universe") or []
        if len(universe) != len(body[1]):
            raise VenueError("Hyperliquid metaAndAssetCtxs: universe and contexts differ in length")
        return sum(
            symbol_oi(
                "hyperliquid", meta.get("name"), _num(ctx.get("openInterest"), "oi") * _num(ctx.get("markPx"), "px")
            )
            for meta, ctx in zip(universe, body[1], strict=True)
        )

    def _oi_binance(self, session: requests.Session, policy: HttpPolicy, deadline: Deadline) -> float:
        """Σ openInterest × mark price over USDⓈ-M crypto contracts only.

        ``openInterest`` is in coins only for contracts margined in a stablecoin (``marginAsset`` USDT or
        USDC in ``/fapi/v1/exchangeInfo``); a coin-margined contract listed there counts contracts, and
        a contract count times a BTC price overcounts about 800×. TradFi perpetuals (stocks, metals) are
        not the crypto market. Both are told by exchangeInfo's fields, never by the symbol's shape;
        coin-margined open interest is left out (named in the methodology). ``openInterest`` needs one
        call per symbol (weight 1): all symbols on the first run (8 at a time), then the
        BINANCE_OI_ROTATION stalest each minute, from a cache in the events folder."""
        _, info = get_json(session, f"{self.urls.binance}/fapi/v1/exchangeInfo", policy, deadline)
        counted = binance_oi_symbols(info)
        if not counted:
            raise VenueError(f"Binance exchangeInfo: no USDⓈ-M crypto contract in {str(info)[:120]}")
        _, marks_body = get_json(session, f"{self.urls.binance}/fapi/v1/premiumIndex", policy, deadline)
        if not isinstance(marks_body, list) or not marks_body:
            raise VenueError(f"Binance premiumIndex: {str(marks_body)[:160]}")
        marks = {}
        for item in marks_body:
            try:
                symbol = str(item["symbol"])
                if symbol in counted:
                    marks[symbol] = _num(item.get("markPrice"), "markPrice")
            except (KeyError, TypeError, VenueError):
                continue
        cache = self._load_json(self.oi_cache_path)
        stale_first = sorted(marks, key=lambda s: (cache.get(s) or {}).get("t", 0))
        # Symbols never fetched (all of them on the first run, new listings later), else the stalest.
        todo = [s for s in stale_first if s not in cache] or stale_first[:BINANCE_OI_ROTATION]

        def one(symbol: str) -> tuple[str, float | None]:
            s = make_session(policy, deadline)
            try:
                _, body = get_json(
                    s, f"{self.urls.binance}/fapi/v1/openInterest", policy, deadline, params={"symbol": symbol}
                )
                return symbol, _num(body.get("openInterest"), "openInterest") if isinstance(body, dict) else None
            except (FetchError, VenueError):
                return symbol, None
            finally:
                s.close()

        with ThreadPoolExecutor(max_workers=8) as pool:
            for symbol, value in pool.map(one, todo):
                entry = cache.setdefault(symbol, {})
                entry["t"] = int(self.clock())  # failures too: a symbol that keeps failing must not block the rotation
                if value is not None:
                    entry["oi"] = value
        self._save_json(self.oi_cache_path, cache)
        known = [s for s in marks if "oi" in (cache.get(s) or {})]
        if len(known) < 0.9 * len(marks):
            raise VenueError(f"Binance open interest known for {len(known)} of {len(marks)} symbols so far")
        return sum(symbol_oi("binance", s, cache[s]["oi"] * marks[s]) for s in known)

    # -- small files --------------------------------------------------------------------------------

    @staticmethod
    def _load_json(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _save_json(path: Path, data: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)


def binance_oi_symbols(exchange_info: Any) -> set[str]:
    """The symbols of ``/fapi/v1/exchangeInfo`` whose open interest counts: trading, margined in USDT or
    USDC (so ``openInterest`` is in coins), and not a TradFi perpetual."""
    symbols = exchange_info.get("symbols") if isinstance(exchange_info, dict) else None
    return {
        str(item["symbol"])
        for item in (symbols if isinstance(symbols, list) else [])
        if isinstance(item, dict)
        and item.get("symbol")
        and item.get("marginAsset") in ("USDT", "USDC")
        and item.get("contractType") != "TRADIFI_PERPETUAL"
        and item.get("status", "TRADING") == "TRADING"
    }


def aggregate(events: Iterable[dict[str, Any]], now_ms: int) -> dict[str, dict[str, float]]:
    """USD sums per venue of the trailing hour and day, by side, each event counted once."""
    sums: dict[str, dict[str, float]] = defaultdict(
        lambda: {
            "hour_1": 0.0,
            "hour_24": 0.0,
            "hour_1_long": 0.0,
            "hour_1_short": 0.0,
            "hour_24_long": 0.0,
            "hour_24_short": 0.0,
        }
    )
    seen = set()
    for event in events:
        key = event_key(event)
        if key in seen or not (now_ms - DAY_MS < event["ts_ms"] <= now_ms) or not plausible(event.get("usd")):
            continue  # an implausible order stored by an older version is never summed either
        if event.get("tradfi"):
            continue  # stocks and metals: stored, marked, not the crypto market's total
        seen.add(key)
        venue = sums[event["exchange"]]
        usd = float(event["usd"])
        side = event["side"]
        venue["hour_24"] += usd
        venue[f"hour_24_{side}"] += usd
        if event["ts_ms"] > now_ms - HOUR_MS:
            venue["hour_1"] += usd
            venue[f"hour_1_{side}"] += usd
    return dict(sums)
