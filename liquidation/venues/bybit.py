"""Bybit v5: liquidation streams for every linear and inverse symbol, and open interest, no key.

- Liquidations: ``allLiquidation.{symbol}`` for every ``Trading`` symbol of ``instruments-info`` (cursor
  pages, refreshed hourly), topics split so no connection subscribes more than its documented 21,000
  characters, ``{"op": "ping"}`` every 20 s. ``S: Buy`` means a long was liquidated (Bybit's docs);
  linear ``v × p`` USD, inverse ``v`` (already USD).
- Open interest: ``/v5/market/tickers`` linear ``singleOpenInterestValue`` (USD) when given, else half the
  both-sides ``openInterestValue``; inverse ``singleOpenInterest`` / half of ``openInterest`` (USD).

Django-free.
"""

from __future__ import annotations

import json
import time

import requests

from ..events import Parsed, Skip, get_field, load_frame, make_event, to_positive, to_timestamp
from ..http import Deadline, FetchError, HttpPolicy, get_json, make_session
from .base import ConnSpec, Fact, OpenInterest, Venue, VenueError, chunk_by_chars, num

MAX_ARGS_CHARS = 20000  # documented limit 21,000 per connection; keep a margin
ARGS_PER_MESSAGE = 50


def parse_bybit(frame: str | bytes, *, inverse: bool, now_ms: int | None = None) -> Parsed:
    """An ``allLiquidation.{symbol}`` frame from Bybit's linear or inverse public stream."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    out = Parsed()
    try:
        msg = load_frame(frame)
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
        items = get_field(msg, "data")
        if not isinstance(items, list):
            items = [items]
    except Skip as e:
        out.skipped[e.reason] += 1
        return out
    for item in items:
        try:
            side_raw = get_field(item, "S")
            if side_raw not in ("Buy", "Sell"):
                raise Skip("bad_side", str(side_raw))
            qty = to_positive(get_field(item, "v"), "v")
            price = to_positive(get_field(item, "p"), "p")
            ts = to_timestamp(get_field(item, "T"), now_ms)
            symbol = str(get_field(item, "s"))
            usd = qty if inverse else qty * price
            out.events.append(
                make_event("bybit", symbol, ts, "long" if side_raw == "Buy" else "short", qty, price, usd)
            )
        except Skip as e:
            out.skipped[e.reason] += 1
    return out


class Bybit(Venue):
    name = "bybit"
    title = "Bybit"
    endpoints = {"ws": "wss://stream.bybit.com", "rest": "https://api.bybit.com"}
    streamed = True
    has_open_interest = True
    publishes = Fact(
        "Every liquidation of every linear and inverse symbol on the public websocket: one "
        "`allLiquidation.{symbol}` topic per trading symbol (symbol list refreshed hourly), pushed every "
        "500 ms. No history: only what arrives while the listener is connected.",
        "公开 websocket 上每个 U 本位与币本位交易对的全部强平：每个交易中的交易对订阅一个 "
        "`allLiquidation.{symbol}` 主题（交易对列表每小时刷新），每 500 毫秒推送一次。没有历史数据：只统计"
        "监听程序在线期间收到的强平。",
    )
    throttle = None  # the docs: "push all liquidations" (the old throttled liquidation.{symbol} topic is gone)
    side_rule = Fact(
        '`S: Buy` is a long liquidated, `Sell` a short (the docs: "When you receive a Buy update, this means '
        'that a long position has been liquidated").',
        "`S: Buy` 为多头被强平，`Sell` 为空头被强平（文档原文：收到 Buy 即表示一个多头仓位被强平）。",
    )
    usd_rule = Fact(
        "Linear: `v` (quantity, base coin) × `p` (price). Inverse: `v` is already USD.",
        "U 本位：`v`（数量，币）× `p`（价格）。币本位：`v` 本身即为美元。",
    )
    oi_rule = Fact(
        "`/v5/market/tickers`: the single-side value (`singleOpenInterestValue`, inverse `singleOpenInterest` "
        "in USD) when given, else half the both-sides `openInterestValue` / `openInterest`.",
        "`/v5/market/tickers`：有单边值（`singleOpenInterestValue`，币本位 `singleOpenInterest`，美元）时用单边值，"
        "否则取双边 `openInterestValue` / `openInterest` 的一半。",
    )
    caveats = ()
    doc_urls = {
        "liquidations": "https://bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation",
        "open_interest": "https://bybit-exchange.github.io/docs/v5/market/tickers",
    }
    ping_every = 20.0  # Bybit: {"op": "ping"} every 20 s

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
                    session, f"{self.url('rest')}/v5/market/instruments-info", self.policy, deadline, params=params
                )
                if not isinstance(body, dict) or body.get("retCode") != 0:
                    raise FetchError(self.url("rest"), f"Bybit instruments-info error: {str(body)[:200]}")
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
            for n, chunk in enumerate(chunk_by_chars(topics, MAX_ARGS_CHARS)):
                messages = [
                    json.dumps({"op": "subscribe", "args": chunk[i : i + ARGS_PER_MESSAGE]})
                    for i in range(0, len(chunk), ARGS_PER_MESSAGE)
                ]
                inverse = category == "inverse"
                specs.append(
                    ConnSpec(
                        f"bybit-{category}-{n}",
                        f"{self.url('ws')}/v5/public/{category}",
                        messages,
                        lambda frame, inverse=inverse: parse_bybit(frame, inverse=inverse),
                        ping_text=json.dumps({"op": "ping"}),
                        ping_every=self.ping_every,
                    )
                )
        return specs

    def open_interest_by_symbol(
        self, session: requests.Session, policy: HttpPolicy, deadline: Deadline
    ) -> dict[str, OpenInterest]:
        out: dict[str, OpenInterest] = {}
        for category in ("linear", "inverse"):
            _, body = get_json(
                session, f"{self.url('rest')}/v5/market/tickers", policy, deadline, params={"category": category}
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
                price = item.get("markPrice")
                mark = num(price, "markPrice") if price not in (None, "") else None
                if single not in (None, ""):
                    out[str(item.get("symbol"))] = OpenInterest(num(single, "singleOpenInterest"), mark)
                elif both not in (None, ""):  # both sides counted: one side is half
                    out[str(item.get("symbol"))] = OpenInterest(num(both, "openInterest") / 2, mark)
        return out
