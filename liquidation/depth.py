"""What the depth endpoints answer from the minute buckets: summary and bars (the tape: ``tape.py``).

Plain USD in fields named ``*_usd``; times as Unix milliseconds (``ts_ms``) or seconds (``start``/``end``).
A window "ending now" is the ``n`` minutes ending with the current one (which is still filling). A minute
without a bucket is a gap: bars show it as ``null``, never as zero. Django-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import buckets
from .bucketread import BucketReader
from .eventstore import day_of

WINDOWS = {"1h": 3600, "4h": 14400, "12h": 43200, "24h": 86400}
STEPS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
MAX_STEPS = 2000
TOP_COINS, BAR_COINS = 20, 10
NOT_AVAILABLE = (
    "no minute buckets: they are kept by the keyless exchanges source (LIQUIDATION_SOURCE=exchanges) "
    "once its collector has run"
)


@dataclass(frozen=True)
class Filters:
    exchange: str | None = None
    coin: str | None = None


def _cells(vt: Mapping[str, Any], ct: Mapping[str, Any], f: Filters) -> dict[str, list[float]]:
    """``{venue: [long_usd, long_n, short_usd, short_n]}`` of a total under the filters."""
    if f.coin is None:
        return buckets.venue_totals(vt, [f.exchange] if f.exchange else None)
    venues = (ct.get("c") or {}).get(f.coin) or {}
    return {v: c[:4] for v, c in venues.items() if f.exchange in (None, v)}


def _coins(ct: Mapping[str, Any], f: Filters) -> dict[str, list[float]]:
    """``{coin: [long_usd, long_n, short_usd, short_n]}`` of a total under the filters."""
    out: dict[str, list[float]] = {}
    for coin, venues in (ct.get("c") or {}).items():
        if f.coin not in (None, coin):
            continue
        for venue, c in venues.items():
            if f.exchange in (None, venue):
                row = out.setdefault(coin, [0.0, 0, 0.0, 0])
                for i in range(4):
                    row[i] += c[i]
    return out


def _largest(vt: Mapping[str, Any], ct: Mapping[str, Any], f: Filters) -> dict[str, Any] | None:
    best: tuple[float, int, str, str, str] | None = None
    if f.coin is None:
        for venue, sides in (vt.get("x") or {}).items():
            for side, cell in sides.items():
                if f.exchange in (None, venue) and cell[1] and (best is None or (cell[2], cell[4]) > best[:2]):
                    best = (cell[2], cell[4], venue, cell[3], side)
    else:
        for venue, c in ((ct.get("c") or {}).get(f.coin) or {}).items():
            if f.exchange in (None, venue) and (c[1] or c[3]) and (best is None or (c[4], c[7]) > best[:2]):
                best = (c[4], c[7], venue, c[6], c[5])
    if best is None:
        return None
    return {"usd": round(best[0], 2), "ts_ms": best[1], "exchange": best[2], "symbol": best[3], "side": best[4]}


def _row(cells: list[float]) -> dict[str, Any]:
    return {
        "total_usd": round(cells[0] + cells[2], 2),
        "long_usd": round(cells[0], 2),
        "short_usd": round(cells[2], 2),
        "count": int(cells[1] + cells[3]),
    }


def _sum_rows(rows: Mapping[str, list[float]]) -> list[float]:
    total = [0.0, 0, 0.0, 0]
    for cells in rows.values():
        for i in range(4):
            total[i] += cells[i]
    return total


def summary(reader: BucketReader, window: str, now: float, f: Filters) -> dict[str, Any]:
    """Totals, largest order, per exchange and the top coins over the window ending now, with the previous
    window of equal length and the window's coverage."""
    seconds = WINDOWS[window]
    now_m = int(now) // 60 * 60
    start, prev_start = now_m - seconds + 60, now_m - 2 * seconds + 60
    vt, ct = reader.total("venues", start, now_m), reader.total("coins", start, now_m)
    pv = reader.total("venues", prev_start, start - 60)
    # The previous window needs coin cells only for a coin filter: its totals come from the venue cells.
    pc = reader.total("coins", prev_start, start - 60) if f.coin else buckets.empty_total()
    by_venue = _cells(vt, ct, f)
    total = _row(_sum_rows(by_venue))
    previous = _row(_sum_rows(_cells(pv, pc, f)))
    change = None
    if pv["n"] and previous["total_usd"] > 0:
        change = round((total["total_usd"] - previous["total_usd"]) / previous["total_usd"] * 100, 2)
    coins = sorted(_coins(ct, f).items(), key=lambda kv: (-(kv[1][0] + kv[1][2]), kv[0]))[:TOP_COINS]
    grand = total["total_usd"]
    return {
        "available": True,
        "window": window,
        "start": start,
        "end": int(now),
        "exchange": f.exchange,
        "coin": f.coin,
        **total,
        "largest": _largest(vt, ct, f),
        "by_exchange": [
            {"exchange": v, **_row(c), "share": round((c[0] + c[2]) / grand, 4) if grand else 0.0}
            for v, c in sorted(by_venue.items(), key=lambda kv: (-(kv[1][0] + kv[1][2]), kv[0]))
        ],
        "by_coin": [{"coin": coin, **_row(c)} for coin, c in coins],
        "previous": {**previous, "start": prev_start, "end": start - 1, "minutes": pv["n"]},
        "change_pct": change,
        "coverage": _coverage(vt, reader.minutes("venues", now_m, now_m).get(now_m), seconds // 60 - 1),
    }


def _coverage(vt: Mapping[str, Any], current: Mapping[str, Any] | None, expected: int) -> dict[str, Any]:
    """Coverage of the window's closed minutes: the current one is still filling (its coverage is written
    when it closes), so it is neither counted nor expected."""
    lv = dict(vt["lv"])
    for venue in (current or {}).get("live") or ():
        lv[venue] -= 1
    minutes = vt["n"] - (1 if current is not None else 0)
    return {
        "minutes": minutes,
        "expected": expected,
        "complete": minutes >= expected,
        "venues": {v: round(n / expected, 4) for v, n in sorted(lv.items()) if n > 0},
    }


def bars(reader: BucketReader, start: int, end: int, step: str, by: str, now: float, f: Filters) -> dict[str, Any]:
    """Liquidations per step (not trailing sums) from ``start`` to ``end`` (clamped to now), split ``by``
    side, exchange or coin (top ``BAR_COINS`` and ``other``). A step with no bucket at all is ``null`` for
    every key; an exchange with neither coverage nor events in a step is ``null`` for that exchange.
    Raises ValueError naming ``step`` when the answer would have more than ``MAX_STEPS`` steps."""
    seconds = STEPS[step]
    end = min(end, int(now))
    first, last = start // seconds * seconds, end // seconds * seconds
    count = (last - first) // seconds + 1 if end >= start else 0
    if count > MAX_STEPS:
        raise ValueError(f"{count} steps of {step} from start_time to end_time; at most {MAX_STEPS}")
    totals = []
    coins = by == "coin" or f.coin is not None  # by side or exchange, unfiltered: the venue cells suffice
    for s in range(first, last + 1, seconds) if count else ():
        lo, hi = max(s, start // 60 * 60), min(s + seconds - 60, end)
        if seconds == 86400 and (lo, hi) == (s, s + 86340):  # a whole UTC day: its recorded total
            day = day_of(s * 1000)
            vt = reader.day_total("venues", day)
            ct = reader.day_total("coins", day) if coins else buckets.empty_total()
        else:
            vt = reader.total("venues", lo, hi)
            ct = reader.total("coins", lo, hi) if coins else buckets.empty_total()
        totals.append((s, vt, ct))
    keys: list[str]
    if by == "side":
        keys = ["long", "short"]
    elif by == "exchange":
        seen: set[str] = set()
        for _, vt, ct in totals:
            seen.update(_cells(vt, ct, f))
            seen.update(vt["lv"])
        keys = sorted(v for v in seen if f.exchange in (None, v))
    else:
        overall: dict[str, float] = {}
        for _, _, ct in totals:
            for coin, c in _coins(ct, f).items():
                overall[coin] = overall.get(coin, 0.0) + c[0] + c[2]
        keys = [c for c, _ in sorted(overall.items(), key=lambda kv: (-kv[1], kv[0]))[:BAR_COINS]]
        if len(overall) > BAR_COINS:
            keys.append("other")
    series = {k: [] for k in keys}
    minutes = []
    for s, vt, ct in totals:
        ts = s * 1000
        minutes.append([ts, vt["n"]])
        present = vt["n"] > 0
        if by == "side":
            tot = _sum_rows(_cells(vt, ct, f))
            values = {"long": tot[0], "short": tot[2]}
        elif by == "exchange":
            cells = _cells(vt, ct, f)
            values = {
                v: (cells[v][0] + cells[v][2]) if v in cells else (0.0 if vt["lv"].get(v) else None) for v in keys
            }
        else:
            coins = _coins(ct, f)
            values = {c: coins[c][0] + coins[c][2] if c in coins else 0.0 for c in keys if c != "other"}
            if "other" in series:
                values["other"] = sum(v[0] + v[2] for c, v in coins.items() if c not in values)
        for k in keys:
            value = values.get(k) if present else None
            series[k].append([ts, None if value is None else round(value, 2)])
    return {
        "available": True,
        "start": start,
        "end": end,
        "step": step,
        "by": by,
        "exchange": f.exchange,
        "coin": f.coin,
        "series": [{"key": k, "values": v} for k, v in series.items()],
        "minutes": minutes,
    }
