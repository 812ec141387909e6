"""What the /methodology page says, assembled from the code's own facts so that it cannot drift.

Every per-venue statement comes from the venue registry (``venues.VENUES``: feed kind, ``publishes``,
``throttle``, ``side_rule``, ``usd_rule``, ``oi_rule``, ``caveats``, ``doc_urls``, each ``Fact`` with its
evidence); every threshold from the constant the code checks (``guards``, ``records.BOUNDS``,
``events``); the units from ``summary.WAN``/``YI`` and ``records.BEIJING``; the trailing windows from
``summary``; the panic index from a worked example run through ``summary.summarize`` itself; the
percentile bands from ``panicband``. The long prose lives in two templates (one per language) that
show these values; the small labels of the tables live here.

``page(lang)`` returns plain data (dicts, lists, strings, numbers) for ``lang`` "zh-hans" or "en".
Django-free, no I/O.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from . import events, guards, records
from . import venues as registry
from .exchanges import STATUS_MAX_AGE
from .formatting import format_usd
from .methodology_formulas import EN, ZH, band, panic_example
from .summary import DAY_MS, HOUR_MS, WAN, YI
from .venues.base import ASSUMED, DOCUMENTED, OBSERVED, POLL_OVERLAP_MS, THIRD_PARTY, Fact, Venue

#: Table headings and short labels. The prose is in templates/liquidation/methodology_{zh,en}.html.
LABELS: dict[str, dict[str, str]] = {
    EN: {
        "title": "Methodology",
        "venue": "Venue",
        "feed": "Liquidation feed",
        "contains": "What it publishes",
        "throttle": "Throttle",
        "open_interest": "Open interest",
        "docs": "Docs",
        "side": "Liquidated side",
        "usd": "USD amount",
        "caveats": "Open questions",
        "evidence": "How sure",
        "feed_websocket": "websocket",
        "feed_rest": "polled REST",
        "feed_none": "none",
        "throttled": "throttled",
        "complete": "every liquidation",
        "no_feed": "—",
        "yes": "yes",
        "no": "no",
        "doc_liquidations": "liquidation feed",
        "doc_open_interest": "open interest",
        "guard": "Guard",
        "threshold": "Threshold",
        "constant": "Constant",
        "effect": "What happens",
        "field": "Field",
        "unit": "Unit",
        "bound": "Refused above",
        "band": "Band",
        "range": "Percentile of the current value",
        "verified": "verified",
        "inferred": "inferred",
        "not_applicable": "—",
    },
    ZH: {
        "title": "数据口径与方法",
        "venue": "交易所",
        "feed": "强平数据来源",
        "contains": "公布的内容",
        "throttle": "限流",
        "open_interest": "持仓量",
        "docs": "文档",
        "side": "被强平方向",
        "usd": "美元金额",
        "caveats": "尚待确认",
        "evidence": "可信程度",
        "feed_websocket": "websocket 推送",
        "feed_rest": "REST 轮询",
        "feed_none": "无",
        "throttled": "限流",
        "complete": "全部强平",
        "no_feed": "—",
        "yes": "有",
        "no": "无",
        "doc_liquidations": "强平接口",
        "doc_open_interest": "持仓量接口",
        "guard": "检查",
        "threshold": "阈值",
        "constant": "常量",
        "effect": "处理方式",
        "field": "字段",
        "unit": "单位",
        "bound": "超过即拒绝",
        "band": "区间",
        "range": "当前值的百分位",
        "verified": "已核实",
        "inferred": "推断",
        "not_applicable": "—",
    },
}

#: How a fact's evidence is shown, per language (``Fact.verified`` says which of the two kinds it is).
EVIDENCE_LABELS: dict[str, dict[str, str]] = {
    EN: {
        DOCUMENTED: "verified: the venue's docs",
        OBSERVED: "verified: captured payloads",
        THIRD_PARTY: "inferred: third-party code",
        ASSUMED: "inferred: assumption",
    },
    ZH: {
        DOCUMENTED: "已核实：交易所文档",
        OBSERVED: "已核实：实测数据",
        THIRD_PARTY: "推断：第三方实现",
        ASSUMED: "推断：假设",
    },
}

#: The plausibility guards of the keyless source (``guards.py``): constant name → what it bounds and
#: what happens above it. The thresholds themselves are read from ``guards``.
GUARDS: tuple[tuple[str, dict[str, str], dict[str, str]], ...] = (
    (
        "MAX_ORDER_USD",
        {EN: "One liquidation's USD amount", ZH: "单笔强平的美元金额"},
        {
            EN: "The order is skipped as implausible and never summed; a venue that sent one this minute is suspect.",
            ZH: "该订单作为不合理数据跳过，从不计入合计；本分钟发来此类订单的交易所被标为可疑。",
        },
    ),
    (
        "MAX_SYMBOL_OI_USD",
        {EN: "One contract's open interest", ZH: "单个合约的持仓量"},
        {EN: "The venue is suspect.", ZH: "该交易所被标为可疑。"},
    ),
    (
        "MAX_OI_CHANGE",
        {EN: "A venue's open interest change from the previous minute", ZH: "交易所持仓量相对上一分钟的变化"},
        {EN: "The venue is suspect.", ZH: "该交易所被标为可疑。"},
    ),
    (
        "MAX_HOUR_USD",
        {EN: "A venue's trailing 1-hour liquidations", ZH: "交易所最近 1 小时的强平合计"},
        {EN: "The venue is suspect.", ZH: "该交易所被标为可疑。"},
    ),
)

#: Stored record fields → unit key (see ``UNIT_LABELS``). Every numeric field of ``records`` is here
#: (a test checks it).
RECORD_UNITS: dict[str, str] = {
    "hour_1_amount": "wan",
    "hour_24_amount": "wan",
    "hour_1_long": "wan",
    "hour_1_short": "wan",
    "hour_24_long": "wan",
    "hour_24_short": "wan",
    "total_position": "yi",
    "panic_index": "ratio",
    "timestamp": "unix_s",
    "datetime": "beijing",
}
#: Fields of the depth endpoints (summary, bars, tape).
DEPTH_UNITS: dict[str, str] = {"*_usd": "usd", "ts_ms": "unix_ms", "start / end": "unix_s"}


def _unit_labels(lang: str) -> dict[str, str]:
    offset = records.BEIJING.utcoffset(None)
    hours = int(offset.total_seconds() // 3600) if offset is not None else 0
    if lang == EN:
        return {
            "wan": f"万 USD = {WAN:,.0f} USD",
            "yi": f"亿 USD = {YI:,.0f} USD",
            "ratio": "a plain ratio (0.004 = 0.4 %)",
            "unix_s": "Unix seconds (UTC)",
            "unix_ms": "Unix milliseconds (UTC)",
            "beijing": f"YYYY-MM-DD HH:MM:SS, Beijing time (UTC+{hours})",
            "usd": "plain USD",
        }
    return {
        "wan": f"万美元 = {WAN:,.0f} USD",
        "yi": f"亿美元 = {YI:,.0f} USD",
        "ratio": "纯比值（0.004 即 0.4%）",
        "unix_s": "Unix 秒（UTC）",
        "unix_ms": "Unix 毫秒（UTC）",
        "beijing": f"YYYY-MM-DD HH:MM:SS，北京时间（UTC+{hours}）",
        "usd": "美元（不换算）",
    }


_CODE = re.compile(r"`([^`]+)`")


def parts(text: str) -> list[dict[str, Any]]:
    """``text`` split on backticks: ``[{"code": bool, "text": str}, …]`` (the template escapes each part)."""
    out = []
    for i, piece in enumerate(_CODE.split(text)):
        if piece:
            out.append({"code": i % 2 == 1, "text": piece})
    return out


def fact(value: Fact | str | None, lang: str) -> dict[str, Any] | None:
    """A fact as the template shows it; a plain string (a venue that declares no ``Fact``) has no evidence."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return {"parts": parts(value), "evidence": "", "verified": None, "evidence_label": ""}
    return {
        "parts": parts(value.en if lang == EN else value.zh),
        "evidence": value.evidence,
        "verified": value.verified,
        "evidence_label": EVIDENCE_LABELS[lang][value.evidence],
    }


def feed_kind(venue: type[Venue]) -> str:
    """``websocket``, ``rest`` (a polled history) or ``none``."""
    if venue.streamed:
        return "websocket"
    return "rest" if venue.polled else "none"


#: The columns of the "verified or inferred" table: a venue's facts by attribute.
EVIDENCE_COLUMNS = (
    ("publishes", "contains"),
    ("throttle", "throttle"),
    ("side_rule", "side"),
    ("usd_rule", "usd"),
    ("oi_rule", "open_interest"),
)


def venue_row(venue: type[Venue], lang: str) -> dict[str, Any]:
    labels = LABELS[lang]
    kind = feed_kind(venue)
    counted = kind != "none"
    return {
        "name": venue.name,
        "title": venue.title or venue.name,
        "evidence": [fact(getattr(venue, attr), lang) for attr, _ in EVIDENCE_COLUMNS],
        "feed": kind,
        "feed_label": labels[f"feed_{kind}"],
        "counted": counted,
        "publishes": fact(venue.publishes, lang),
        "throttled": venue.throttle is not None,
        "throttle": fact(venue.throttle, lang),
        "throttle_label": labels["throttled"]
        if venue.throttle is not None
        else (labels["complete"] if counted else labels["no_feed"]),
        "open_interest": venue.has_open_interest,
        "facts": [
            {"key": key, "label": labels[key], "fact": fact(value, lang)}
            for key, value in (("side", venue.side_rule), ("usd", venue.usd_rule), ("open_interest", venue.oi_rule))
            if value is not None
        ],
        "caveats": [f for f in (fact(c, lang) for c in venue.caveats) if f is not None],
        "docs": [
            {"kind": kind_, "label": labels.get(f"doc_{kind_}", kind_), "url": url}
            for kind_, url in venue.doc_urls.items()
        ],
    }


def usd_text(usd: float, lang: str) -> str:
    """A threshold in USD, exact and as people say it: ``USD 2,000,000,000 ($2B)`` / ``$20亿（2,000,000,000 USD）``."""
    if lang == EN:
        return f"USD {usd:,.0f} ({format_usd(usd, EN, compact=True)})"
    return f"{format_usd(usd, ZH, compact=True)}（{usd:,.0f} USD）"


def guard_rows(lang: str) -> list[dict[str, Any]]:
    rows = []
    for constant, what, effect in GUARDS:
        value = getattr(guards, constant)
        if constant == "MAX_OI_CHANGE":
            threshold = f"> {value:g}× (up or down)" if lang == EN else f"> {value:g}×（增或减）"
        else:
            threshold = f"> {usd_text(value, lang)}"
        rows.append(
            {"constant": constant, "value": value, "what": what[lang], "threshold": threshold, "effect": effect[lang]}
        )
    return rows


def bound_rows(lang: str) -> list[dict[str, Any]]:
    """``records.BOUNDS``: the largest value a stored record may carry, fields with the same bound and unit
    on one row (``fields``, ``value``, ``bound`` as text, ``unit``)."""
    units = _unit_labels(lang)
    rows: list[dict[str, Any]] = []
    for name, bound in records.BOUNDS.items():
        unit = RECORD_UNITS.get(name, "")
        same = [r for r in rows if r["value"] == bound and r["unit_key"] == unit]
        if same:
            same[0]["fields"].append(name)
            continue
        scale = {"wan": WAN, "yi": YI}.get(unit)
        usd = f" = {usd_text(bound * scale, lang)}" if scale else ""
        rows.append(
            {"fields": [name], "value": bound, "bound": f"{bound:,.0f}{usd}", "unit_key": unit, "unit": units.get(unit)}
        )
    return rows


def unit_rows(lang: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    units = _unit_labels(lang)
    return (
        [{"field": f, "unit": units[u]} for f, u in RECORD_UNITS.items()],
        [{"field": f, "unit": units[u]} for f, u in DEPTH_UNITS.items()],
    )


def _join(items: list[str], lang: str) -> str:
    if lang == ZH:
        return "、".join(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def page(lang: str) -> dict[str, Any]:
    """Everything /methodology shows in ``lang`` ("en", else Chinese), from the code's facts."""
    lang = EN if lang == EN else ZH
    rows = [venue_row(v, lang) for v in registry.VENUES]
    record_units, depth_units = unit_rows(lang)
    titles = {kind: [r["title"] for r in rows if r["feed"] == kind] for kind in ("websocket", "rest", "none")}
    return {
        "lang": lang,
        "labels": LABELS[lang],
        "venues": rows,
        "names": {
            "all": _join([r["title"] for r in rows], lang),
            "websocket": _join(titles["websocket"], lang),
            "rest": _join(titles["rest"], lang),
            "none": _join(titles["none"], lang),
            "throttled": _join([r["title"] for r in rows if r["throttled"]], lang),
            "complete": _join([r["title"] for r in rows if r["counted"] and not r["throttled"]], lang),
            "liquidations": _join([r["title"] for r in rows if r["counted"]], lang),
            "open_interest": _join([r["title"] for r in rows if r["open_interest"]], lang),
            "liquidations_only": _join([r["title"] for r in rows if r["counted"] and not r["open_interest"]], lang),
            "open_interest_only": _join([r["title"] for r in rows if r["open_interest"] and not r["counted"]], lang),
        },
        "throttled": [r for r in rows if r["throttled"]],
        "evidence_columns": [LABELS[lang][label] for _, label in EVIDENCE_COLUMNS],
        "windows": {"hour_minutes": f"{HOUR_MS // 60_000:,}", "day_minutes": f"{DAY_MS // 60_000:,}"},
        "polling": {
            "overlap_minutes": POLL_OVERLAP_MS // 60_000,
            "backfill_hours": DAY_MS // 3_600_000,
            "status_max_age": STATUS_MAX_AGE,
        },
        "events": {
            "future_minutes": events.MAX_FUTURE_MS // 60_000,
            "max_age_hours": events.MAX_AGE_MS // 3_600_000,
        },
        "guards": guard_rows(lang),
        "bounds": bound_rows(lang),
        "max_nested": f"{records.MAX_NESTED:,.0f}",
        "earliest": datetime.fromtimestamp(records.EARLIEST, records.BEIJING).year,
        "max_future_hours": records.MAX_FUTURE // 3600,
        "record_units": record_units,
        "depth_units": depth_units,
        "wan": f"{WAN:,.0f}",
        "yi": f"{YI:,.0f}",
        "example": panic_example(),
        "band": band(lang),
    }
