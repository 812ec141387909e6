"""The small JSON files processes share (the listener's ``status.json``, the collector's ``last_run.json``,
the poll state, the open-interest cache): one reader and one writer for all of them.

``write_json_atomic`` writes a temp file in the same folder, fsyncs it, ``os.replace``s it over the
target and fsyncs the folder: a reader sees the old file or the new one, never half of one, and a crash
leaves no partial file. ``read_json_object`` answers the object, or {} when the file is missing, not
JSON or not an object, so a reader never fails on a file another process is replacing. Django-free.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, TypedDict

from .durable import fsync_dir
from .records import loads_strict


def read_json_object(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object in ``path``; {} when it is missing, unreadable, not JSON or not an object."""
    try:
        data = loads_strict(Path(path).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json_atomic(path: str | os.PathLike[str], data: Any, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically and durably (raises OSError on failure)."""
    import json

    write_bytes_atomic(path, (json.dumps(data, ensure_ascii=False) + "\n").encode(), mode=mode)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data``: a temp file beside it, fsynced, renamed over it, the folder fsynced.
    A reader sees the old file or the new one, never a mix; raises OSError on failure."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)  # readable by the web server's user too
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def bump(counts: Any, outcome: str, name: str) -> dict[str, dict[str, int]]:
    """``counts`` ({outcome: {name: n}}) with one more of ``outcome`` for ``name``. Anything malformed is
    dropped; flat ``"outcome|name": n`` keys written by earlier versions are carried over."""
    out: dict[str, dict[str, int]] = {}
    for key, value in counts.items() if isinstance(counts, dict) else ():
        if isinstance(value, dict):
            for sub, n in value.items():
                if isinstance(n, int) and not isinstance(n, bool):
                    out.setdefault(str(key), {})[str(sub)] = n
        elif isinstance(key, str) and "|" in key and isinstance(value, int) and not isinstance(value, bool):
            first, _, second = key.partition("|")
            out.setdefault(first, {})[second] = out.get(first, {}).get(second, 0) + value
    out.setdefault(outcome, {})[name] = out.get(outcome, {}).get(name, 0) + 1
    return out


def counted(counts: Any) -> list[tuple[str, str, float]]:
    """(outcome, name, n) for each well-formed entry of ``counts`` (nested, or flat as earlier versions wrote)."""
    rows = []
    for key, value in counts.items() if isinstance(counts, dict) else ():
        if isinstance(value, dict):
            rows += [(str(key), str(sub), float(n)) for sub, n in value.items() if _is_count(n)]
        elif isinstance(key, str) and _is_count(value):
            first, _, second = key.partition("|")
            rows.append((first, second, float(value)))
    return rows


def _is_count(n: Any) -> bool:
    return isinstance(n, (int, float)) and not isinstance(n, bool) and n == n and abs(n) != float("inf")


# -- typed views of the files, one per owner ---------------------------------------------------------


class VenueStream(TypedDict):
    """One venue in the listener's ``status.json`` (written by ``streams.Listener``)."""

    connected: bool
    connected_since: int | None
    events_stored: int
    reconnects: int
    skipped: dict[str, int]
    last_error: str | None


class StreamStatus(TypedDict):
    updated: float
    venues: dict[str, VenueStream]


def read_stream_status(where: Any) -> StreamStatus:
    """The listener's status (state ``streams``, or its ``status.json`` path) with every field of the right
    type (missing or malformed: empty)."""
    raw = _state(where, "streams")
    venues: dict[str, VenueStream] = {}
    for name, info in (raw.get("venues") or {}).items() if isinstance(raw.get("venues"), dict) else ():
        if not isinstance(info, dict):
            continue
        since = info.get("connected_since")
        venues[str(name)] = VenueStream(
            connected=info.get("connected") is True,
            connected_since=int(since) if _is_count(since) else None,
            events_stored=int(info["events_stored"]) if _is_count(info.get("events_stored")) else 0,
            reconnects=int(info["reconnects"]) if _is_count(info.get("reconnects")) else 0,
            skipped={str(k): int(v) for k, v in (info.get("skipped") or {}).items() if _is_count(v)}
            if isinstance(info.get("skipped"), dict)
            else {},
            last_error=str(info["last_error"]) if info.get("last_error") is not None else None,
        )
    updated = raw.get("updated")
    return StreamStatus(updated=float(updated) if _is_count(updated) else 0.0, venues=venues)


class LastRun(TypedDict):
    """The collector's ``last_run.json`` (written by ``collector.write_last_run``). ``detail`` is the
    operator's sentence (the success summary or the error); ``error_class`` the public word."""

    time: int | None
    datetime: str | None
    outcome: str | None
    source: str | None
    detail: str | None
    error_class: str | None
    last_success: int | None
    counts: list[tuple[str, str, float]]


def read_last_run(where: Any) -> LastRun | None:
    """The collector's last run (state ``last_run``, or its ``last_run.json`` path) with every field of the
    right type, or None when there is none."""
    raw = _state(where, "last_run")
    if not raw:
        return None

    def text(key: str) -> str | None:
        return str(raw[key]) if isinstance(raw.get(key), str) else None

    def whole(key: str) -> int | None:
        value = raw.get(key)
        return int(value) if _is_count(value) else None

    return LastRun(
        time=whole("time"),
        datetime=text("datetime"),
        outcome=text("outcome"),
        source=text("source"),
        detail=text("error") or text("detail"),
        error_class=text("error_class"),
        last_success=whole("last_success"),
        counts=counted(raw.get("counts")),
    )


def _state(where: Any, name: str) -> dict[str, Any]:
    """``name`` from a state store, or the JSON object in the file ``where`` names."""
    if isinstance(where, (str, os.PathLike)):
        return read_json_object(where)
    return where.read(name)
