"""Alert messages: one message for all the events of an evaluation, in the configured language, as plain text
and as Markdown (``channels.Message``; each channel sends the form its service shows best). Each message
holds the value against its threshold, the change of the 1 h amount from an hour before, the newest
record's split by exchange, the time (Beijing) and a link to the page. Django-free."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .alertrules import Rule
from .channels import Message
from .formatting import format_index, format_usd, format_wan
from .records import beijing_datetime
from .recordstore import RecordStore

TEXT = {
    "zh-hans": {
        "title": "💥 爆仓告警 (liqsite)",
        "fired": "⚠️ {what} {value}，达到阈值 {fire}",
        "recovered": "✅ 已恢复：{what} {value}，低于 {clear}",
        "h1_threshold": "1小时爆仓金额",
        "spike": "1小时爆仓金额相对过去{hours}小时中位数的倍数",
        "panic_threshold": "恐慌指数",
        "no_data": "最新数据已过去",
        "order_usd": "单笔爆仓",
        "coin_h1_usd": "单币种1小时爆仓",
        "seconds": "{n} 秒",
        "change": "1小时爆仓金额 {now}，较1小时前 {pct}",
        "venues": "交易所分布：{split}",
        "time": "时间：{when}（北京时间）",
        "link": "查看：{url}",
        "open": "查看面板",
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
        "order_usd": "Single liquidation",
        "coin_h1_usd": "One coin's 1h liquidations",
        "seconds": "{n} s old",
        "change": "1h liquidations {now}, {pct} on an hour before",
        "venues": "By exchange: {split}",
        "time": "Time: {when} (Beijing time)",
        "link": "Open: {url}",
        "open": "Open the panel",
        "test": "🔔 Test message: liqsite alert channel is set up.",
    },
}


def language(lang: str) -> str:
    return lang if lang in TEXT else "zh-hans"


def show(rule: Rule, value: float, lang: str) -> str:
    """A rule's value (or threshold) as people read it: 万 USD, a ratio, an index, USD or seconds."""
    if rule.kind == "h1_threshold":
        return format_wan(value, lang)
    if rule.kind == "spike":
        return f"{value:.1f}×"
    if rule.kind == "panic_threshold":
        return format_index(value)
    if rule.kind in ("order_usd", "coin_h1_usd"):
        return format_usd(value, lang)
    return "∞" if value == float("inf") else TEXT[lang]["seconds"].format(n=int(value))


def context(store: RecordStore | None, lang: str) -> list[str]:
    """The change of the 1 h amount from the record an hour before, and the newest record's split by
    exchange (the keyless source's ``by_exchange``), when there are such records."""
    if store is None:
        return []
    latest = store.latest()
    if latest is None:
        return []
    t, lines = TEXT[lang], []
    before = store.range(latest["timestamp"] - 3660, latest["timestamp"] - 3540)
    now_h1 = float(latest["hour_1_amount"])
    if before and float(before[-1]["hour_1_amount"]) > 0:
        pct = (now_h1 / float(before[-1]["hour_1_amount"]) - 1) * 100
        lines.append(t["change"].format(now=format_wan(now_h1, lang), pct=f"{pct:+.1f}%"))
    split = _split(latest.get("by_exchange"))
    if split:
        lines.append(t["venues"].format(split=" · ".join(f"{v} {s:.0%}" for v, s in split)))
    return lines


def _split(by_exchange: Any) -> list[tuple[str, float]]:
    if not isinstance(by_exchange, Mapping):
        return []
    hour = {v: float(e.get("hour_1") or 0) for v, e in by_exchange.items() if isinstance(e, Mapping)}
    total = sum(hour.values())
    if total <= 0:
        return []
    return sorted(((v, h / total) for v, h in hour.items() if h > 0), key=lambda p: -p[1])[:4]


def message(events: list[Any], now: float, *, lang: str, site_url: str, store: RecordStore | None = None) -> Message:
    """One message for ``events`` (``alerts.Event``: rule, kind, value, detail)."""
    lang = language(lang)
    t = TEXT[lang]
    lines = []
    for e in events:
        what = t[e.rule.kind].format(hours=e.rule.hours)
        if e.detail:
            what = f"{what} ({e.detail})"
        line = t[e.kind].format(
            what=what,
            value=show(e.rule, e.value, lang),
            fire=show(e.rule, e.rule.fire, lang),
            clear=show(e.rule, e.rule.clear, lang),
        )
        lines.append(f"{line} [{e.rule.name}]")
    extra = [*context(store, lang), t["time"].format(when=beijing_datetime(int(now)))]
    url = site_url.rstrip("/") + "/panic"
    text = "\n".join([t["title"], *lines, *extra, t["link"].format(url=url)])
    markdown = "\n".join(
        [
            f"### {t['title']}",
            "",
            *(f"- **{x}**" for x in lines),
            "",
            *(f"- {x}" for x in extra),
            "",
            f"[{t['open']}]({url})",
        ]
    )
    return Message(title=t["title"], text=text, markdown=markdown)


def test_message(lang: str, site_url: str) -> Message:
    """What ``manage.py test_alert`` sends."""
    t = TEXT[language(lang)]
    url = site_url.rstrip("/") + "/panic"
    return Message(title=t["title"], text=f"{t['test']}\n{url}", markdown=f"{t['test']}\n\n[{t['open']}]({url})")
