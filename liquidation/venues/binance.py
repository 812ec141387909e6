"""Binance USDⓈ-M futures: the all-market liquidation stream and open interest, no key.

- Liquidations: ``!forceOrder@arr`` on the ``/market`` route (the unrouted ``/stream`` path accepts a
  connection and never delivers). ``S: SELL`` closes a long. An order counts once, in a final state
  (``FILLED``, or ``EXPIRED`` with ``z > 0``), at its filled part. What ``z`` counts depends on the
  contract, told by ``st`` (1 USDⓈ-M, 2 coin-margined) or by the contract lists of both exchangeInfo
  endpoints, never by the symbol's shape: USDⓈ-M (perpetuals and quarterlies such as
  ``BTCUSDT_260925``) in base units, ``z × ap`` USD; coin-margined (``BTCUSD_PERP``: the USDⓈ-M stream
  carries them too) in contracts, ``z × contractSize`` USD, skipped as ``no_contract_size`` when the size
  is unknown; a contract neither tells is skipped as ``unknown_contract``. TradFi perpetuals (stocks,
  metals) are stored marked ``"tradfi": true`` and left out of the crypto totals.
- Open interest: Σ ``openInterest`` × mark price (``/fapi/v1/premiumIndex``) over the contracts
  ``/fapi/v1/exchangeInfo`` lists with ``marginAsset`` USDT or USDC and a crypto ``contractType``.

Django-free.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from ..events import Parsed, Skip, get_field, load_frame, make_event, to_number, to_positive, to_timestamp
from ..http import Deadline, FetchError, HttpPolicy, get_json, make_session
from ..records import RecordError, parse_number
from .base import THIRD_PARTY, ConnSpec, Fact, OpenInterest, Venue, VenueError, num

logger = logging.getLogger(__name__)

OI_CACHE = "binance_oi_cache"  # the state name of the per-symbol open-interest cache (binance_oi_cache.json)
ROTATION = 40  # open-interest symbols refreshed per minute after the first run (weight 1 each)


@dataclass(frozen=True)
class BinanceContract:
    """What a Binance symbol's ``z`` counts: ``coin_margined`` contracts of ``contract_size`` USD, else base
    units; ``tradfi`` for a stock or metal perpetual (left out of the crypto totals)."""

    coin_margined: bool
    contract_size: float | None = None
    tradfi: bool = False


#: Margin assets of USDⓈ-M contracts (quantities in the base coin). A contract margined in its own coin
#: is coin-margined whatever list it appears in.
STABLE_MARGIN = frozenset({"USDT", "USDC", "BUSD", "FDUSD"})


def parse_binance_contracts(usdm_info: Any, coinm_info: Any) -> dict[str, BinanceContract]:
    """Contract metadata from ``/fapi/v1/exchangeInfo`` and ``/dapi/v1/exchangeInfo`` (either may be None)."""
    out: dict[str, BinanceContract] = {}
    for body, coinm_list in ((usdm_info, False), (coinm_info, True)):
        symbols = body.get("symbols") if isinstance(body, dict) else None
        for item in symbols if isinstance(symbols, list) else []:
            if not isinstance(item, dict) or not item.get("symbol"):
                continue
            margin = str(item.get("marginAsset") or "")
            coin_margined = coinm_list or (margin not in STABLE_MARGIN and item.get("quoteAsset") == "USD")
            size = None
            if coin_margined:
                try:
                    size = parse_number(item.get("contractSize"), "contractSize") or None
                except RecordError:
                    size = None
            out[str(item["symbol"])] = BinanceContract(
                coin_margined, size, tradfi=item.get("contractType") == "TRADIFI_PERPETUAL"
            )
    return out


def parse_binance(
    frame: str | bytes, now_ms: int | None = None, contracts: dict[str, BinanceContract] | None = None
) -> Parsed:
    """A ``!forceOrder@arr`` frame, raw or wrapped as a combined stream ``{"stream", "data"}``.

    ``contracts`` (symbol → BinanceContract, from both exchangeInfo lists) tells what ``z`` counts when
    the frame's ``st`` does not, and gives coin-margined contract sizes."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    out = Parsed()
    try:
        msg = load_frame(frame)
        if isinstance(msg, dict) and "result" in msg and "id" in msg:
            out.control = True  # the answer to a SUBSCRIBE
            return out
        data = msg.get("data", msg) if isinstance(msg, dict) else msg
        if not isinstance(data, dict) or data.get("e") != "forceOrder":
            raise Skip("unknown_event", str(data.get("e") if isinstance(data, dict) else type(data).__name__))
        order = get_field(data, "o")
        status = get_field(order, "X")
        if status not in ("FILLED", "EXPIRED"):
            raise Skip("not_filled", str(status))
        side_raw = get_field(order, "S")
        if side_raw not in ("SELL", "BUY"):
            raise Skip("bad_side", str(side_raw))
        symbol = str(get_field(order, "s"))
        qty = to_number(get_field(order, "z"), "z")
        if qty <= 0:
            raise Skip("not_filled", f"{status} with z=0")
        price = to_positive(get_field(order, "ap"), "ap")
        ts = to_timestamp(order.get("T", data.get("E")), now_ms)
        meta = (contracts or {}).get(symbol)
        st = order.get("st", data.get("st"))
        if st == 2 or (st != 1 and meta is not None and meta.coin_margined):
            if meta is None or not meta.coin_margined or not meta.contract_size:
                raise Skip("no_contract_size", symbol)
            usd = qty * meta.contract_size  # z counts contracts of contractSize USD
            qty = usd / price
        elif st == 1 or (meta is not None and not meta.coin_margined):
            usd = qty * price
        else:
            raise Skip("unknown_contract", symbol)
        event = make_event("binance", symbol, ts, "long" if side_raw == "SELL" else "short", qty, price, usd)
        if meta is not None and meta.tradfi:
            event["tradfi"] = True
        out.events.append(event)
    except Skip as e:
        out.skipped[e.reason] += 1
    return out


class Binance(Venue):
    """With ``load_contracts``, ``plan()`` loads the contract lists of both exchangeInfo endpoints, so a
    frame without ``st`` is still read right and coin-margined contracts count at their
    ``contractSize``; a list that cannot be loaded keeps the previous one (frames then rely on ``st``)."""

    name = "binance"
    title = "Binance"
    endpoints = {
        "ws": "wss://fstream.binance.com",
        "rest": "https://fapi.binance.com",
        "coinm": "https://dapi.binance.com",
    }
    streamed = True
    has_open_interest = True
    publishes = Fact(
        "All-market liquidation orders on one websocket stream (`!forceOrder@arr`): USDⓈ-M perpetual and "
        "quarterly contracts, and the coin-margined ones the same stream carries. An order counts once, at its "
        "filled part, when FILLED or EXPIRED with a filled part. TradFi perpetuals (stocks, metals) are stored "
        "but not counted. No history: only what arrives while the listener is connected.",
        "全市场强平订单 websocket 流（`!forceOrder@arr`）：U 本位永续与交割合约，以及同一条流推送的币本位合约。"
        "每笔订单在最终状态（FILLED，或有成交部分的 EXPIRED）按已成交部分计一次。TradFi 永续（股票、贵金属）"
        "只存储、不计入。没有历史数据：只统计监听程序在线期间收到的订单。",
    )
    throttle = Fact(
        "At most one liquidation per symbol per 1000 ms: the docs say the latest one of the interval is "
        "pushed, third parties describe the largest. Every other liquidation of that second is never published.",
        "每个交易对每 1000 毫秒最多推送一笔强平：文档说推送该时段内最新的一笔，第三方描述为最大的一笔。"
        "同一秒内的其余强平从不公布。",
    )
    side_rule = Fact(
        "`S: SELL` is a long liquidated, `BUY` a short (the docs never say so; aggr and cryptofeed read it this way).",
        "`S: SELL` 为多头被强平，`BUY` 为空头被强平（文档未写明；aggr 与 cryptofeed 均如此解读）。",
        THIRD_PARTY,
    )
    usd_rule = Fact(
        "USDⓈ-M: `z` (filled quantity, base coin) × `ap` (average price). Coin-margined (told by `st` or by "
        "the two exchangeInfo lists, never by the symbol's shape): `z` contracts × `contractSize` USD.",
        "U 本位：`z`（已成交数量，币）× `ap`（成交均价）。币本位（由 `st` 或两个 exchangeInfo 列表判断，"
        "不看交易对名称）：`z` 张 × `contractSize` 美元。",
    )
    oi_rule = Fact(
        f"Σ `openInterest` (coins) × mark price (`premiumIndex`) over the contracts exchangeInfo lists as "
        f"margined in USDT or USDC with a crypto contract type; one call per symbol, all on the first run, "
        f"then the {ROTATION} stalest each minute. Coin-margined and TradFi contracts are left out.",
        f"Σ `openInterest`（币）× 标记价格（`premiumIndex`），仅计 exchangeInfo 中以 USDT 或 USDC 保证金、"
        f"合约类型为加密货币的合约；每个交易对一次请求，首次全部获取，之后每分钟刷新最旧的 {ROTATION} 个。"
        f"币本位与 TradFi 合约不计入。",
    )
    caveats = (
        Fact(
            "Whether the one-per-second snapshot is the latest or the largest liquidation is unresolved.",
            "每秒一笔的快照究竟是最新的还是最大的强平，尚无定论。",
            THIRD_PARTY,
        ),
    )
    doc_urls = {
        "liquidations": "https://developers.binance.com/docs/derivatives/usds-margined-futures/"
        "websocket-market-streams/All-Market-Liquidation-Order-Streams",
        "open_interest": "https://developers.binance.com/docs/derivatives/usds-margined-futures/"
        "market-data/rest-api/Open-Interest",
    }

    def __init__(self, *args: Any, load_contracts: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.load_contracts = load_contracts
        self.contracts: dict[str, BinanceContract] = {}

    def _info(self, kind: str, path: str) -> Any:
        if not self.load_contracts:
            return None
        session = make_session(self.policy)
        try:
            _, body = get_json(session, f"{self.url(kind)}{path}", self.policy, Deadline(self.policy.deadline))
            return body
        except FetchError as e:
            logger.warning("binance: contract list %s not loaded: %s", path, e)
            return None
        finally:
            session.close()

    def plan(self) -> list[ConnSpec]:
        fresh = parse_binance_contracts(
            self._info("rest", "/fapi/v1/exchangeInfo"), self._info("coinm", "/dapi/v1/exchangeInfo")
        )
        if fresh:
            self.contracts.clear()  # in place: the parser of a running connection sees the update
            self.contracts.update(fresh)
        # The market route: the unrouted /stream path accepts the connection but never delivers.
        url = f"{self.url('ws')}/market/stream?streams=!forceOrder@arr"
        return [ConnSpec("binance", url, [], lambda frame: parse_binance(frame, contracts=self.contracts))]

    def open_interest_by_symbol(
        self, session: requests.Session, policy: HttpPolicy, deadline: Deadline
    ) -> dict[str, OpenInterest]:
        """openInterest × mark price over USDⓈ-M crypto contracts only.

        ``openInterest`` is in coins only for contracts margined in a stablecoin (``marginAsset`` USDT or
        USDC in ``/fapi/v1/exchangeInfo``); a coin-margined contract listed there counts contracts, and
        a contract count times a BTC price overcounts about 800×. TradFi perpetuals (stocks, metals) are
        not the crypto market. Both are told by exchangeInfo's fields, never by the symbol's shape;
        coin-margined open interest is left out (named in the methodology). ``openInterest`` needs one
        call per symbol (weight 1): all symbols on the first run (8 at a time), then the
        ROTATION stalest each minute, from a cache in the events folder."""
        _, info = get_json(session, f"{self.url('rest')}/fapi/v1/exchangeInfo", policy, deadline)
        counted = binance_oi_symbols(info)
        if not counted:
            raise VenueError(f"Binance exchangeInfo: no USDⓈ-M crypto contract in {str(info)[:120]}")
        _, marks_body = get_json(session, f"{self.url('rest')}/fapi/v1/premiumIndex", policy, deadline)
        if not isinstance(marks_body, list) or not marks_body:
            raise VenueError(f"Binance premiumIndex: {str(marks_body)[:160]}")
        marks = {}
        for item in marks_body:
            try:
                symbol = str(item["symbol"])
                if symbol in counted:
                    marks[symbol] = num(item.get("markPrice"), "markPrice")
            except (KeyError, TypeError, VenueError):
                continue
        cache = self.state.read(OI_CACHE)
        stale_first = sorted(marks, key=lambda s: (cache.get(s) or {}).get("t", 0))
        # Symbols never fetched (all of them on the first run, new listings later), else the stalest.
        todo = [s for s in stale_first if s not in cache] or stale_first[:ROTATION]

        def one(symbol: str) -> tuple[str, float | None]:
            s = make_session(policy, deadline)
            try:
                _, body = get_json(
                    s, f"{self.url('rest')}/fapi/v1/openInterest", policy, deadline, params={"symbol": symbol}
                )
                return symbol, num(body.get("openInterest"), "openInterest") if isinstance(body, dict) else None
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
        self.state.write(OI_CACHE, cache)
        known = [s for s in marks if "oi" in (cache.get(s) or {})]
        if len(known) < 0.9 * len(marks):
            raise VenueError(f"Binance open interest known for {len(known)} of {len(marks)} symbols so far")
        return {s: OpenInterest(cache[s]["oi"] * marks[s], marks[s]) for s in known}


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
