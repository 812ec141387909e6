"""Gate: USDT-margined perpetuals. Polled liquidation history and open interest, no key.

- Liquidations: ``GET /api/v4/futures/usdt/liq_orders`` in windows of at most an hour (Gate refuses wider
  ones; a window that returns the 1,000-row limit is split), incremental from the last poll with
  ``POLL_OVERLAP_MS`` of overlap, 24 h of backfill on a fresh start. Side from the sign of ``size``
  (> 0: a long was liquidated); filled contracts ``|order_size| − |left|`` (decimals) ×
  ``quanto_multiplier`` (``/futures/usdt/contracts``) × ``fill_price``.
- Open interest: ``GET /api/v4/futures/usdt/tickers`` ``total_size`` × multiplier × ``mark_price``.

Django-free.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import requests

from ..events import MAX_AGE_MS, plausible
from ..http import Deadline, HttpPolicy, get_json
from .base import (
    ASSUMED,
    DAY_MS,
    HOUR_MS,
    OBSERVED,
    POLL_OVERLAP_MS,
    THIRD_PARTY,
    Fact,
    OpenInterest,
    PollResult,
    Venue,
    VenueError,
    num,
    signed,
)

CROSS_CHECK_CONTRACT = "BTC_USDT"


class Gate(Venue):
    name = "gate"
    title = "Gate"
    endpoints = {"rest": "https://api.gateio.ws"}
    polled = True
    has_open_interest = True
    publishes = Fact(
        "Every liquidation of USDT-margined perpetuals as a public REST history (`/futures/usdt/liq_orders`), "
        "read in windows of at most an hour (Gate refuses wider ones; a window that returns the 1,000-row "
        "limit is split).",
        "USDT 保证金永续合约的全部强平，以公开 REST 历史接口（`/futures/usdt/liq_orders`）提供，"
        "按不超过一小时的时间窗读取（Gate 拒绝更宽的窗口；返回满 1,000 行的窗口会被拆分）。",
    )
    throttle = None  # the REST history lists every liquidation (the websocket channel, not used, is throttled)
    side_rule = Fact(
        "The sign of `size`: positive is a long liquidated, negative a short (the docs' sample and a captured "
        "live row agree).",
        "看 `size` 的正负：正数为多头被强平，负数为空头被强平（文档示例与实际抓取的数据一致）。",
        OBSERVED,
    )
    usd_rule = Fact(
        "Filled contracts (`|order_size| − |left|`) × `quanto_multiplier` (`/futures/usdt/contracts`) × "
        "`fill_price`. A row without `order_size` is skipped: `size` is the whole position, so a position "
        "closed in steps would be counted at every step.",
        "已成交张数（`|order_size| − |left|`）× `quanto_multiplier`（`/futures/usdt/contracts`）× `fill_price`。"
        "没有 `order_size` 的行被跳过：`size` 是整个仓位，分步平仓会在每一步被重复计算。",
    )
    oi_rule = Fact(
        "`/futures/usdt/tickers` `total_size` × `quanto_multiplier` × `mark_price` (cryptofeed reads "
        "`total_size` the same way; its equality with the position size is unverified).",
        "`/futures/usdt/tickers` 的 `total_size` × `quanto_multiplier` × `mark_price`（cryptofeed 同样使用 "
        "`total_size`；它是否等于持仓规模未经核实）。",
        THIRD_PARTY,
    )
    caveats = (
        Fact(
            "How far back the history goes is undocumented: a fresh start asks for the last 24 hours, which "
            "Gate may not hold in full.",
            "历史数据保留多久没有文档说明：首次启动会请求最近 24 小时，Gate 未必能全部提供。",
            ASSUMED,
        ),
    )
    doc_urls = {
        "liquidations": "https://www.gate.com/docs/developers/apiv4/en/futures",
        "open_interest": "https://www.gate.com/docs/developers/apiv4/en/futures",
    }

    def poll(
        self,
        session: requests.Session,
        policy: HttpPolicy,
        deadline: Deadline,
        state: dict[str, Any],
        now_ms: int,
        skipped: Counter[str],
    ) -> PollResult:
        """Gate: incremental windows of <= 1 h (its limit) from the last poll; 24 h backfill when fresh.

        Side from the sign of ``size`` (> 0: a long was liquidated). Filled contracts are
        ``|order_size| - |left|`` (the liquidation order less what it left unfilled), × ``quanto_multiplier``
        × ``fill_price``; see ``_gate_event``.
        """
        multipliers = self._multipliers(session, policy, deadline)
        last_ms = state.get("last_ms")
        continuing = isinstance(last_ms, int) and last_ms >= now_ms - DAY_MS + HOUR_MS
        start_ms = last_ms - POLL_OVERLAP_MS if continuing else now_ms - DAY_MS
        since_ms = state.get("since_ms", start_ms) if continuing else start_ms
        events: list[dict[str, Any]] = []
        url = f"{self.url('rest')}/api/v4/futures/usdt/liq_orders"
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
                event = self._event(item, multipliers, now_ms)
                if isinstance(event, str):
                    skipped[event] += 1
                else:
                    events.append(event)
        return events, since_ms, now_ms

    def _multipliers(self, session: requests.Session, policy: HttpPolicy, deadline: Deadline) -> dict[str, float]:
        _, body = get_json(session, f"{self.url('rest')}/api/v4/futures/usdt/contracts", policy, deadline)
        if isinstance(body, dict) and "label" in body:
            raise VenueError(f"Gate contracts {body.get('label')}: {body.get('message')}")
        if not isinstance(body, list) or not body:
            raise VenueError("Gate contracts: empty or not a list")
        out = {}
        for item in body:
            try:
                out[str(item["name"])] = num(item.get("quanto_multiplier"), "quanto_multiplier")
            except (KeyError, TypeError, VenueError):
                continue
        return out

    @staticmethod
    def _event(item: Any, multipliers: dict[str, float], now_ms: int) -> dict[str, Any] | str:
        """The event for one ``liq_orders`` row, or the reason it is skipped.

        Filled contracts are ``|order_size| − |left|``. A row without ``order_size`` is skipped
        (``no_order_size``): ``size`` is the whole position, so a position closed in steps would be
        counted again at every step. Sizes are decimals (``"4.2"``) and ``|order_size|`` may differ
        from ``|size|`` (size −1835, order_size 309): never assumed equal."""
        if isinstance(item, dict) and "order_size" not in item:
            return "no_order_size"
        try:
            contract = str(item["contract"])
            size = signed(item["size"], "size")
            order_size = abs(signed(item["order_size"], "order_size"))
            left = abs(signed(item.get("left", 0), "left"))
            price = num(item["fill_price"], "fill_price")
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

    def open_interest_by_symbol(
        self, session: requests.Session, policy: HttpPolicy, deadline: Deadline
    ) -> dict[str, OpenInterest]:
        multipliers = self._multipliers(session, policy, deadline)
        _, body = get_json(session, f"{self.url('rest')}/api/v4/futures/usdt/tickers", policy, deadline)
        if isinstance(body, dict) and "label" in body:
            raise VenueError(f"Gate tickers {body.get('label')}: {body.get('message')}")
        if not isinstance(body, list) or not body:
            raise VenueError("Gate tickers: empty or not a list")
        out: dict[str, OpenInterest] = {}
        for item in body:
            multiplier = multipliers.get(str(item.get("contract")))
            if multiplier is None:
                continue
            size, mark = num(item.get("total_size"), "total_size"), num(item.get("mark_price"), "mark_price")
            out[str(item.get("contract"))] = OpenInterest(size * multiplier * mark, mark)
        return out

    def cross_check(
        self, session: requests.Session, policy: HttpPolicy, deadline: Deadline, events: list[dict[str, Any]]
    ) -> list[str]:
        """``contract_stats`` (5-minute buckets of ``long_liq_usd`` + ``short_liq_usd``) against the sum of
        ``liq_orders`` for BTC_USDT over the buckets the events cover: two figures Gate publishes for the
        same liquidations, so their ratio needs no outside reference."""
        _, body = get_json(
            session,
            f"{self.url('rest')}/api/v4/futures/usdt/contract_stats",
            policy,
            deadline,
            params={"contract": CROSS_CHECK_CONTRACT, "interval": "5m", "limit": "4"},
        )
        if not isinstance(body, list):
            return [f"contract_stats: unexpected answer {str(body)[:80]}"]
        stats, orders = 0.0, 0.0
        for bucket in body[:-1]:  # the newest bucket is still filling
            try:
                start = int(bucket["time"]) * 1000
                stats += num(bucket.get("long_liq_usd", 0), "long_liq_usd") + num(
                    bucket.get("short_liq_usd", 0), "short_liq_usd"
                )
            except (KeyError, TypeError, ValueError, VenueError):
                continue
            orders += sum(
                e["usd"]
                for e in events
                if e["symbol"] == CROSS_CHECK_CONTRACT and start <= e["ts_ms"] < start + 300_000
            )
        lines = []
        if stats <= 0 and orders <= 0:
            lines.append(f"{CROSS_CHECK_CONTRACT}: no liquidations in the last buckets to compare")
        else:
            ratio = "∞" if stats <= 0 else f"{orders / stats:.2f}"
            lines.append(
                f"{CROSS_CHECK_CONTRACT} liq_orders {orders:,.2f} USD vs contract_stats {stats:,.2f} USD: ratio {ratio}"
            )
        # Open interest from two endpoints: tickers' total_size × multiplier × mark against contract_stats'
        # open_interest_usd of the newest bucket.
        try:
            stats_oi = num(body[-1].get("open_interest_usd"), "open_interest_usd") if body else 0.0
            tickers_oi = self.open_interest_by_symbol(session, policy, deadline).get(CROSS_CHECK_CONTRACT)
        except (VenueError, AttributeError, TypeError) as e:
            return [*lines, f"{CROSS_CHECK_CONTRACT} open interest cross-check not possible: {e}"]
        if tickers_oi is not None and stats_oi > 0:
            lines.append(
                f"{CROSS_CHECK_CONTRACT} open interest tickers {tickers_oi.usd:,.0f} USD vs contract_stats "
                f"{stats_oi:,.0f} USD: ratio {tickers_oi.usd / stats_oi:.2f}"
            )
        return lines
