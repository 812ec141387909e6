"""Hyperliquid: open interest only (no public liquidation feed), no key.

``POST /info`` ``{"type": "metaAndAssetCtxs"}``: Σ ``openInterest`` (coins) × ``markPx`` over the main
dex's universe (HIP-3 dexes are not counted).

Django-free.
"""

from __future__ import annotations

import requests

from ..http import Deadline, HttpPolicy, get_json
from .base import THIRD_PARTY, Fact, OpenInterest, Venue, VenueError, num


class Hyperliquid(Venue):
    name = "hyperliquid"
    title = "Hyperliquid"
    endpoints = {"rest": "https://api.hyperliquid.xyz"}
    has_open_interest = True
    publishes = Fact(
        "Open interest only: Hyperliquid has no public market-wide liquidation feed (its public websocket "
        "gives per-wallet fills), so its liquidations are not counted.",
        "仅持仓量：Hyperliquid 没有公开的全市场强平数据（公开 websocket 只提供单个钱包的成交），因此其强平不计入。",
        THIRD_PARTY,
    )
    throttle = None  # no liquidation feed at all
    side_rule = None
    usd_rule = None
    oi_rule = Fact(
        "`POST /info` `metaAndAssetCtxs`: Σ `openInterest` (coins) × `markPx` over the main dex's universe; "
        "HIP-3 dexes are not counted.",
        "`POST /info` `metaAndAssetCtxs`：主 dex 全部合约的 Σ `openInterest`（币）× `markPx`；HIP-3 dex 不计入。",
    )
    caveats = ()
    doc_urls = {
        "open_interest": "https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals"
    }

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
