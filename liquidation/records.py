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

Plausibility bounds (``BOUNDS``), far beyond any real market, so that a unit error upstream (USD
taken for 万 USD, a value in wei) or a hostile answer is refused and named instead of summed, and
no sum, mean or variance over a window can overflow a float:

- liquidation amounts at most 1e9 万 USD (USD 10 trillion; the largest 24 h of liquidations on
  record, 2025-10-10, was about USD 19 billion = 1.9e6 万);
- open interest at most 1e6 亿 USD (USD 100 trillion; the whole market held about USD 0.2
  trillion in 2025);
- the panic index at most 1e6 (a ratio as the source gives it; the keyless and Coinglass
  formulas give values below 1);
- any other number inside a record (``by_exchange``, ``coverage``) at most 1e15 in magnitude
  (checked when a record is built; readers check the fields they compute with);
- ``timestamp`` between 2009-01-01 (nothing here is older than Bitcoin) and 2100-01-01 when read,
  and no more than one day ahead of the writer's clock when written.

A line is at most ``MAX_LINE_BYTES`` long and its JSON at most ``MAX_DEPTH`` levels deep (records
are flat: ``by_exchange.<venue>.hour_1`` is three levels), so no line can make a parser recurse
or a reader copy megabytes.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

#: The four measured values every record carries, in the order the earlier system wrote them.
VALUE_FIELDS: tuple[str, ...] = ("hour_1_amount", "panic_index", "hour_24_amount", "total_position")
#: Optional numeric fields (万 USD). Validated when present, never required.
OPTIONAL_NUMBER_FIELDS: tuple[str, ...] = ("hour_1_long", "hour_1_short", "hour_24_long", "hour_24_short")
#: 2009-01-01T00:00:00Z: nothing in this series can be older than Bitcoin.
EARLIEST = 1230768000
#: 2100-01-01T00:00:00Z: the latest time a stored line may carry (writers allow one day ahead of now).
MAX_TIMESTAMP = 4102444800
#: How far ahead of the writer's clock a new record may be dated.
MAX_FUTURE = 86400
#: The largest plausible value per field (see the module docstring); anything above is refused.
BOUNDS: dict[str, float] = {
    "hour_1_amount": 1e9,
    "hour_24_amount": 1e9,
    "hour_1_long": 1e9,
    "hour_1_short": 1e9,
    "hour_24_long": 1e9,
    "hour_24_short": 1e9,
    "total_position": 1e6,
    "panic_index": 1e6,
}
#: The bound on any other number nested in a record.
MAX_NESTED = 1e15
#: Longest line a reader parses (records are under 4 KiB); longer ones are skipped as bad lines.
MAX_LINE_BYTES = 64 * 1024
#: Deepest JSON nesting accepted anywhere (upstream bodies, stored lines); documents here are flat.
MAX_DEPTH = 32
BOM = b"\xef\xbb\xbf"
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
    bound = BOUNDS.get(field.rpartition(".")[2], MAX_NESTED)
    if number > bound:
        raise RecordError(f"{field}: {number:g} is beyond the plausible bound of {bound:g}; a unit error upstream?")
    return number


def check_timestamp(ts: Any, *, now: float | None = None) -> int:
    """``ts`` as whole Unix seconds in the sane range, or RecordError.

    Reading (``now`` None): 2009-01-01 to 2100-01-01. Writing (``now`` given): 2009-01-01 to one day
    after ``now``, so a clock that jumped cannot date a record years ahead.
    """
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        raise RecordError(f"timestamp: expected Unix seconds, got {str(ts)[:40]!r}")
    if isinstance(ts, float) and not ts.is_integer():
        raise RecordError(f"timestamp: not a whole number of seconds: {ts!r}")
    upper = MAX_TIMESTAMP if now is None else min(MAX_TIMESTAMP, now + MAX_FUTURE)
    if not EARLIEST <= ts <= upper:
        limit = "2100-01-01" if now is None else "one day from now"
        raise RecordError(f"timestamp: {str(ts)[:24]} is outside 2009-01-01 … {limit}")
    return int(ts)


def beijing_datetime(timestamp: int) -> str:
    """The legacy ``datetime`` string for a Unix time: Beijing time, no offset."""
    return datetime.fromtimestamp(timestamp, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def minute_of(timestamp: int) -> int:
    """The Unix minute a timestamp falls in (the unit of de-duplication)."""
    return timestamp // 60


def build_record(
    timestamp: int, values: Mapping[str, Any], *, now: float | None = None, **extra: Any
) -> dict[str, Any]:
    """Validate ``values`` and return a record in the canonical field order.

    ``values`` must hold the four VALUE_FIELDS (numbers or numeric strings) within ``BOUNDS``;
    OPTIONAL_NUMBER_FIELDS found in ``values`` are validated and kept. ``timestamp`` must lie between
    2009 and one day after ``now`` (default: the clock). ``extra`` (``source``, ``source_time``,
    ``by_exchange``, …) is appended as given, None values dropped; numbers nested in it must be
    finite and within ``MAX_NESTED``. Raises RecordError naming the field.
    """
    ts = check_timestamp(timestamp, now=time.time() if now is None else now)
    record: dict[str, Any] = {"timestamp": ts, "datetime": beijing_datetime(ts)}
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
    _check_nested(record, "record", 0)
    to_line(record)  # refuses a record too long or too deep to be read back
    return record


def to_line(record: Mapping[str, Any]) -> bytes:
    """Encode a record as one line, newline included, UTF-8. Refuses NaN/Infinity anywhere, and a
    line that readers would skip (longer than MAX_LINE_BYTES or nested deeper than MAX_DEPTH)."""
    try:
        text = json.dumps(record, ensure_ascii=False, allow_nan=False)
    except ValueError as e:
        raise RecordError(f"record holds a non-finite number: {e}") from e
    except RecursionError as e:
        raise RecordError(f"record is nested deeper than {MAX_DEPTH} levels") from e
    line = (text + "\n").encode("utf-8")
    if len(line) > MAX_LINE_BYTES:
        raise RecordError(f"record is {len(line)} bytes long, over the {MAX_LINE_BYTES}-byte line limit")
    check_depth(line)
    return line


def _reject_constant(name: str) -> float:
    raise RecordError(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise RecordError(f"number out of range: {text[:40]}")
    return number


# One token at a time: a whole string (so brackets inside strings do not count), or a bracket.
_DEPTH_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def check_depth(text: str | bytes, limit: int = MAX_DEPTH) -> None:
    """Raise RecordError when ``text`` nests arrays/objects deeper than ``limit``.

    Cheap for what the project reads: when the document holds at most ``limit`` opening brackets
    it cannot be deeper, and only then is it scanned (a C regex over strings and brackets, no
    recursion), so a hostile ``[[[[…`` is refused before any parser can recurse on it.
    """
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text  # only brackets and quotes count
    if data.count(b"[") + data.count(b"{") <= limit:
        return
    depth = 0
    for match in _DEPTH_TOKENS.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                raise RecordError(f"JSON nested deeper than {limit} levels")
        elif token in (b"]", b"}"):
            depth -= 1


def loads_strict(text: str | bytes) -> Any:
    """Parse JSON, refusing NaN, ±Infinity, numbers that overflow to infinity and nesting deeper
    than MAX_DEPTH (RecordError); other malformed JSON raises ValueError.

    The depth is checked first, so no parser ever recurses deeply. orjson (strict by design, and
    several times faster) parses; when it refuses, the standard library parses again only to say
    precisely why (``non-finite number NaN``, ``number out of range``).
    """
    check_depth(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError as e:  # not reachable after check_depth; kept as a backstop
        raise RecordError(f"JSON nested too deeply: {e}") from None


def parse_line(line: str | bytes) -> dict[str, Any]:
    """Parse one stored line into a record, or raise RecordError saying why it is not one.

    The line must be a JSON object with an integer ``timestamp`` and the four VALUE_FIELDS as
    finite, non-negative numbers. Unknown fields are kept as they are. A missing or malformed
    ``datetime`` is recomputed from ``timestamp`` (it is derived data).
    """
    obj: Any = None
    if len(line) > MAX_LINE_BYTES:
        raise RecordError(f"line of {len(line)} bytes is over the {MAX_LINE_BYTES}-byte limit")
    if isinstance(line, bytes):
        if line.startswith(BOM):
            line = line[len(BOM) :]  # a UTF-8 byte-order mark an editor put before the first record
        check_depth(line)
        try:
            obj = orjson.loads(line)  # the hot path: bytes straight from the file
        except orjson.JSONDecodeError:
            obj = None
    else:
        line = line.removeprefix("\ufeff")
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
    ts = check_timestamp(obj.get("timestamp"))
    if isinstance(obj["timestamp"], float):
        obj["timestamp"] = ts
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


def _check_nested(value: Any, where: str, depth: int) -> None:
    """Every number in ``value`` finite and within MAX_NESTED; nesting within MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise RecordError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            raise RecordError(f"{where}: not a finite number") from None
        if not math.isfinite(number):
            raise RecordError(f"{where}: not a finite number")
        if abs(number) > MAX_NESTED:
            raise RecordError(f"{where}: {number:g} is beyond the plausible bound of {MAX_NESTED:g}")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_nested(v, f"{where}.{k}", depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_nested(v, f"{where}[{i}]", depth + 1)
