"""A venue is a unit: a toy venue module added to the registry is listened to, summed, shown in the status
endpoint and named on the page with no other change. And the registry is the only list of venues."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from liquidation import venues as registry
from liquidation.events import Parsed, load_frame, make_event
from liquidation.eventstore import EventStore
from liquidation.exchanges import ExchangesSource
from liquidation.http import Deadline, HttpPolicy, make_session
from liquidation.streams import Listener
from liquidation.venues.base import ConnSpec, OpenInterest, Venue
from tests.conftest import PROJECT
from tests.ws_server import WsServer, listen_in_thread


def parse_toy(frame: str | bytes) -> Parsed:
    out = Parsed()
    msg = load_frame(frame)
    out.events.append(
        make_event("toy", msg["sym"], msg["t"], msg["side"], msg["qty"], msg["px"], msg["qty"] * msg["px"])
    )
    return out


class Toy(Venue):
    name = "toy"
    title = "ToyEx"
    endpoints = {"ws": "ws://127.0.0.1:9", "rest": "http://127.0.0.1:9"}
    streamed = True
    has_open_interest = True
    publishes = "a toy stream"

    def plan(self) -> list[ConnSpec]:
        return [ConnSpec("toy", f"{self.url('ws')}/liq", [], parse_toy)]

    def open_interest_by_symbol(self, session, policy, deadline) -> dict[str, OpenInterest]:
        return {"TOYUSDT": OpenInterest(5e9, 50_000.0)}


@pytest.fixture
def toy_registry(monkeypatch):
    monkeypatch.setattr(registry, "VENUES", (*registry.VENUES, Toy))


def test_a_toy_venue_is_listened_to_summed_shown_and_named_with_no_other_change(toy_registry, liq_settings, tmp_path):
    events_dir = tmp_path / "events"
    now_ms = int(time.time() * 1000)
    ws = WsServer().start()

    async def play(conn, n):
        frame = {"sym": "TOYUSDT", "t": now_ms - 5_000, "side": "long", "qty": 2.0, "px": 50_000.0}
        await conn.send(json.dumps(frame))
        await asyncio.sleep(30)

    ws.route("/liq", play)
    (listened,) = registry.build(["toy"], urls={"EXCHANGE_TOY_WS_URL": ws.url()})
    listener = Listener(EventStore(events_dir), [listened], events_dir / "status.json", status_interval=0.2)
    halt = listen_in_thread(listener)
    try:
        end = time.monotonic() + 10
        status_file = events_dir / "status.json"
        while time.monotonic() < end:
            status = json.loads(status_file.read_text()) if status_file.exists() else {}
            if (status.get("venues") or {}).get("toy", {}).get("events_stored") == 1:
                break
            time.sleep(0.1)
        source = ExchangesSource(events_dir, venues=["toy"])
        deadline = Deadline(5)
        session = make_session(HttpPolicy(), deadline)
        reading = source.fetch(session, HttpPolicy(), deadline)
        session.close()
    finally:
        halt()
        ws.stop()
    assert reading.extra["by_exchange"]["toy"] == {
        "hour_1": 10.0,  # 100,000 USD in 万
        "hour_24": 10.0,
        "hour_1_long": 10.0,
        "hour_1_short": 0.0,
        "hour_24_long": 10.0,
        "hour_24_short": 0.0,
        "open_interest": 50.0,  # 5e9 USD in 亿
    }
    assert reading.extra["coverage"]["venues"] == ["toy"]
    liq_settings.LIQUIDATION_EVENTS_DIR = events_dir
    body = APIClient().get("/api/liquidation-1h/status?format=json").json()
    assert body["streams"]["venues"]["toy"]["events_stored"] == 1
    page = APIClient().get("/panic").content.decode()
    assert '"toy": "ToyEx"' in page  # the page names it by its proper name


def test_the_registry_is_the_only_list_of_venues():
    """Outside liquidation/venues/, production code names no venue but in comments and docstrings."""
    names = re.compile(r"binance|bybit|okx|\bgate\b|gate_|bitget|hyperliquid", re.I)
    offenders = []
    files = [*Path(PROJECT, "liquidation").glob("*.py"), *Path(PROJECT, "liquidation").glob("views/*.py")]
    files += [*Path(PROJECT, "liquidation/management").rglob("*.py"), *Path(PROJECT, "liqsite").glob("*.py")]
    for path in files:
        in_doc = False
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            stripped = line.strip()
            if stripped.count('"""') == 1:
                in_doc = not in_doc
                continue
            if in_doc or stripped.startswith("#") or stripped.startswith('"""'):
                continue
            code = line.split("#", 1)[0]
            if names.search(code):
                offenders.append(f"{path.relative_to(PROJECT)}:{n}: {stripped}")
    assert offenders == []


#: The methodology facts each venue module must declare in its own class body (not inherit), so the
#: /methodology page states each venue's own answer.
DECLARED_FACTS = ("publishes", "throttle", "side_rule", "usd_rule", "oi_rule", "caveats", "doc_urls")


@pytest.mark.parametrize("venue", registry.VENUES, ids=lambda v: v.name)
def test_every_registered_venue_declares_its_methodology_facts(venue):
    from liquidation.venues.base import Fact

    missing = [attr for attr in DECLARED_FACTS if attr not in vars(venue)]
    assert missing == [], f"{venue.name} does not declare {missing}"
    assert venue.title
    assert isinstance(venue.publishes, Fact)
    assert venue.throttle is None or isinstance(venue.throttle, Fact)
    has_feed = venue.streamed or venue.polled
    for attr in ("side_rule", "usd_rule"):  # how the side and the amount are read: only with a feed
        assert isinstance(getattr(venue, attr), Fact) if has_feed else getattr(venue, attr) is None, attr
    assert isinstance(venue.oi_rule, Fact) if venue.has_open_interest else venue.oi_rule is None
    assert venue.throttle is None or has_feed  # only a feed can be throttled
    assert isinstance(venue.caveats, tuple) and all(isinstance(c, Fact) for c in venue.caveats)
    assert set(venue.doc_urls) <= {"liquidations", "open_interest"}
    assert ("liquidations" in venue.doc_urls) == has_feed
    assert ("open_interest" in venue.doc_urls) == venue.has_open_interest
    assert all(url.startswith("https://") for url in venue.doc_urls.values())
