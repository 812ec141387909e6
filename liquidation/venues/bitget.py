"""Bitget: USDT-, coin- and USDC-margined futures. Polled liquidation history, no key.

``GET /api/v3/market/liquidations`` for each category, cursor pages newest first, back to the last poll
(with ``POLL_OVERLAP_MS`` of overlap) or 24 h when fresh, at most ``MAX_PAGES`` pages per category a minute,
``PACE`` seconds between calls (Bitget allows 5 a second per address). ``side: buy`` is a long liquidated
(aggr's adapter); ``amount`` is in the base coin (real BTCUSDT rows: 0.0009, 0.3463 and 1.2128 at about
84,000; as USD they would be below the minimum order), so USD = ``amount × price``. The unit of the
websocket channel's ``amount`` is unsettled (its doc says quote coin, its example is copied from the
ticker page): it is not used.

Django-free.
"""

from __future__ import annotations

import time
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
    PollResult,
    Venue,
    VenueError,
    num,
)

CATEGORIES = ("USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES")
MAX_PAGES = 25
PACE = 0.25


class Bitget(Venue):
    name = "bitget"
    title = "Bitget"
    endpoints = {"rest": "https://api.bitget.com"}
    polled = True
    publishes = Fact(
        f"Liquidations of USDT-, coin- and USDC-margined futures as a public REST history "
        f"(`/api/v3/market/liquidations`), newest first in cursor pages (at most {MAX_PAGES} pages per "
        f'category a minute, 5 calls a second allowed). About 3 days deep, and "data may be delayed" '
        f"(a third-party summary of the docs).",
        f"USDT、币本位与 USDC 保证金合约的强平，以公开 REST 历史接口（`/api/v3/market/liquidations`）提供，"
        f"按游标分页、从新到旧（每个品类每分钟最多 {MAX_PAGES} 页，限速每秒 5 次）。约保留 3 天，"
        f"且“数据可能延迟”（第三方对文档的摘要）。",
        THIRD_PARTY,
    )
    throttle = Fact(
        "Only the largest liquidation per side per pair per second: documented for Bitget's websocket "
        "channel, assumed to hold for the REST history read here.",
        "每个交易对每个方向每秒只公布最大的一笔强平：Bitget 的 websocket 频道文档如此说明，"
        "此处读取的 REST 历史假设同样如此。",
        ASSUMED,
    )
    side_rule = Fact(
        "`side: buy` is a long liquidated, `sell` a short (aggr's Bitget adapter).",
        "`side: buy` 为多头被强平，`sell` 为空头被强平（aggr 的 Bitget 适配器）。",
        THIRD_PARTY,
    )
    usd_rule = Fact(
        "`amount` is in the base coin, so USD = `amount × price`: real BTCUSDT rows hold 0.0009, 0.3463 and "
        "1.2128 at about 84,000, which as USD would be below the minimum order.",
        "`amount` 以币计，因此美元金额 = `amount × price`：实际抓取的 BTCUSDT 数据为 0.0009、0.3463、1.2128"
        "（价格约 84,000），若按美元理解则低于最小下单量。",
        OBSERVED,
    )
    oi_rule = None  # open interest is not read from Bitget
    caveats = (
        Fact(
            "The websocket channel's `amount` unit is unsettled (its doc says quote coin, its example is copied "
            "from the ticker page): the channel is not used.",
            "websocket 频道中 `amount` 的单位尚无定论（文档称计价币，示例抄自行情页）：因此不使用该频道。",
            ASSUMED,
        ),
    )
    doc_urls = {"liquidations": "https://www.bitget.com/api-doc/uta/public/Get-Liquidations"}
    show_units = True

    def poll(
        self,
        session: requests.Session,
        policy: HttpPolicy,
        deadline: Deadline,
        state: dict[str, Any],
        now_ms: int,
        skipped: Counter[str],
    ) -> PollResult:
        """Bitget: cursor pages, newest first, back to the last poll (24 h when fresh, at most
        MAX_PAGES pages per category a minute). ``side: buy`` is a long liquidated; ``amount``
        is in the base coin (real BTCUSDT rows: 0.0009, 0.3463, 1.2128 at about 84,000; as USD they
        would be below the minimum order), so USD = ``amount × price``."""
        last_ms = state.get("last_ms")
        continuing = isinstance(last_ms, int) and last_ms >= now_ms - DAY_MS + HOUR_MS
        floor_ms = last_ms - POLL_OVERLAP_MS if continuing else now_ms - DAY_MS
        reached_ms = floor_ms
        events: list[dict[str, Any]] = []
        url = f"{self.url('rest')}/api/v3/market/liquidations"
        calls = 0
        for category in CATEGORIES:
            cursor = ""
            category_oldest = now_ms
            for _ in range(MAX_PAGES):
                if calls:
                    time.sleep(PACE if self.pace is None else self.pace)
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
                    event = self._event(item, now_ms)
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
    def _event(item: Any, now_ms: int) -> dict[str, Any] | None:
        try:
            side = item["side"]
            price = num(item["price"], "price")
            amount = num(item["amount"], "amount")  # base coin
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
