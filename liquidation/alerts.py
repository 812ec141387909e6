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

import base64
import hashlib
import hmac
import json
import logging
import os
import statistics
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from .formatting import format_index, format_wan
from .http import (
    Deadline,
    DeadlineExceeded,
    FetchError,
    HttpPolicy,
    hard_deadline,
    make_session,
    parse_json_body,
    redact_url,
)
from .records import beijing_datetime
from .store import FileLock, JsonlStore

logger = logging.getLogger(__name__)

KINDS = ("h1_threshold", "spike", "panic_threshold", "no_data")
MAX_ATTEMPTS = 5
SEND_POLICY = HttpPolicy(connect_timeout=3, read_timeout=5, retries=0, backoff=0.2, deadline=8)


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
class Channel:
    """One destination. ``kind``: webhook | telegram | dingtalk | feishu | wecom."""

    kind: str
    url: str
    secret: str = ""
    chat_id: str = ""

    @property
    def name(self) -> str:
        return self.kind


@dataclass
class AlertConfig:
    rules: list[Rule]
    channels: list[Channel]
    state_file: Path
    lang: str = "zh-hans"
    site_url: str = "http://127.0.0.1:8000"


@dataclass
class Event:
    rule: Rule
    kind: str  # "fired" | "recovered"
    value: float


# -- evaluation ------------------------------------------------------------------------------------------


def rule_value(rule: Rule, store: JsonlStore, now: float) -> float | None:
    """The rule's current value, or None when it cannot be computed (no data, no history)."""
    latest = store.latest()
    if rule.kind == "no_data":
        return float("inf") if latest is None else max(0.0, now - latest["timestamp"])
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


def evaluate(config: AlertConfig, store: JsonlStore, now: float, *, kinds: tuple[str, ...] = KINDS) -> list[Event]:
    """Update the rules' state for ``now`` and return the events to announce (state saved)."""
    with _StateFile(config.state_file) as state:
        return _evaluate(config, state, store, now, kinds)


def _evaluate(
    config: AlertConfig, state: dict[str, Any], store: JsonlStore, now: float, kinds: tuple[str, ...]
) -> list[Event]:
    events: list[Event] = []
    rules_state = state.setdefault("rules", {})
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


# -- channels -------------------------------------------------------------------------------------------


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot 加签: base64(HmacSHA256(key=secret, msg="{timestamp}\\n{secret}")), URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark custom bot: base64(HmacSHA256(key="{timestamp}\\n{secret}", msg=empty))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def build_request(channel: Channel, text: str, now: float) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(url, JSON body, extra headers) for ``channel``, signed as the service requires."""
    if channel.kind == "telegram":
        return channel.url, {"chat_id": channel.chat_id, "text": text, "disable_web_page_preview": True}, {}
    if channel.kind == "dingtalk":
        url = channel.url
        if channel.secret:
            ts = int(now * 1000)
            url += f"{'&' if '?' in url else '?'}timestamp={ts}&sign={dingtalk_sign(channel.secret, ts)}"
        return url, {"msgtype": "text", "text": {"content": text}}, {}
    if channel.kind == "feishu":
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if channel.secret:
            ts = int(now)
            body = {"timestamp": str(ts), "sign": feishu_sign(channel.secret, ts), **body}
        return channel.url, body, {}
    if channel.kind == "wecom":
        return channel.url, {"msgtype": "text", "text": {"content": text}}, {}
    body = {"source": "liqsite", "text": text, "time": int(now)}
    headers = {}
    if channel.secret:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers["X-Liqsite-Signature"] = "sha256=" + hmac.new(channel.secret.encode(), raw, hashlib.sha256).hexdigest()
    return channel.url, body, headers


def _accepted(channel: Channel, status: int, body: Any) -> str | None:
    """None when the service accepted the message, else why not (services answer errors with 200)."""
    if not 200 <= status < 300:
        return f"HTTP {status}"
    if channel.kind == "telegram":
        return None if isinstance(body, dict) and body.get("ok") is True else f"Telegram said {str(body)[:200]}"
    if channel.kind in ("dingtalk", "wecom"):
        return None if isinstance(body, dict) and body.get("errcode") == 0 else f"{channel.kind} said {str(body)[:200]}"
    if channel.kind == "feishu":
        code = body.get("code", body.get("StatusCode")) if isinstance(body, dict) else None
        return None if code == 0 else f"Feishu said {str(body)[:200]}"
    return None


def send(
    channel: Channel, text: str, now: float, session_factory: Callable[[], requests.Session] | None = None
) -> str | None:
    """Deliver ``text`` to one channel; None on success, else the reason (logged, never raised)."""
    url, body, headers = build_request(channel, text, now)
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    deadline = Deadline(SEND_POLICY.deadline)
    session = session_factory() if session_factory else make_session(SEND_POLICY, deadline)
    try:
        response = session.post(
            url,
            data=raw,
            headers={"Content-Type": "application/json; charset=utf-8", **headers},
            timeout=(SEND_POLICY.connect_timeout, SEND_POLICY.read_timeout),
            allow_redirects=False,
            stream=True,
        )
        with response:
            content = response.raw.read(100_000, decode_content=True) or b""
        try:
            parsed = parse_json_body(content, url, response.status_code) if content.strip() else {}
        except FetchError:
            parsed = {}
        return _accepted(channel, response.status_code, parsed)
    except requests.RequestException as e:
        return f"{redact_url(url)}: {e.__class__.__name__}"
    finally:
        session.close()


# -- the whole step ---------------------------------------------------------------------------------


def run_alerts(
    config_factory: Callable[[], AlertConfig] | AlertConfig,
    store: JsonlStore,
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
                outbox = state.setdefault("outbox", {})
                for channel in config.channels:
                    outbox.setdefault(channel.name, []).append({"text": text, "attempts": 0})
        started = time.monotonic()
        for channel in config.channels:
            if time.monotonic() - started > budget:
                outcome["sent"][channel.name] = "postponed: the alert time budget is used up"
                continue
            with _StateFile(config.state_file) as state:
                _deliver(channel, state, now, outcome)
    except Exception:  # alerts must never break a collection
        logger.exception("alerts failed; the collection is not affected")
    return outcome


def _deliver(channel: Channel, state: dict[str, Any], now: float, outcome: dict[str, Any]) -> None:
    outbox = state.setdefault("outbox", {})
    sends = state.setdefault("sends", {})
    kept = []
    for item in outbox.get(channel.name, []):
        try:
            with hard_deadline(SEND_POLICY.deadline + 2, f"alert to {channel.name}"):
                reason = send(channel, item["text"], now)
        except DeadlineExceeded as e:
            reason = str(e)
        item["attempts"] += 1
        result = "ok" if reason is None else "error"
        sends[f"{result}|{channel.name}"] = sends.get(f"{result}|{channel.name}", 0) + 1
        outcome["sent"][channel.name] = "ok" if reason is None else reason
        if reason is None:
            continue
        logger.warning(
            "alert to %s failed (attempt %d of %d): %s", channel.name, item["attempts"], MAX_ATTEMPTS, reason
        )
        if item["attempts"] < MAX_ATTEMPTS:
            kept.append(item)
    outbox[channel.name] = kept


class _StateFile:
    """Read-modify-write of the alert state JSON under a sidecar lock, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = FileLock(path.with_name(path.name + ".lock"), 10.0)
        self.data: dict[str, Any] = {}

    def __enter__(self) -> dict[str, Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock.__enter__()
        try:
            self.data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.data = {}
        return self.data

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None:
                fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(self.data, f, ensure_ascii=False)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
        finally:
            self.lock.__exit__()


def load_rules(path: Path | None, env_rules: list[Rule]) -> list[Rule]:
    """Rules from a JSON file ``{"rules": [{"name", "kind", "fire", "clear", "cooldown", "hours"}]}``,
    else the ones from environment variables."""
    if path is None:
        return env_rules
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Rule(**item) for item in data.get("rules", [])]
