"""Upstream adapters. Each turns one upstream's payloads into a ``Reading`` or raises SourceError.

- ``panic-api``: an existing panic API (as the earlier system used: ``/api/panic/latest``). The body
  carries ``hour_1_amount``, ``panic_index``, ``hour_24_amount``, ``total_position`` either flat or
  inside ``{"success": true, "data": {...}}``; values are taken in the units it gives (万 USD,
  亿 USD), ``"success": false`` is an upstream error.
- ``coinglass``: Coinglass open API v4 (header ``CG-API-KEY``). Market-wide 1 h and 24 h totals come
  from ``/api/futures/liquidation/exchange-list?range=1h|24h`` (the ``exchange == "All"`` row, USD →
  万 USD, long/short split kept), open interest is the sum of ``open_interest_usd`` over
  ``/api/futures/exchange-rank`` (USD → 亿 USD). ``panic_index`` = 24 h liquidations ÷ open
  interest, a plain ratio of the two USD amounts (0.0023 means 0.23 % of open interest was
  liquidated in 24 h). A body whose ``code`` is not ``"0"`` is an error even with HTTP 200.

Values are validated by ``records.build_record``; this module only finds them in the payload.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import requests

from .http import Deadline, FetchError, HttpPolicy, get_json, redact_url
from .records import BEIJING, OPTIONAL_NUMBER_FIELDS, VALUE_FIELDS, RecordError, parse_number

WAN = 1e4  # 万: liquidation amounts are stored in units of 10,000 USD
YI = 1e8  # 亿: open interest is stored in units of 100,000,000 USD
DEFAULT_COINGLASS_BASE_URL = "https://open-api-v4.coinglass.com"


class SourceError(Exception):
    """An upstream answered, but not with something we can record. The message says why (for the
    log); ``kind`` is a short URL-free word for public answers."""

    def __init__(self, message: str, *, kind: str = "bad-answer") -> None:
        super().__init__(message)
        self.kind = kind


class ConfigError(Exception):
    """No usable source is configured. The message names the settings to set."""


@dataclass
class Reading:
    """What a source measured: the record's values plus its optional fields."""

    values: dict[str, Any]
    source: str
    source_time: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Source(Protocol):
    name: str

    def fetch(self, session: requests.Session, policy: HttpPolicy, deadline: Deadline) -> Reading: ...

    def describe(self) -> str: ...


class PanicApiSource:
    """An existing panic API returning the four values (flat or in a success/data envelope)."""

    name = "panic-api"

    def __init__(self, url: str) -> None:
        self.url = url

    def describe(self) -> str:
        return f"panic-api {redact_url(self.url)}"

    def fetch(self, session: requests.Session, policy: HttpPolicy, deadline: Deadline) -> Reading:
        status, body = get_json(session, self.url, policy, deadline)
        if status != 200:
            raise SourceError(f"{redact_url(self.url)}: HTTP {status}: {_message_of(body)}")
        if not isinstance(body, dict):
            raise SourceError(f"{redact_url(self.url)}: expected a JSON object, got {_kind(body)}")
        data: Any = body
        if "success" in body or "data" in body:
            if body.get("success") is not True and "success" in body:
                raise SourceError(f"{redact_url(self.url)}: upstream reported failure: {_message_of(body)}")
            data = body.get("data")
            if not isinstance(data, dict):
                raise SourceError(f"{redact_url(self.url)}: 'data' is {_kind(data)}, expected an object")
        values: dict[str, Any] = {}
        for name in VALUE_FIELDS:
            if name not in data:
                raise SourceError(f"{redact_url(self.url)}: field {name} missing from the payload")
            values[name] = data[name]
        for name in OPTIONAL_NUMBER_FIELDS:
            if data.get(name) is not None:
                values[name] = data[name]
        _validate(values, self.url)
        return Reading(values=values, source=self.name, source_time=_source_time(data))


class CoinglassSource:
    """Coinglass open API v4: three GETs per collection (1 h list, 24 h list, exchange rank)."""

    name = "coinglass"

    def __init__(self, api_key: str, base_url: str = DEFAULT_COINGLASS_BASE_URL) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")

    def describe(self) -> str:
        return f"coinglass {redact_url(self.base_url)}"

    def fetch(self, session: requests.Session, policy: HttpPolicy, deadline: Deadline) -> Reading:
        h1 = self._get(session, policy, deadline, "/api/futures/liquidation/exchange-list", {"range": "1h"})
        h24 = self._get(session, policy, deadline, "/api/futures/liquidation/exchange-list", {"range": "24h"})
        rank = self._get(session, policy, deadline, "/api/futures/exchange-rank", None)

        all_1h = _all_row(h1, "exchange-list?range=1h")
        all_24h = _all_row(h24, "exchange-list?range=24h")
        usd_1h = _usd(all_1h, "liquidation_usd", "range=1h")
        usd_24h = _usd(all_24h, "liquidation_usd", "range=24h")

        by_exchange: dict[str, dict[str, float]] = {}
        for rows, prefix in ((h1, "hour_1"), (h24, "hour_24")):
            for row in rows:
                name = _exchange_name(row)
                if name is None or name == "all":
                    continue
                entry = by_exchange.setdefault(name, {})
                entry[prefix] = _wan(_usd(row, "liquidation_usd", name))
                for side in ("long", "short"):
                    if row.get(f"{side}_liquidation_usd") is not None:
                        entry[f"{prefix}_{side}"] = _wan(_usd(row, f"{side}_liquidation_usd", name))
        oi_usd = 0.0
        for row in rank:
            name = _exchange_name(row)
            if name is None or name == "all" or row.get("open_interest_usd") is None:
                continue
            value = _usd(row, "open_interest_usd", f"exchange-rank {name}")
            oi_usd += value
            by_exchange.setdefault(name, {})["open_interest"] = round(value / YI, 4)
        if oi_usd <= 0:
            raise SourceError(
                f"coinglass {self.base_url}/api/futures/exchange-rank: no open interest in the answer; "
                "cannot compute total_position or panic_index"
            )

        values = {
            "hour_1_amount": _wan(usd_1h),
            "panic_index": round(usd_24h / oi_usd, 6),
            "hour_24_amount": _wan(usd_24h),
            "total_position": round(oi_usd / YI, 4),
        }
        for row, prefix in ((all_1h, "hour_1"), (all_24h, "hour_24")):
            for side in ("long", "short"):
                if row.get(f"{side}_liquidation_usd") is not None:
                    values[f"{prefix}_{side}"] = _wan(_usd(row, f"{side}_liquidation_usd", prefix))
        extra = {"by_exchange": dict(sorted(by_exchange.items()))} if by_exchange else {}
        return Reading(values=values, source=self.name, extra=extra)

    def _get(
        self,
        session: requests.Session,
        policy: HttpPolicy,
        deadline: Deadline,
        path: str,
        params: dict[str, str] | None,
    ) -> list[dict[str, Any]]:
        url = self.base_url + path
        shown = url + (f"?range={params['range']}" if params else "")
        status, body = get_json(session, url, policy, deadline, params=params, headers={"CG-API-KEY": self.api_key})
        code = str(body.get("code")) if isinstance(body, dict) else None
        msg = _message_of(body)
        if status == 401 or code == "401":
            raise SourceError(f"coinglass {shown}: API key rejected (401 {msg}); check COINGLASS_API_KEY")
        if status == 429 or code == "429":
            raise SourceError(
                f"coinglass {shown}: rate limited (429 {msg}); the collector makes 3 calls a minute, "
                "check your plan's per-minute limit and other users of the key"
            )
        if status != 200:
            raise SourceError(f"coinglass {shown}: HTTP {status}: {msg}")
        if not isinstance(body, dict):
            raise SourceError(f"coinglass {shown}: expected a JSON object, got {_kind(body)}")
        if code != "0":
            raise SourceError(f"coinglass {shown}: error code {body.get('code')!r}: {msg}")
        data = body.get("data")
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise SourceError(f"coinglass {shown}: 'data' is {_kind(data)}, expected a list of objects")
        return data


def build_source(
    name: str | None,
    *,
    panic_api_url: str = "",
    coinglass_api_key: str = "",
    coinglass_base_url: str = DEFAULT_COINGLASS_BASE_URL,
    exchanges: Callable[[], Source] | None = None,
) -> Source:
    """The configured source. ``name`` None picks coinglass with a key, else panic-api with a URL,
    else the keyless ``exchanges`` source (built by ``exchanges``). Raises ConfigError naming the
    variables to set.
    """
    if not name:
        if coinglass_api_key:
            name = "coinglass"
        elif panic_api_url:
            name = "panic-api"
        else:
            name = "exchanges"
    if name == "exchanges":
        if exchanges is None:
            raise ConfigError("the exchanges source is not available here")
        return exchanges()
    if name == "panic-api":
        if not panic_api_url:
            raise ConfigError("source panic-api needs LIQUIDATION_SOURCE_URL (or --url)")
        if not re.match(r"^https?://", panic_api_url):
            raise ConfigError(f"LIQUIDATION_SOURCE_URL must be an http(s) URL, got {redact_url(panic_api_url)!r}")
        return PanicApiSource(panic_api_url)
    if name == "coinglass":
        if not coinglass_api_key:
            raise ConfigError("source coinglass needs COINGLASS_API_KEY")
        return CoinglassSource(coinglass_api_key, coinglass_base_url or DEFAULT_COINGLASS_BASE_URL)
    raise ConfigError(f"unknown source {name!r}: choose exchanges, panic-api or coinglass")


def _validate(values: dict[str, Any], url: str) -> None:
    for name, value in values.items():
        try:
            parse_number(value, name)
        except RecordError as e:
            raise SourceError(f"{redact_url(url)}: {e}") from e


def _usd(row: dict[str, Any], name: str, where: str) -> float:
    try:
        return parse_number(row.get(name), name)
    except RecordError as e:
        raise SourceError(f"coinglass {where}: {e}") from e


def _wan(usd: float) -> float:
    return round(usd / WAN, 2)


def _exchange_name(row: dict[str, Any]) -> str | None:
    name = row.get("exchange")
    return name.strip().lower() if isinstance(name, str) and name.strip() else None


def _all_row(rows: list[dict[str, Any]], where: str) -> dict[str, Any]:
    for row in rows:
        if _exchange_name(row) == "all":
            return row
    raise SourceError(f"coinglass {where}: no row with exchange 'All' (the market-wide total)")


def _source_time(data: dict[str, Any]) -> int | None:
    """The upstream's own time as Unix seconds, from ``timestamp`` (s or ms) or a Beijing-time
    ``update_time``/``datetime`` string; None when it gives none we can read."""
    ts = data.get("timestamp")
    if isinstance(ts, (int, float)) and not isinstance(ts, bool) and 0 < ts < 1e14:
        return int(ts / 1000) if ts >= 1e11 else int(ts)
    for key in ("update_time", "datetime"):
        text = data.get(key)
        if isinstance(text, str):
            try:
                return int(
                    datetime.strptime(text.strip()[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING).timestamp()
                )
            except ValueError:
                continue
    return None


def _message_of(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("msg", "message", "error", "detail"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key][:200]
    return "(no message)"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


__all__ = [
    "CoinglassSource",
    "ConfigError",
    "FetchError",
    "PanicApiSource",
    "Reading",
    "Source",
    "SourceError",
    "build_source",
]
