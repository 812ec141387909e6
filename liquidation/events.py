"""Liquidation events from the exchanges' public websocket feeds, normalized.

An event is a dict (one JSON line in the event store)::

    {"exchange": "binance", "symbol": "BTCUSDT", "ts_ms": 1791565602120, "side": "long",
     "qty": 0.19, "price": 82651.9, "usd": 15703.861}

``side`` is the side of the position that was liquidated (``long`` = a long was force-closed).
``ts_ms`` is the exchange's own event time. ``usd`` is the notional in US dollars.

Conversions (the exchanges' documented semantics; see shared/reference/exchange-apis.md):

- Binance ``forceOrder``: the order side ``S: SELL`` closes a long. An order is counted once, in a final
  state: ``FILLED``, or ``EXPIRED`` with a filled part (``z > 0``), at filled quantity × average price
  (``z × ap``); ``NEW`` and ``PARTIALLY_FILLED`` are skipped (counted), so an order is never counted
  twice. What ``z`` counts depends on the contract, told by ``st`` (1 USDⓈ-M, 2 coin-margined) or by the
  contract metadata of both exchangeInfo lists (``BinanceContract``), never by the symbol's shape:
  USDⓈ-M (perpetuals and quarterlies such as ``BTCUSDT_260925``) in base units, ``z × ap`` USD;
  coin-margined (``BTCUSD_PERP``, ``ETHUSD_260925``: the USDⓈ-M stream carries them too) in contracts,
  ``z × contractSize`` USD, skipped as ``no_contract_size`` when the size is not known; a contract neither
  tells is skipped as ``unknown_contract``. TradFi perpetuals (stocks, metals) are stored marked
  ``"tradfi": true`` and left out of the crypto totals.
- Bybit ``allLiquidation``: ``S: Buy`` means a long was liquidated (Bybit's docs). Linear contracts:
  ``usd = v × p``; inverse contracts quote ``v`` in USD already.
- OKX ``liquidation-orders``: the liquidated side is ``posSide``, or, when ``posSide`` is ``net``, the
  opposite of the order ``side``. Linear: ``usd = sz × ctVal × bkPx``; inverse (``ctValCcy`` = USD):
  ``usd = sz × ctVal``.

Anything else is skipped with a reason that the listener counts: never a crash, never a wrong sum.
Django-free.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .guards import MAX_ORDER_USD as _GUARD_MAX_ORDER_USD
from .records import RecordError, loads_strict, parse_number

MAX_FUTURE_MS = 5 * 60 * 1000
#: The largest plausible single liquidation order, in USD (``guards.MAX_ORDER_USD``). The largest ever
#: reported were a few hundred million; anything above is a unit error (contracts taken for coins, a
#: price in cents) or a hostile frame, and is skipped as "implausible", never summed.
MAX_ORDER_USD = _GUARD_MAX_ORDER_USD
MAX_AGE_MS = 25 * 3600 * 1000


class Skip(Exception):
    """A frame or item that is not a valid liquidation; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


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


@dataclass(frozen=True)
class Contract:
    """What converting a contract count to USD needs (OKX)."""

    ct_val: float
    ct_val_ccy: str
    inverse: bool


@dataclass
class Parsed:
    """The events in one frame, what was skipped and why, and whether it was a control message."""

    events: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    control: bool = False
    error: str | None = None


def event_key(event: dict[str, Any]) -> tuple[Any, ...]:
    """The natural key of a liquidation: the same order seen twice (reconnect, restart) has the same key.

    Binance (s, T, S, z, ap), Bybit (s, T, S, v, p), OKX (instId, ts, side, sz, bkPx) all map onto
    these normalized fields.
    """
    return (event["exchange"], event["symbol"], event["ts_ms"], event["side"], event["qty"], event["price"])


def _number(value: Any, name: str) -> float:
    try:
        number = parse_number(value, name)
    except RecordError as e:
        raise Skip("bad_number", str(e)) from None
    return number


def _positive(value: Any, name: str) -> float:
    number = _number(value, name)
    if number <= 0:
        raise Skip("non_positive", f"{name}={value!r}")
    return number


def _timestamp(value: Any, now_ms: int) -> int:
    ts = int(_number(value, "ts"))
    if ts > now_ms + MAX_FUTURE_MS:
        raise Skip("in_future", str(ts))
    if ts < now_ms - MAX_AGE_MS:
        raise Skip("too_old", str(ts))
    return ts


def plausible(usd: Any) -> bool:
    """A single order's USD notional within (0, MAX_ORDER_USD]; stored events are checked again when summed."""
    return isinstance(usd, (int, float)) and not isinstance(usd, bool) and 0 < usd <= MAX_ORDER_USD


def _event(exchange: str, symbol: str, ts_ms: int, side: str, qty: float, price: float, usd: float) -> dict[str, Any]:
    if not plausible(usd):
        raise Skip("implausible", f"{exchange} {symbol}: {usd:g} USD")
    return {
        "exchange": exchange,
        "symbol": symbol,
        "ts_ms": ts_ms,
        "side": side,
        "qty": qty,
        "price": price,
        "usd": round(usd, 6),
    }


def _load(frame: str | bytes) -> Any:
    try:
        return loads_strict(frame)
    except (RecordError, ValueError, UnicodeDecodeError) as e:
        raise Skip("bad_json", str(e)[:80]) from None


def _field(obj: dict[str, Any], name: str) -> Any:
    if not isinstance(obj, dict) or name not in obj or obj[name] is None:
        raise Skip("missing_field", name)
    return obj[name]


def parse_binance(
    frame: str | bytes, now_ms: int | None = None, contracts: dict[str, BinanceContract] | None = None
) -> Parsed:
    """A ``!forceOrder@arr`` frame, raw or wrapped as a combined stream ``{"stream", "data"}``.

    ``contracts`` (symbol → BinanceContract, from both exchangeInfo lists) tells what ``z`` counts when
    the frame's ``st`` does not, and gives coin-margined contract sizes."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    out = Parsed()
    try:
        msg = _load(frame)
        if isinstance(msg, dict) and "result" in msg and "id" in msg:
            out.control = True  # the answer to a SUBSCRIBE
            return out
        data = msg.get("data", msg) if isinstance(msg, dict) else msg
        if not isinstance(data, dict) or data.get("e") != "forceOrder":
            raise Skip("unknown_event", str(data.get("e") if isinstance(data, dict) else type(data).__name__))
        order = _field(data, "o")
        status = _field(order, "X")
        if status not in ("FILLED", "EXPIRED"):
            raise Skip("not_filled", str(status))
        side_raw = _field(order, "S")
        if side_raw not in ("SELL", "BUY"):
            raise Skip("bad_side", str(side_raw))
        symbol = str(_field(order, "s"))
        qty = _number(_field(order, "z"), "z")
        if qty <= 0:
            raise Skip("not_filled", f"{status} with z=0")
        price = _positive(_field(order, "ap"), "ap")
        ts = _timestamp(order.get("T", data.get("E")), now_ms)
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
        event = _event("binance", symbol, ts, "long" if side_raw == "SELL" else "short", qty, price, usd)
        if meta is not None and meta.tradfi:
            event["tradfi"] = True
        out.events.append(event)
    except Skip as e:
        out.skipped[e.reason] += 1
    return out


def parse_bybit(frame: str | bytes, *, inverse: bool, now_ms: int | None = None) -> Parsed:
    """An ``allLiquidation.{symbol}`` frame from Bybit's linear or inverse public stream."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    out = Parsed()
    try:
        msg = _load(frame)
        if not isinstance(msg, dict):
            raise Skip("unknown_event", type(msg).__name__)
        if "op" in msg or "success" in msg:
            out.control = True
            if msg.get("success") is False:
                out.error = str(msg.get("ret_msg") or msg)[:200]
                out.skipped["error_envelope"] += 1
            return out
        topic = msg.get("topic")
        if not isinstance(topic, str) or not topic.startswith("allLiquidation."):
            raise Skip("unknown_event", str(topic))
        items = _field(msg, "data")
        if not isinstance(items, list):
            items = [items]
    except Skip as e:
        out.skipped[e.reason] += 1
        return out
    for item in items:
        try:
            side_raw = _field(item, "S")
            if side_raw not in ("Buy", "Sell"):
                raise Skip("bad_side", str(side_raw))
            qty = _positive(_field(item, "v"), "v")
            price = _positive(_field(item, "p"), "p")
            ts = _timestamp(_field(item, "T"), now_ms)
            symbol = str(_field(item, "s"))
            usd = qty if inverse else qty * price
            out.events.append(_event("bybit", symbol, ts, "long" if side_raw == "Buy" else "short", qty, price, usd))
        except Skip as e:
            out.skipped[e.reason] += 1
    return out


def parse_okx(frame: str | bytes, contracts: dict[str, Contract], now_ms: int | None = None) -> Parsed:
    """A ``liquidation-orders`` push (or ``pong``, subscribe ack, error envelope) from OKX."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    out = Parsed()
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    if text.strip() == "pong":
        out.control = True
        return out
    try:
        msg = _load(text)
        if not isinstance(msg, dict):
            raise Skip("unknown_event", type(msg).__name__)
        if "event" in msg:
            out.control = True
            if msg["event"] == "error" or str(msg.get("code", "0")) != "0":
                out.error = f"{msg.get('code')}: {msg.get('msg')}"[:200]
                out.skipped["error_envelope"] += 1
            return out
        if "code" in msg and str(msg["code"]) != "0":
            raise Skip("error_envelope", f"{msg.get('code')}: {msg.get('msg')}")
        arg = msg.get("arg") or {}
        if arg.get("channel") != "liquidation-orders":
            raise Skip("unknown_event", str(arg.get("channel")))
        groups = _field(msg, "data")
        if not isinstance(groups, list):
            raise Skip("missing_field", "data")
    except Skip as e:
        out.skipped[e.reason] += 1
        return out
    for group in groups:
        try:
            inst = str(_field(group, "instId"))
            details = _field(group, "details")
        except Skip as e:
            out.skipped[e.reason] += 1
            continue
        for detail in details if isinstance(details, list) else [details]:
            try:
                contract = contracts.get(inst)
                if contract is None:
                    raise Skip("no_contract", inst)
                pos_side = _field(detail, "posSide")
                order_side = detail.get("side")
                if pos_side in ("long", "short"):
                    side = pos_side
                elif pos_side == "net" and order_side in ("buy", "sell"):
                    side = "long" if order_side == "sell" else "short"
                else:
                    raise Skip("bad_side", f"{pos_side}/{order_side}")
                size = _positive(_field(detail, "sz"), "sz")
                price = _positive(_field(detail, "bkPx"), "bkPx")
                ts = _timestamp(_field(detail, "ts"), now_ms)
                if contract.inverse:
                    usd = size * contract.ct_val
                    qty = usd / price
                else:
                    qty = size * contract.ct_val
                    usd = qty * price
                out.events.append(_event("okx", inst, ts, side, round(qty, 12), price, usd))
            except Skip as e:
                out.skipped[e.reason] += 1
    return out


def parse_okx_instruments(body: Any) -> dict[str, Contract]:
    """``instId -> Contract`` from ``GET /api/v5/public/instruments`` (raises ValueError on an error envelope)."""
    if not isinstance(body, dict) or str(body.get("code")) != "0" or not isinstance(body.get("data"), list):
        raise ValueError(f"OKX instruments: error envelope or unexpected body: {str(body)[:200]}")
    contracts: dict[str, Contract] = {}
    for item in body["data"]:
        try:
            ct_val = parse_number(item.get("ctVal"), "ctVal")
        except (RecordError, AttributeError):
            continue
        if ct_val <= 0 or not item.get("instId"):
            continue
        ccy = str(item.get("ctValCcy") or "")
        inverse = item.get("ctType") == "inverse" or ccy.upper() == "USD"
        contracts[str(item["instId"])] = Contract(ct_val, ccy, inverse)
    return contracts


def to_json_line(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n").encode()
