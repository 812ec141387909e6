"""Alerts (告警): rules over the series and the minute buckets, sent to every configured channel.

Rules (``alertrules.Rule``; kinds and their values are listed there): the 1 h amount, its spike over the
trailing median, the panic index, stale data, a single large liquidation and one coin's hour.

Hysteresis: a rule fires when its value reaches ``fire`` and stays quiet until the value falls below
``clear`` (a separate, lower level), when a "recovered" message goes out. ``cooldown`` seconds must
pass between two firings of a rule. The state (the rules', the outbox, the send counts) is one value of
the state store (a JSON file replaced atomically, or a row in PostgreSQL shared by every collector),
changed with no other writer in between, so a restart neither sends again nor forgets and two collectors
do not both announce. Several events of one evaluation go out as one message per channel, rendered for
it (``alertmessages``; ``channels``: Apprise URLs and our own signed webhooks). A channel that fails is
logged and its message retried on the next evaluations (at most ``MAX_ATTEMPTS`` times, behind the
others); sending never raises into the collection.

Django-free; ``conf.alert_config()`` builds the configuration from settings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import alertmessages
from .alertrules import KINDS, Depth, Rule, load_rules, rule_value
from .channels import SEND_POLICY, Channel
from .http import DeadlineExceeded, hard_deadline
from .recordstore import RecordStore
from .sharedfiles import bump
from .statestore import StateStore, as_state

logger = logging.getLogger(__name__)

__all__ = ["KINDS", "AlertConfig", "Event", "Rule", "evaluate", "load_rules", "message", "run_alerts"]

ALERTS = "alerts"  # the state name of the rules' state, the outbox and the send counts
MAX_ATTEMPTS = 5


@dataclass
class AlertConfig:
    rules: list[Rule]
    channels: list[Channel]
    state_file: StateStore | Path  # where the alert state is: a state store (name "alerts") or a JSON file
    lang: str = "zh-hans"
    site_url: str = "http://127.0.0.1:8000"
    depth: Depth | None = None  # the minute buckets' reader, for the depth rules (None: no buckets)


@dataclass
class Event:
    rule: Rule
    kind: str  # "fired" | "recovered"
    value: float
    detail: str = ""  # what the value is of (a coin; an order's venue, symbol and side)


# -- evaluation ------------------------------------------------------------------------------------------


def evaluate(config: AlertConfig, store: RecordStore, now: float, *, kinds: tuple[str, ...] = KINDS) -> list[Event]:
    """Update the rules' state for ``now`` and return the events to announce (state saved)."""
    with _StateFile(config.state_file) as state:
        return _evaluate(config, state, store, now, kinds)


def _evaluate(
    config: AlertConfig, state: dict[str, Any], store: RecordStore, now: float, kinds: tuple[str, ...]
) -> list[Event]:
    events: list[Event] = []
    if not isinstance(state.get("rules"), dict):
        state["rules"] = {}
    rules_state = state["rules"]
    for rule in config.rules:
        if rule.kind not in kinds:
            continue
        got = rule_value(rule, store, now, config.depth)
        if got is None:
            continue
        value, detail = got.value, got.detail
        st = rules_state.setdefault(rule.name, {"firing": False, "notified": False, "last_fired": 0})
        cooled = now - st.get("last_fired", 0) >= rule.cooldown
        if not st["firing"] and value >= rule.fire:
            st["firing"] = True
            st["notified"] = cooled
            if cooled:
                st["last_fired"] = int(now)
                events.append(Event(rule, "fired", value, detail))
        elif st["firing"] and not st.get("notified") and value >= rule.fire and cooled:
            # It fired again inside the cooldown and is still above the threshold: say so now.
            st["notified"] = True
            st["last_fired"] = int(now)
            events.append(Event(rule, "fired", value, detail))
        elif st["firing"] and value < rule.clear:
            st["firing"] = False
            if st.get("notified"):
                events.append(Event(rule, "recovered", value, detail))
            st["notified"] = False
    return events


def message(config: AlertConfig, events: list[Event], now: float, store: RecordStore | None = None) -> str:
    """The plain-text message of ``events`` (what the legacy channels send)."""
    return alertmessages.message(events, now, lang=config.lang, site_url=config.site_url, store=store).text


# -- the whole step ---------------------------------------------------------------------------------


def run_alerts(
    config_factory: Callable[[], AlertConfig] | AlertConfig,
    store: RecordStore,
    now: float | None = None,
    *,
    kinds: tuple[str, ...] = KINDS,
    budget: float = 20.0,
) -> dict[str, Any]:
    """Evaluate, queue new events for every channel, then send what is queued. Never raises.

    Evaluation and queueing are saved together, so a crash cannot mark an alert as fired without
    its message waiting in the outbox (delivery is at least once). Each send is bounded (its own
    timeouts, a capped body, and a hard deadline in the main thread); ``budget`` seconds bound them
    all, so alerts can never hold the minute's collection. Returns {"events": n, "sent": {…}}.
    """
    now = time.time() if now is None else now
    outcome: dict[str, Any] = {"events": 0, "sent": {}}
    try:
        config = config_factory() if callable(config_factory) else config_factory
        if not config.rules or not config.channels:
            return outcome
        with _StateFile(config.state_file) as state:
            events = _evaluate(config, state, store, now, kinds)
            outcome["events"] = len(events)
            if events:
                rendered = alertmessages.message(events, now, lang=config.lang, site_url=config.site_url, store=store)
                for channel in config.channels:
                    _queue(state, channel.name).append({**channel.render(rendered), "attempts": 0})
        started = time.monotonic()
        for channel in config.channels:
            if time.monotonic() - started > budget:
                outcome["sent"][channel.name] = "postponed: the alert time budget is used up"
                continue
            try:
                _deliver(channel, config.state_file, now, outcome, started + budget)
            except Exception:  # one channel's trouble is that channel's only
                logger.exception("alerts to %s failed; the other channels go on", channel.name)
    except Exception:  # alerts must never break a collection
        logger.exception("alerts failed; the collection is not affected")
    return outcome


def _deliver(
    channel: Channel, state_file: StateStore | Path, now: float, outcome: dict[str, Any], until: float
) -> None:
    """Send what is queued for ``channel``, one message at a time, saving the queue after each send
    (attempts counted even when the send blew up), so a message that cannot go is retried at most
    MAX_ATTEMPTS times and never blocks what comes after it. No send starts after ``until`` (monotonic):
    a channel with a long queue cannot hold the collection past the alert budget."""
    with _StateFile(state_file) as state:
        pending = len(_queue(state, channel.name))
    for _ in range(pending):
        if time.monotonic() > until:  # the rest waits for the next evaluation, in order
            outcome["sent"].setdefault(channel.name, "postponed: the alert time budget is used up")
            return
        with _StateFile(state_file) as state:
            queue = _queue(state, channel.name)
            if not queue:
                return
            item = queue[0]
            text = item.get("text") if isinstance(item, dict) else None
            kept = {k: v for k, v in item.items() if k in ("title", "format") and isinstance(v, str)} if text else {}
            attempts = item.get("attempts") if isinstance(item, dict) else None
            attempts = attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 0
            reason: str | None
            if not isinstance(text, str):
                reason = "a queued message that is not text: dropped"
                attempts = MAX_ATTEMPTS
            else:
                try:
                    with hard_deadline(SEND_POLICY.deadline + 2, f"alert to {channel.name}"):
                        reason = channel.send({**kept, "text": text}, now)
                except DeadlineExceeded as e:
                    reason = str(e)
                except Exception as e:  # send does not raise; this is the backstop
                    reason = f"{e.__class__.__name__}"
            attempts += 1
            result = "ok" if reason is None else "error"
            state["sends"] = bump(state.get("sends"), result, channel.name)
            outcome["sent"][channel.name] = "ok" if reason is None else reason
            queue.pop(0)
            if reason is not None:
                logger.warning(
                    "alert to %s failed (attempt %d of %d): %s", channel.name, attempts, MAX_ATTEMPTS, reason
                )
                if attempts < MAX_ATTEMPTS:
                    queue.append({**kept, "text": text, "attempts": attempts})  # behind the others: it blocks nothing


def _queue(state: dict[str, Any], name: str) -> list[Any]:
    """The outbox list for ``name`` in ``state`` (repaired to a list when the file held anything else)."""
    outbox = state.get("outbox")
    if not isinstance(outbox, dict):
        outbox = state["outbox"] = {}
    queue = outbox.get(name)
    if not isinstance(queue, list):
        queue = outbox[name] = []
    return queue


def _StateFile(where: StateStore | Path) -> AbstractContextManager[dict[str, Any]]:
    """Read-modify-write of the alert state (state ``alerts``: a JSON file, or a row shared by every
    collector) with no other writer in between; saved when the block ends without an exception."""
    return as_state(where, ALERTS).locked(ALERTS)
