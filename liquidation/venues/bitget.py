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
from .base import DAY_MS, HOUR_MS, POLL_OVERLAP_MS, PollResult, Venue, VenueError, num

CATEGORIES = ("USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES")
MAX_PAGES = 25
PACE = 0.25


class Bitget(Venue):
    name = "bitget"
    title = "Bitget"
    endpoints = {"rest": "https://api.bitget.com"}
    polled = True
    publishes = "liquidations as a REST history, newest first"
    lower_bound = "publishes only the largest liquidation per side per pair per interval"
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
