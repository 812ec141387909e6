"""The record and its line format: one JSON object per line (JSONL).

A record is a plain ``dict`` so that fields this version does not know about survive a
read-modify-write untouched. The contract, shared with files the earlier system wrote::

    {"timestamp": 1768583851, "datetime": "2026-01-17 01:17:31", "hour_1_amount": 397.14,
     "panic_index": 0.0761, "hour_24_amount": 13583.0, "total_position": 104.72}

- ``timestamp``: int, Unix seconds (UTC), the time of collection. This is the truth.
- ``datetime``: "YYYY-MM-DD HH:MM:SS" in Beijing time (UTC+8), kept for compatibility.
- ``hour_1_amount`` / ``hour_24_amount``: trailing 1 h / 24 h liquidations, in 万 USD (1e4 USD).
- ``panic_index``: float, as the source gives it (see ``sources.py`` for the Coinglass formula).
- ``total_position``: total open interest, in 亿 USD (1e8 USD).
- Optional: ``source``, ``source_time``, ``hour_1_long``, ``hour_1_short``, ``hour_24_long``,
  ``hour_24_short`` (万 USD), ``by_exchange``, ``coverage``, ``lower_bound``. Never required.

Every number is finite and non-negative. NaN and ±Infinity can neither be written (``to_line``
refuses them) nor read back (``parse_line`` rejects the whole line), because one of them in a
response makes a strict JSON renderer fail every request that touches it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

#: The four measured values every record carries, in the order the earlier system wrote them.
VALUE_FIELDS: tuple[str, ...] = ("hour_1_amount", "panic_index", "hour_24_amount", "total_position")
#: Optional numeric fields (万 USD). Validated when present, never required.
OPTIONAL_NUMBER_FIELDS: tuple[str, ...] = ("hour_1_long", "hour_1_short", "hour_24_long", "hour_24_short")
#: 9999-12-31 23:59:59 UTC: beyond it ``datetime`` cannot represent the time.
MAX_TIMESTAMP = 253402300799
SOURCES: tuple[str, ...] = ("panic-api", "coinglass", "exchanges")

# Plain decimal or exponent notation, ASCII digits only. Rejects what float() would accept but a
# number in a payload should never be: "nan", "inf", "1_000", " 12 ", "１２", "+1", "-0", "0x10".
_NUMBER_RE = re.compile(r"\A(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")


class RecordError(ValueError):
    """A value or a line that is not a valid record. The message names the field."""


def parse_number(value: Any, field: str) -> float:
    """Return ``value`` as a finite, non-negative float, or raise RecordError naming ``field``.

    Accepts JSON numbers and numeric strings in plain or exponent notation. Rejects booleans
    (``True`` is an ``int`` in Python), None, NaN, ±Infinity, overflowing strings such as
    ``"1e309"`` and negatives.
    """
    if isinstance(value, bool) or value is None:
        raise RecordError(f"{field}: expected a number, got {json.dumps(value)}")
    if isinstance(value, str):
        text = value
        if not _NUMBER_RE.match(text):
            raise RecordError(f"{field}: not a plain non-negative number: {text[:40]!r}")
        number = float(text)
    elif isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            raise RecordError(f"{field}: not a finite number: {str(value)[:20]}…") from None
    else:
        raise RecordError(f"{field}: expected a number, got {type(value).__name__}")
    if not math.isfinite(number):
        raise RecordError(f"{field}: not a finite number: {value!r}")
    if number < 0:
        raise RecordError(f"{field}: negative value {value!r}")
    return number


def beijing_datetime(timestamp: int) -> str:
    """The legacy ``datetime`` string for a Unix time: Beijing time, no offset."""
    return datetime.fromtimestamp(timestamp, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def minute_of(timestamp: int) -> int:
    """The Unix minute a timestamp falls in (the unit of de-duplication)."""
    return timestamp // 60


def build_record(timestamp: int, values: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """Validate ``values`` and return a record in the canonical field order.

    ``values`` must hold the four VALUE_FIELDS (numbers or numeric strings); OPTIONAL_NUMBER_FIELDS
    found in ``values`` are validated and kept. ``extra`` (``source``, ``source_time``,
    ``by_exchange``, …) is appended as given, None values dropped. Raises RecordError.
    """
    record: dict[str, Any] = {"timestamp": int(timestamp), "datetime": beijing_datetime(int(timestamp))}
    for field in VALUE_FIELDS:
        if field not in values:
            raise RecordError(f"{field}: missing")
        record[field] = parse_number(values[field], field)
    for field in OPTIONAL_NUMBER_FIELDS:
        if values.get(field) is not None:
            record[field] = parse_number(values[field], field)
    for key, value in extra.items():
        if value is not None:
            record[key] = value
    _check_finite(record, "record")
    return record


def to_line(record: Mapping[str, Any]) -> bytes:
    """Encode a record as one line, newline included, UTF-8. Refuses NaN/Infinity anywhere."""
    try:
        text = json.dumps(record, ensure_ascii=False, allow_nan=False)
    except ValueError as e:
        raise RecordError(f"record holds a non-finite number: {e}") from e
    return (text + "\n").encode("utf-8")


def _reject_constant(name: str) -> float:
    raise RecordError(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise RecordError(f"number out of range: {text[:40]}")
    return number


def loads_strict(text: str | bytes) -> Any:
    """Parse JSON, refusing NaN, ±Infinity and numbers that overflow to infinity.

    orjson (strict by design, and several times faster) parses; when it refuses, the standard
    library parses again only to say precisely why (``non-finite number NaN``, ``number out of range``).
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


def parse_line(line: str | bytes) -> dict[str, Any]:
    """Parse one stored line into a record, or raise RecordError saying why it is not one.

    The line must be a JSON object with an integer ``timestamp`` and the four VALUE_FIELDS as
    finite, non-negative numbers. Unknown fields are kept as they are. A missing or malformed
    ``datetime`` is recomputed from ``timestamp`` (it is derived data).
    """
    obj: Any = None
    if isinstance(line, bytes):
        try:
            obj = orjson.loads(line)  # the hot path: bytes straight from the file
        except orjson.JSONDecodeError:
            obj = None
    if obj is None:
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise RecordError("not UTF-8") from e
        if not line.strip():
            raise RecordError("blank line")
        try:
            obj = loads_strict(line)
        except RecordError:
            raise
        except ValueError as e:
            raise RecordError(f"invalid JSON: {e}") from e
    if not isinstance(obj, dict):
        raise RecordError(f"not a JSON object but {type(obj).__name__}")
    ts = obj.get("timestamp")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not 0 <= ts <= MAX_TIMESTAMP:
        raise RecordError(f"timestamp: expected Unix seconds, got {ts!r}")
    if isinstance(ts, float):
        if not ts.is_integer():
            raise RecordError(f"timestamp: not a whole number of seconds: {ts!r}")
        obj["timestamp"] = int(ts)
    for field in VALUE_FIELDS:
        if field not in obj:
            raise RecordError(f"{field}: missing")
        if isinstance(obj[field], (str, bool)):
            raise RecordError(f"{field}: expected a number, got {obj[field]!r}")
        parse_number(obj[field], field)  # validated, kept as written (an int stays an int)
    for field in OPTIONAL_NUMBER_FIELDS:
        if field in obj and obj[field] is not None:
            if isinstance(obj[field], (str, bool)):
                raise RecordError(f"{field}: expected a number, got {obj[field]!r}")
            parse_number(obj[field], field)
    if not isinstance(obj.get("datetime"), str):
        obj["datetime"] = beijing_datetime(obj["timestamp"])
    return obj


def _check_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise RecordError(f"{where}: not a finite number")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(v, f"{where}[{i}]")
