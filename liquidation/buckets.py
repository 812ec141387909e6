"""Minute buckets: the base fact behind every figure of the keyless source. Pure functions, no I/O.

A minute's bucket holds, for the liquidations whose ``ts_ms`` falls in that UTC minute:

- ``x``: per venue × side (``long``/``short``) ``[usd, count, largest_usd, largest_symbol, largest_ts_ms]``;
- ``c``: per coin × venue ``[long_usd, long_count, short_usd, short_count, largest_usd, largest_side,
  largest_symbol, largest_ts_ms]`` (coin = ``coins.coin_of(symbol)``: ``1000PEPEUSDT`` and ``kPEPE`` are PEPE);
- ``live``: the venues whose feed was complete for the whole minute (its coverage);
- ``o`` and ``e``: the smallest and the largest byte offset, in the minute's event day file, of any of its
  events (``tape`` reads just those spans of the file).

On disk a bucket is one or more *delta lines* (``bucketstore``), each adding the events of one fold; a
reader sums them (``merge``). A minute without any line is a **gap** (no venue was live, nothing known);
a minute with a line and no liquidations is a **zero**. Orders that are implausible (``events.plausible``)
or marked ``tradfi`` are stored as events but never enter a bucket, as they never enter a total.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .coins import coin_of
from .events import plausible

SIDES = ("long", "short")

Line = dict[str, Any]


def minute_of_ms(ts_ms: int) -> int:
    """The Unix second at which the UTC minute holding ``ts_ms`` starts."""
    return ts_ms // 60_000 * 60


def countable(event: Mapping[str, Any]) -> bool:
    """Whether an event enters the sums: a plausible USD notional, a known side, not a TradFi contract."""
    return plausible(event.get("usd")) and event.get("side") in SIDES and not event.get("tradfi")


def _bigger(a: tuple[float, int, str], b: tuple[float, int, str]) -> bool:
    """Largest-order order: by USD, then the later order, then the symbol (so rebuilds are deterministic)."""
    return a > b


def add_event(venues: Line, coins: Line, event: Mapping[str, Any]) -> None:
    """Add one countable event to a minute's venue cells ``venues`` and coin cells ``coins`` in place."""
    usd, side, symbol, ts = float(event["usd"]), event["side"], str(event["symbol"]), int(event["ts_ms"])
    venue = str(event["exchange"])
    cell = venues.setdefault(venue, {}).setdefault(side, [0.0, 0, 0.0, "", 0])
    cell[0] = round(cell[0] + usd, 6)
    cell[1] += 1
    if _bigger((usd, ts, symbol), (cell[2], cell[4], cell[3])):
        cell[2], cell[3], cell[4] = usd, symbol, ts
    c = coins.setdefault(coin_of(symbol), {}).setdefault(venue, [0.0, 0, 0.0, 0, 0.0, "", "", 0])
    i = 0 if side == "long" else 2
    c[i] = round(c[i] + usd, 6)
    c[i + 1] += 1
    if _bigger((usd, ts, symbol), (c[4], c[7], c[6])):
        c[4], c[5], c[6], c[7] = usd, side, symbol, ts


def fold(events: Iterable[tuple[int, Mapping[str, Any]]]) -> dict[int, Line]:
    """Fold ``(byte_offset, event)`` pairs into ``{minute: {"x", "c", "o", "e"}}``. Every event counts towards
    ``o`` and ``e`` (the smallest and largest offset); only countable ones towards the cells."""
    out: dict[int, Line] = {}
    for offset, event in events:
        minute = minute_of_ms(int(event["ts_ms"]))
        line = out.setdefault(minute, {"x": {}, "c": {}, "o": offset, "e": offset})
        line["o"], line["e"] = min(line["o"], offset), max(line["e"], offset)
        if countable(event):
            add_event(line["x"], line["c"], event)
    return out


def _merge_x(into: Line, cells: Mapping[str, Any]) -> None:
    for venue, sides in cells.items():
        for side, cell in sides.items():
            mine = into.setdefault(venue, {}).setdefault(side, [0.0, 0, 0.0, "", 0])
            mine[0] += cell[0]  # not rounded: reading sums millions of cells (files hold rounded values)
            mine[1] += cell[1]
            if _bigger((cell[2], cell[4], cell[3]), (mine[2], mine[4], mine[3])):
                mine[2], mine[3], mine[4] = cell[2], cell[3], cell[4]


def _merge_c(into: Line, cells: Mapping[str, Any]) -> None:
    for coin, venues in cells.items():
        for venue, cell in venues.items():
            mine = into.setdefault(coin, {}).setdefault(venue, [0.0, 0, 0.0, 0, 0.0, "", "", 0])
            mine[0] += cell[0]
            mine[1] += cell[1]
            mine[2] += cell[2]
            mine[3] += cell[3]
            if _bigger((cell[4], cell[7], cell[6]), (mine[4], mine[7], mine[6])):
                mine[4], mine[5], mine[6], mine[7] = cell[4], cell[5], cell[6], cell[7]


def merge(lines: Iterable[Mapping[str, Any]]) -> Line:
    """One minute's bucket from its delta lines: cells summed, ``live`` united, ``o`` the smallest, ``e`` the
    largest."""
    out: Line = {"live": [], "x": {}, "c": {}}
    live: set[str] = set()
    for line in lines:
        live.update(line.get("live") or ())
        _merge_x(out["x"], line.get("x") or {})
        _merge_c(out["c"], line.get("c") or {})
        if isinstance(line.get("o"), int):
            out["o"] = min(out.get("o", line["o"]), line["o"])
        if isinstance(line.get("e"), int):
            out["e"] = max(out.get("e", line["e"]), line["e"])
    out["live"] = sorted(live)
    return out


def venue_totals(bucket: Mapping[str, Any], venues: Iterable[str] | None = None) -> dict[str, list[float]]:
    """``{venue: [long_usd, long_count, short_usd, short_count]}`` of one bucket (optionally some venues)."""
    wanted = set(venues) if venues is not None else None
    out = {}
    for venue, sides in (bucket.get("x") or {}).items():
        if wanted is not None and venue not in wanted:
            continue
        long, short = sides.get("long", [0.0, 0]), sides.get("short", [0.0, 0])
        out[venue] = [long[0], long[1], short[0], short[1]]
    return out


def is_valid_line(line: Any) -> bool:
    """A bucket line as ``bucketstore`` writes it: ``m`` a minute (multiple of 60), ``seq`` an int ≥ 0."""
    return (
        isinstance(line, dict)
        and isinstance(line.get("m"), int)
        and line["m"] % 60 == 0
        and isinstance(line.get("seq"), int)
        and line["seq"] >= 0
    )


def empty_total() -> Line:
    """The sum of no minutes: ``n`` minutes present, ``lv`` live minutes per venue, cells as in a bucket."""
    return {"n": 0, "lv": {}, "x": {}, "c": {}}


def accumulate(total: Line, part: Mapping[str, Any]) -> Line:
    """Add a merged minute bucket (``live``) or another total (``n``/``lv``) into ``total``, in place."""
    if "n" in part:
        total["n"] += part["n"]
        for venue, n in part["lv"].items():
            total["lv"][venue] = total["lv"].get(venue, 0) + n
    else:
        total["n"] += 1
        for venue in part.get("live") or ():
            total["lv"][venue] = total["lv"].get(venue, 0) + 1
    _merge_x(total["x"], part.get("x") or {})
    _merge_c(total["c"], part.get("c") or {})
    return total


MALFORMED = (TypeError, ValueError, IndexError, KeyError, AttributeError)


def safe_merge(lines: Iterable[Mapping[str, Any]]) -> tuple[Line, int]:
    """``merge``, leaving out any line whose cells are not of the written shape (a hand-edited or damaged
    file): one bad line never fails a read or a compaction. Returns (bucket, lines left out)."""
    good = list(lines)
    bad = 0
    while True:
        try:
            return merge(good), bad
        except MALFORMED:
            for i, line in enumerate(good):
                try:
                    merge([line])
                except MALFORMED:
                    del good[i]
                    bad += 1
                    break
            else:  # pragma: no cover - merge failed although every line merges alone
                return merge([]), bad + len(good)
