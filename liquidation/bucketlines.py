"""The bucket files' lines: how a delta or base line, a fold's commit and a day's total are written and
read back (see ``bucketstore`` for what they mean). Bad lines are skipped and counted, never fatal.
Django-free."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from . import buckets
from .records import RecordError, loads_strict

logger = logging.getLogger(__name__)


def dumps(line: Mapping[str, Any]) -> bytes:
    return (json.dumps(line, separators=(",", ":"), sort_keys=True, allow_nan=False) + "\n").encode()


def base_line(table: str, m: int, bucket: Mapping[str, Any]) -> dict[str, Any]:
    """A compacted minute's one line, its sums rounded to the micro-dollar as events are."""
    if table == "coins":
        cells = {
            coin: {v: [round(c[0], 6), c[1], round(c[2], 6), c[3], *c[4:]] for v, c in venues.items()}
            for coin, venues in (bucket.get("c") or {}).items()
        }
        return {"m": m, "seq": 0, "c": cells}
    line: dict[str, Any] = {"m": m, "seq": 0, "live": bucket.get("live") or []}
    for key in ("o", "e"):
        if key in bucket:
            line[key] = bucket[key]
    if bucket.get("x"):
        line["x"] = {
            venue: {side: [round(cell[0], 6), *cell[1:]] for side, cell in sides.items()}
            for venue, sides in bucket["x"].items()
        }
    return line


def parse_lines(data: bytes, committed: int, into: dict[int, dict[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Parse whole bucket lines of ``data`` into ``into`` (minute → seq → line; a later line of the same
    seq wins); return the lines whose ``seq`` is above ``committed`` (a fold still being written)."""
    pending = []
    bad = 0
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            line = orjson.loads(raw)  # our own files: orjson alone (it refuses NaN and nesting past 1024)
        except ValueError:
            bad += 1
            continue
        if not buckets.is_valid_line(line):
            bad += 1
        elif line["seq"] > committed:
            pending.append(line)
        else:
            into.setdefault(line["m"], {})[line["seq"]] = line
    if bad:
        logger.warning("bucket lines skipped as unreadable: %d", bad)
    return pending


def read_day_totals(path: Path) -> dict[str, dict[str, Any]]:
    """``{day: {"d", "size", "t"}}`` of a month's totals file; the newest line of a day wins."""
    out: dict[str, dict[str, Any]] = {}
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return out
    for raw in data[: data.rfind(b"\n") + 1].split(b"\n"):
        try:
            line = loads_strict(raw) if raw.strip() else None
        except (RecordError, ValueError):
            continue
        if isinstance(line, dict) and isinstance(line.get("d"), str) and isinstance(line.get("t"), dict):
            out[line["d"]] = line
    return out


def read_minutes(path: Path, committed: int) -> dict[int, list[dict[str, Any]]]:
    """Every committed delta line of one file, by minute (in ``seq`` order)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    into: dict[int, dict[int, dict[str, Any]]] = {}
    parse_lines(data[: data.rfind(b"\n") + 1], committed, into)
    return {m: [by_seq[s] for s in sorted(by_seq)] for m, by_seq in into.items()}


def day_start(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
