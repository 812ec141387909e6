"""Alerts (告警): rules over the series, sent to a webhook, Telegram, DingTalk, Feishu/Lark and WeCom.

Rules (``Rule``):

- ``h1_threshold``: the 1 h amount (万 USD) at or above ``fire``; clears below ``clear``;
- ``spike``: the 1 h amount divided by the median of the previous ``hours`` hours at or above ``fire``;
- ``panic_threshold``: the panic index at or above ``fire``;
- ``no_data``: the newest record older than ``fire`` seconds (the stale threshold).

Hysteresis: a rule fires when its value reaches ``fire`` and stays quiet until the value falls below
``clear`` (a separate, lower level), when a "recovered" message goes out. ``cooldown`` seconds must
pass between two firings of a rule. The state lives in a small JSON file replaced atomically, so a
restart neither sends again nor forgets. Several events of one evaluation go out as one message per
channel. A channel that fails is logged and its message retried on the next evaluations (at most
``MAX_ATTEMPTS`` times); sending never raises into the collection.

Django-free; ``conf.alert_config()`` builds the configuration from settings.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .channels import SEND_POLICY, Channel, build_request, dingtalk_sign, feishu_sign, send
from .formatting import format_index, format_wan
from .http import DeadlineExceeded, hard_deadline
from .records import beijing_datetime
from .recordstore import RecordStore
from .sharedfiles import bump
from .statestore import StateStore, as_state
from .store import FUTURE_SLACK

logger = logging.getLogger(__name__)

__all__ = ["Channel", "build_request", "dingtalk_sign", "feishu_sign", "send"]  # re-exported for callers

KINDS = ("h1_threshold", "spike", "panic_threshold", "no_data")
ALERTS = "alerts"  # the state name of the rules' state, the outbox and the send counts
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    fire: float
    clear: float
    cooldown: int = 1800
    hours: int = 6  # spike: the trailing window for the median

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"alert rule {self.name!r}: kind must be one of {', '.join(KINDS)}")
        if self.clear > self.fire:
            raise ValueError(f"alert rule {self.name!r}: clear ({self.clear}) must not be above fire ({self.fire})")


@dataclass
class AlertConfig:
    rules: list[Rule]
    channels: list[Channel]
    state_file: StateStore | Path  # where the alert state is: a state store (name "alerts") or a JSON file
    lang: str = "zh-hans"
    site_url: str = "http://127.0.0.1:8000"


@dataclass
class Event:
    rule: Rule
    kind: str  # "fired" | "recovered"
    value: float


# -- evaluation ------------------------------------------------------------------------------------------


def rule_value(rule: Rule, store: RecordStore, now: float) -> float | None:
    """The rule's current value, or None when it cannot be computed (no data, no history)."""
    latest = store.latest()
    if rule.kind == "no_data":
        if latest is None or latest["timestamp"] > now + FUTURE_SLACK:
            return float("inf")  # nothing, or a record from a clock that jumped: no collection can follow it
        return max(0.0, now - latest["timestamp"])
    if latest is None:
        return None
    if rule.kind == "h1_threshold":
        return float(latest["hour_1_amount"])
    if rule.kind == "panic_threshold":
        return float(latest["panic_index"])
    history = store.range(latest["timestamp"] - rule.hours * 3600, latest["timestamp"] - 1)
    values = [r["hour_1_amount"] for r in history]
    if len(values) < 10:
        return None  # not enough history for a median that means anything
    median = statistics.median(values)
    return None if median <= 0 else latest["hour_1_amount"] / median


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
        value = rule_value(rule, store, now)
        if value is None:
            continue
        st = rules_state.setdefault(rule.name, {"firing": False, "notified": False, "last_fired": 0})
        cooled = now - st.get("last_fired", 0) >= rule.cooldown
        if not st["firing"] and value >= rule.fire:
            st["firing"] = True
            st["notified"] = cooled
            if cooled:
                st["last_fired"] = int(now)
                events.append(Event(rule, "fired", value))
        elif st["firing"] and not st.get("notified") and value >= rule.fire and cooled:
            # It fired again inside the cooldown and is still above the threshold: say so now.
            st["notified"] = True
            st["last_fired"] = int(now)
            events.append(Event(rule, "fired", value))
        elif st["firing"] and value < rule.clear:
            st["firing"] = False
            if st.get("notified"):
                events.append(Event(rule, "recovered", value))
            st["notified"] = False
    return events


# -- messages ------------------------------------------------------------------------------------------

TEXT = {
    "zh-hans": {
        "title": "💥 爆仓告警 (liqsite)",
        "fired": "⚠️ {what} {value}，达到阈值 {fire}",
        "recovered": "✅ 已恢复：{what} {value}，低于 {clear}",
        "h1_threshold": "1小时爆仓金额",
        "spike": "1小时爆仓金额相对过去{hours}小时中位数的倍数",
        "panic_threshold": "恐慌指数",
        "no_data": "最新数据已过去",
        "seconds": "{n} 秒",
        "time": "时间：{when}（北京时间）",
        "link": "查看：{url}",
        "test": "🔔 测试消息：liqsite 告警通道已配置好。",
    },
    "en": {
        "title": "💥 Liquidation alert (liqsite)",
        "fired": "⚠️ {what} {value}, at or above {fire}",
        "recovered": "✅ Recovered: {what} {value}, below {clear}",
        "h1_threshold": "1h liquidations",
        "spike": "1h liquidations vs the median of the last {hours} h",
        "panic_threshold": "Panic index",
        "no_data": "Newest record is",
        "seconds": "{n} s old",
        "time": "Time: {when} (Beijing time)",
        "link": "Open: {url}",
        "test": "🔔 Test message: liqsite alert channel is set up.",
    },
}


def _show(rule: Rule, value: float, lang: str) -> str:
    t = TEXT[lang]
    if rule.kind == "h1_threshold":
        return format_wan(value, lang)
    if rule.kind == "spike":
        return f"{value:.1f}×"
    if rule.kind == "panic_threshold":
        return format_index(value)
    return "∞" if value == float("inf") else t["seconds"].format(n=int(value))


def message(config: AlertConfig, events: list[Event], now: float) -> str:
    """One message for all the events of an evaluation."""
    t = TEXT[config.lang if config.lang in TEXT else "zh-hans"]
    lang = config.lang if config.lang in TEXT else "zh-hans"
    lines = [t["title"]]
    for e in events:
        what = t[e.rule.kind].format(hours=e.rule.hours)
        template = t[e.kind]
        lines.append(
            template.format(
                what=what,
                value=_show(e.rule, e.value, lang),
                fire=_show(e.rule, e.rule.fire, lang),
                clear=_show(e.rule, e.rule.clear, lang),
            )
            + f" [{e.rule.name}]"
        )
    lines.append(t["time"].format(when=beijing_datetime(int(now))))
    lines.append(t["link"].format(url=config.site_url.rstrip("/") + "/panic"))
    return "\n".join(lines)


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
                text = message(config, events, now)
                for channel in config.channels:
                    _queue(state, channel.name).append({"text": text, "attempts": 0})
        started = time.monotonic()
        for channel in config.channels:
            if time.monotonic() - started > budget:
                outcome["sent"][channel.name] = "postponed: the alert time budget is used up"
                continue
            try:
                _deliver(channel, config.state_file, now, outcome)
            except Exception:  # one channel's trouble is that channel's only
                logger.exception("alerts to %s failed; the other channels go on", channel.name)
    except Exception:  # alerts must never break a collection
        logger.exception("alerts failed; the collection is not affected")
    return outcome


def _deliver(channel: Channel, state_file: StateStore | Path, now: float, outcome: dict[str, Any]) -> None:
    """Send what is queued for ``channel``, one message at a time, saving the queue after each send
    (attempts counted even when the send blew up), so a message that cannot go is retried at most
    MAX_ATTEMPTS times and never blocks what comes after it."""
    with _StateFile(state_file) as state:
        pending = len(_queue(state, channel.name))
    for _ in range(pending):
        with _StateFile(state_file) as state:
            queue = _queue(state, channel.name)
            if not queue:
                return
            item = queue[0]
            text = item.get("text") if isinstance(item, dict) else None
            attempts = item.get("attempts") if isinstance(item, dict) else None
            attempts = attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 0
            reason: str | None
            if not isinstance(text, str):
                reason = "a queued message that is not text: dropped"
                attempts = MAX_ATTEMPTS
            else:
                try:
                    with hard_deadline(SEND_POLICY.deadline + 2, f"alert to {channel.name}"):
                        reason = send(channel, text, now)
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
                    queue.append({"text": text, "attempts": attempts})  # behind the others: it blocks nothing


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


def load_rules(path: Path | None, env_rules: list[Rule]) -> list[Rule]:
    """Rules from a JSON file ``{"rules": [{"name", "kind", "fire", "clear", "cooldown", "hours"}]}``,
    else the ones from environment variables."""
    if path is None:
        return env_rules
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Rule(**item) for item in data.get("rules", [])]
