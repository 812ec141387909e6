"""Hyperliquid: open interest only (no public liquidation feed), no key.

``POST /info`` ``{"type": "metaAndAssetCtxs"}``: Σ ``openInterest`` (coins) × ``markPx`` over the main
dex's universe (HIP-3 dexes are not counted).

Django-free.
"""

from __future__ import annotations

import requests

from ..http import Deadline, HttpPolicy, get_json
from .base import OpenInterest, Venue, VenueError, num


class Hyperliquid(Venue):
    name = "hyperliquid"
    title = "Hyperliquid"
    endpoints = {"rest": "https://api.hyperliquid.xyz"}
    has_open_interest = True
    publishes = "open interest of the main dex (no public liquidation feed)"

    def open_interest_by_symbol(
        self, session: requests.Session, policy: HttpPolicy, deadline: Deadline
    ) -> dict[str, OpenInterest]:
        _, body = get_json(
            session, f"{self.url('rest')}/info", policy, deadline, json_body={"type": "metaAndAssetCtxs"}
        )
        if not (isinstance(body, list) and len(body) == 2 and isinstance(body[0], dict) and isinstance(body[1], list)):
            raise VenueError("Hyperliquid metaAndAssetCtxs: unexpected shape")
        universe = body[0].get("universe") or []
        if len(universe) != len(body[1]):
            raise VenueError("Hyperliquid metaAndAssetCtxs: universe and contexts differ in length")
        out: dict[str, OpenInterest] = {}
        for meta, ctx in zip(universe, body[1], strict=True):
            mark = num(ctx.get("markPx"), "markPx")
            out[str(meta.get("name"))] = OpenInterest(num(ctx.get("openInterest"), "openInterest") * mark, mark)
        return out
