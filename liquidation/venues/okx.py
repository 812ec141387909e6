"""OKX v5: the liquidation-orders channel for SWAP and FUTURES, and open interest, no key.

- Liquidations: ``liquidation-orders`` for SWAP and FUTURES on the public websocket, text ``ping``
  before OKX's 30-second silence cut. The liquidated side is ``posSide``, or, when ``posSide`` is
  ``net``, the opposite of the order ``side``. Linear ``sz × ctVal × bkPx`` USD; inverse (``ctValCcy``
  USD) ``sz × ctVal``; contract values from ``/api/v5/public/instruments`` (``ctMult`` assumed 1).
- Open interest: ``/api/v5/public/open-interest`` ``oiUsd`` ("open interest in number of USD").

Django-free.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import requests

from ..events import Parsed, Skip, get_field, load_frame, make_event, to_positive, to_timestamp
from ..http import Deadline, FetchError, HttpPolicy, get_json, make_session
from ..records import RecordError, parse_number
from .base import ASSUMED, ConnSpec, Fact, OpenInterest, Venue, VenueError, num


@dataclass(frozen=True)
class Contract:
    """What converting a contract count to USD needs (OKX)."""

    ct_val: float
    ct_val_ccy: str
    inverse: bool


def parse_okx(frame: str | bytes, contracts: dict[str, Contract], now_ms: int | None = None) -> Parsed:
    """A ``liquidation-orders`` push (or ``pong``, subscribe ack, error envelope) from OKX."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    out = Parsed()
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    if text.strip() == "pong":
        out.control = True
        return out
    try:
        msg = load_frame(text)
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
        groups = get_field(msg, "data")
        if not isinstance(groups, list):
            raise Skip("missing_field", "data")
    except Skip as e:
        out.skipped[e.reason] += 1
        return out
    for group in groups:
        try:
            inst = str(get_field(group, "instId"))
            details = get_field(group, "details")
        except Skip as e:
            out.skipped[e.reason] += 1
            continue
        for detail in details if isinstance(details, list) else [details]:
            try:
                contract = contracts.get(inst)
                if contract is None:
                    raise Skip("no_contract", inst)
                pos_side = get_field(detail, "posSide")
                order_side = detail.get("side")
                if pos_side in ("long", "short"):
                    side = pos_side
                elif pos_side == "net" and order_side in ("buy", "sell"):
                    side = "long" if order_side == "sell" else "short"
                else:
                    raise Skip("bad_side", f"{pos_side}/{order_side}")
                size = to_positive(get_field(detail, "sz"), "sz")
                price = to_positive(get_field(detail, "bkPx"), "bkPx")
                ts = to_timestamp(get_field(detail, "ts"), now_ms)
                if contract.inverse:
                    usd = size * contract.ct_val
                    qty = usd / price
                else:
                    qty = size * contract.ct_val
                    usd = qty * price
                out.events.append(make_event("okx", inst, ts, side, round(qty, 12), price, usd))
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


class Okx(Venue):
    name = "okx"
    title = "OKX"
    endpoints = {"ws": "wss://ws.okx.com:8443", "rest": "https://www.okx.com"}
    streamed = True
    has_open_interest = True
    publishes = Fact(
        "Liquidation orders of SWAP and FUTURES contracts on the public websocket's `liquidation-orders` "
        'channel. The docs: this data "doesn\'t represent the total number of liquidations on OKX". No history: '
        "only what arrives while the listener is connected.",
        "公开 websocket `liquidation-orders` 频道上永续（SWAP）与交割（FUTURES）合约的强平订单。文档写明："
        "这些数据并不代表 OKX 的全部强平。没有历史数据：只统计监听程序在线期间收到的订单。",
    )
    throttle = Fact(
        'At most one liquidation per contract per second (the 2025-04 docs: "each contract will only show a '
        'maximum of one order per one-second period"; the 2026 docs keep only "doesn\'t represent the total").',
        "每个合约每秒最多推送一笔强平（2025-04 版文档：每个合约每秒最多只显示一笔订单；2026 版文档只保留了"
        "“并不代表全部强平”）。",
    )
    side_rule = Fact(
        "`posSide` (`long` / `short`) is the liquidated side; for a `net` position, the opposite of the order "
        "`side` (a `sell` closes a long).",
        "`posSide`（`long` / `short`）即被强平的方向；单向持仓（`net`）时取订单 `side` 的反方向（`sell` 平多）。",
    )
    usd_rule = Fact(
        "Linear: `sz` (contracts) × `ctVal` × `bkPx` (bankruptcy price). Inverse (`ctValCcy` USD): `sz` × "
        "`ctVal` USD. Contract values from `/api/v5/public/instruments`.",
        "U 本位：`sz`（张）× `ctVal` × `bkPx`（破产价格）。币本位（`ctValCcy` 为 USD）：`sz` × `ctVal` 美元。"
        "合约面值取自 `/api/v5/public/instruments`。",
    )
    oi_rule = Fact(
        '`/api/v5/public/open-interest` `oiUsd` ("open interest in number of USD"), SWAP + FUTURES.',
        "`/api/v5/public/open-interest` 的 `oiUsd`（以美元计的持仓量），永续 + 交割。",
    )
    caveats = (
        Fact(
            "The contract multiplier `ctMult` is assumed to be 1.",
            "假设合约乘数 `ctMult` 为 1。",
            ASSUMED,
        ),
    )
    doc_urls = {
        "liquidations": "https://www.okx.com/docs-v5/en/#public-data-websocket-liquidation-orders-channel",
        "open_interest": "https://www.okx.com/docs-v5/en/#public-data-rest-api-get-open-interest",
    }
    ping_every = 25.0  # OKX drops a connection silent for 30 s: text "ping" before that

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.contracts: dict[str, Contract] = {}

    def load_contracts(self) -> dict[str, Contract]:
        session = make_session(self.policy)
        contracts: dict[str, Contract] = {}
        try:
            for inst_type in ("SWAP", "FUTURES"):
                deadline = Deadline(self.policy.deadline)
                _, body = get_json(
                    session,
                    f"{self.url('rest')}/api/v5/public/instruments",
                    self.policy,
                    deadline,
                    params={"instType": inst_type},
                )
                try:
                    contracts.update(parse_okx_instruments(body))
                except ValueError as e:
                    raise FetchError(self.url("rest"), str(e)) from e
        finally:
            session.close()
        return contracts

    def plan(self) -> list[ConnSpec]:
        fresh = self.load_contracts()
        self.contracts.clear()  # in place: the parser of a running connection sees the update
        self.contracts.update(fresh)
        subscribe = json.dumps(
            {
                "op": "subscribe",
                "args": [
                    {"channel": "liquidation-orders", "instType": "SWAP"},
                    {"channel": "liquidation-orders", "instType": "FUTURES"},
                ],
            }
        )
        return [
            ConnSpec(
                "okx",
                f"{self.url('ws')}/ws/v5/public",
                [subscribe],
                lambda frame: parse_okx(frame, self.contracts),
                ping_text="ping",
                ping_every=self.ping_every,
            )
        ]

    def open_interest_by_symbol(
        self, session: requests.Session, policy: HttpPolicy, deadline: Deadline
    ) -> dict[str, OpenInterest]:
        out: dict[str, OpenInterest] = {}
        for inst_type in ("SWAP", "FUTURES"):
            _, body = get_json(
                session,
                f"{self.url('rest')}/api/v5/public/open-interest",
                policy,
                deadline,
                params={"instType": inst_type},
            )
            if not isinstance(body, dict) or str(body.get("code")) != "0" or not isinstance(body.get("data"), list):
                raise VenueError(f"OKX open-interest {inst_type}: {str(body)[:160]}")
            for item in body["data"]:
                out[str(item.get("instId"))] = OpenInterest(num(item.get("oiUsd"), "oiUsd"))
        return out
