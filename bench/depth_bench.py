"""Depth API (summary, bars, tape) at one year of minute buckets, and one keyless collection, against naive
baselines measured in the same run.

    .venv/bin/python bench/depth_bench.py [--quick] [--json OUT] [--data DIR]

Stores (``bench/depth_data.py``): "1d" holds one day of events (1,000,000; --quick 20,000) stored in
arrival order and folded every minute by ``BucketStore.fold``; "1y" holds the same newest day after 364
older days of compacted buckets (--quick: 2). The clock is the newest day's 23:59:30 UTC, so the 24 h
window is that day. For each store and operation: the naive baseline (read the window's raw events from
the event files, ``json.loads`` each line, and compute the same figures: for summary the totals, counts,
largest order, per exchange and top coins of the window; for bars long/short per 5 minutes; for the tape
read the day and sort), then ours **cold** (a new ``BucketReader``: the first read of a process, or after
a file was rewritten), **warm** (the same reader again), and **after a fold** (a warm reader after a
minute of events was appended and folded: what a web worker pays once a minute).
Then one keyless collection (``bench/depth_collect.py``). Prints medians, ratios and the targets.
No timing is asserted: a target not met is printed as MISSED.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.depth_collect import build as build_collect_store  # noqa: E402
from bench.depth_collect import measure as measure_collection  # noqa: E402
from bench.depth_collect import serve_venues  # noqa: E402
from bench.depth_data import LIVE, Generator, add_history, folder_size, simulate, write_events  # noqa: E402
from liquidation import depth  # noqa: E402
from liquidation.bucketlines import day_start  # noqa: E402
from liquidation.bucketread import BucketReader  # noqa: E402
from liquidation.buckets import countable  # noqa: E402
from liquidation.bucketstore import BucketStore  # noqa: E402
from liquidation.coins import coin_of  # noqa: E402
from liquidation.eventstore import EventStore, day_of  # noqa: E402
from liquidation.tape import tape  # noqa: E402

DAY = date(2026, 11, 25)  # the newest day of the depth stores
NOW = day_start(DAY) + 86400 - 30  # 23:59:30 UTC: the 24 h window is the newest day
NOW_MS = NOW * 1000
F = depth.Filters()


# -- the naive baselines: the raw events of the window, json.loads per line ---------------------------


def naive_events(folder: Path, start_ms: int, end_ms: int):
    day, last = day_of(start_ms), day_of(end_ms)
    while day <= last:
        try:
            f = open(folder / f"liquidations-{day.isoformat()}.jsonl", "rb")  # noqa: SIM115
        except FileNotFoundError:
            f = None
        if f is not None:
            with f:
                for line in f:
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue
                    if start_ms <= e["ts_ms"] <= end_ms:
                        yield e
        day += timedelta(days=1)


def naive_summary(folder: Path, now: int) -> dict:
    """Total, long, short, count, largest, per exchange and the top 20 coins of the 24 h window."""
    now_m = now // 60 * 60
    rows: dict[str, list[float]] = {}
    coins: dict[str, list[float]] = {}
    largest = None
    for e in naive_events(folder, (now_m - 86340) * 1000, now_m * 1000 + 59_999):
        if not countable(e):
            continue
        usd, i = float(e["usd"]), 0 if e["side"] == "long" else 2
        for table, key in ((rows, e["exchange"]), (coins, coin_of(e["symbol"]))):
            cells = table.setdefault(key, [0.0, 0, 0.0, 0])
            cells[i] += usd
            cells[i + 1] += 1
        if largest is None or (usd, e["ts_ms"]) > largest[:2]:
            largest = (usd, e["ts_ms"], e["exchange"], e["symbol"])
    total = [sum(r[i] for r in rows.values()) for i in range(4)]
    top = sorted(coins.items(), key=lambda kv: (-(kv[1][0] + kv[1][2]), kv[0]))[: depth.TOP_COINS]
    return {
        "total_usd": round(total[0] + total[2], 2),
        "count": int(total[1] + total[3]),
        "rows": rows,
        "top": [c for c, _ in top],
        "largest": largest,
    }


def naive_bars(folder: Path, start: int, end: int, step: int = 300) -> dict[int, list[float]]:
    """Long and short USD per step from ``start`` to ``end`` (whole minutes, as the buckets count)."""
    out: dict[int, list[float]] = {}
    for e in naive_events(folder, start // 60 * 60 * 1000, end // 60 * 60 * 1000 + 59_999):
        if countable(e):
            cells = out.setdefault(e["ts_ms"] // 1000 // step * step, [0.0, 0.0])
            cells[0 if e["side"] == "long" else 1] += float(e["usd"])
    return out


def naive_tape(folder: Path, before_ms: int, limit: int = 50) -> list[int]:
    """The newest ``limit`` countable events before ``before_ms``: the day read whole and sorted."""
    events = [e for e in naive_events(folder, day_start(day_of(before_ms - 1)) * 1000, before_ms - 1) if countable(e)]
    return sorted((e["ts_ms"] for e in events), reverse=True)[:limit]


# -- ours ------------------------------------------------------------------------------------------


def reader_of(folder: Path) -> BucketReader:
    return BucketReader(BucketStore(folder / "buckets"))


def op_summary(reader: BucketReader, folder: Path) -> dict:
    return depth.summary(reader, "24h", NOW, F)


def op_bars(reader: BucketReader, folder: Path) -> dict:
    return depth.bars(reader, NOW - 86400, NOW, "5m", "side", NOW, F)


def op_tape(reader: BucketReader, folder: Path) -> dict:
    return tape(EventStore(folder, load_keys=False), reader, before_ms=NOW_MS + 1, limit=50)


def agree(op: str, ours: dict, naive, folder_is_1d: bool) -> bool:
    """Whether ours and the naive baseline give the same figures (USD to the cent, counts exactly)."""
    if op.startswith("summary"):
        rows = {r["exchange"]: (round(r["total_usd"]), r["count"]) for r in ours["by_exchange"]}
        theirs = {v: (round(c[0] + c[2]), int(c[1] + c[3])) for v, c in naive["rows"].items()}
        return (
            abs(ours["total_usd"] - naive["total_usd"]) < 0.05
            and ours["count"] == naive["count"]
            and rows == theirs
            and [c["coin"] for c in ours["by_coin"]] == naive["top"]
            and ours["largest"]["ts_ms"] == naive["largest"][1]
        )
    if op.startswith("bars"):
        got = {s["key"]: dict(s["values"]) for s in ours["series"]}
        first = min(got["long"]) // 1000
        for ts, (long, short) in naive.items():
            if ts == first and not folder_is_1d:
                continue  # its first minute (the day before) is a synthetic older bucket at 1y
            if (
                abs((got["long"].get(ts * 1000) or 0) - long) > 0.05
                or abs((got["short"].get(ts * 1000) or 0) - short) > 0.05
            ):
                return False
        return True
    return [r["ts_ms"] for r in ours["results"]] == naive


def timed(fn: Callable[[], object], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


OPS = {
    "summary 24h": (op_summary, lambda folder: naive_summary(folder, NOW)),
    "bars 24h/5m": (op_bars, lambda folder: naive_bars(folder, NOW - 86400, NOW)),
    "tape newest 50": (op_tape, lambda folder: naive_tape(folder, NOW_MS + 1)),
}


def append_and_fold(folder: Path, n: int, seed: int) -> None:
    """A minute of events (the last minute of the window) appended and folded, as each collection does."""
    gen = Generator(seed)
    fresh = sorted((gen.event(gen.rng.randrange(NOW_MS - 60_000, NOW_MS)) for _ in range(n)), key=lambda e: e["ts_ms"])
    write_events(folder, fresh)
    BucketStore(folder / "buckets").fold(
        EventStore(folder, load_keys=False), dict.fromkeys(LIVE, NOW - 86400 * 400), NOW
    )


def run_depth(stores: dict[str, Path], reps: int, naive_reps: int, per_minute: int) -> list[dict]:
    results = []
    for size, folder in stores.items():
        warm_readers: dict[str, BucketReader] = {}
        after: dict[str, list[float]] = {op: [] for op in OPS}
        rows = {}
        for op, (ours, naive) in OPS.items():
            base_out = naive(folder)
            base = timed(lambda naive=naive, folder=folder: naive(folder), naive_reps)
            cold = timed(lambda ours=ours, folder=folder: ours(reader_of(folder), folder), reps)
            warm_readers[op] = reader_of(folder)
            ours_out = ours(warm_readers[op], folder)
            warm = timed(lambda ours=ours, op=op, folder=folder: ours(warm_readers[op], folder), reps * 4)
            rows[op] = {
                "size": size,
                "op": op,
                "naive_median": statistics.median(base),
                "cold_median": statistics.median(cold),
                "cold_p95": p95(cold),
                "warm_median": statistics.median(warm),
                "warm_p95": p95(warm),
                "agree": agree(op, ours_out, base_out, size == "1d"),
            }
        for i in range(reps):  # a web worker's readers, once a minute: a fold, then the same requests
            append_and_fold(folder, per_minute, seed=1000 + i)
            for op, (ours, _) in OPS.items():
                after[op] += timed(lambda ours=ours, op=op, folder=folder: ours(warm_readers[op], folder), 1)
        for op, row in rows.items():
            row["after_fold_median"] = statistics.median(after[op])
            results.append(row)
            print(_row(row), flush=True)
    return results


# -- the stores ------------------------------------------------------------------------------------


def build_depth_stores(root: Path, n: int, history_days: int, fold_every: int) -> tuple[dict[str, Path], dict]:
    """The "1d" store and the big one ("1y", or "3d" in a quick run) under ``root`` (reused when built
    before). Returns them by name and what building took."""
    big = "1y" if history_days >= 364 else f"{history_days + 1}d"
    one, year = root / "1d", root / big
    info_path = root / "built.json"
    if info_path.exists():
        return {"1d": one, big: year}, json.loads(info_path.read_text())
    for folder in (one, year):
        shutil.rmtree(folder, ignore_errors=True)
    span = [(day_start(DAY), NOW, n)]
    info: dict = {"events_newest_day": n, "history_days": history_days}
    info["1d"] = simulate(one, span, seed=1, live_since=day_start(DAY), fold_every=fold_every)
    print(f"built 1d: {info['1d']}", flush=True)
    started = time.perf_counter()
    info["history_bytes"] = add_history(year, BucketStore(one / "buckets"), DAY, DAY, history_days)
    info["history_s"] = time.perf_counter() - started
    info["1y"] = simulate(year, span, seed=1, live_since=day_start(DAY) - 86400 * history_days, fold_every=fold_every)
    info["bytes"] = {"1d": folder_size(one), big: folder_size(year)}
    print(f"built {big}: {history_days} older days in {info['history_s']:.0f} s, {info['1y']}", flush=True)
    info_path.write_text(json.dumps(info))
    return {"1d": one, big: year}, info


# -- reporting -------------------------------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:,.2f}"


def _x(ratio: float) -> str:
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.2f}×"


def _ratio(a: float, b: float) -> str:
    return _x(a / b) if b else "—"


HEADER = (
    "| store | operation | naive median ms | ours cold median ms | cold p95 | ours warm median ms | warm p95 "
    "| after a fold, median ms | naive / cold | naive / warm | same figures |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def _row(r: dict) -> str:
    return (
        f"| {r['size']} | {r['op']} | {_ms(r['naive_median'])} | {_ms(r['cold_median'])} | {_ms(r['cold_p95'])} "
        f"| {_ms(r['warm_median'])} | {_ms(r['warm_p95'])} | {_ms(r['after_fold_median'])} "
        f"| {_ratio(r['naive_median'], r['cold_median'])} | {_ratio(r['naive_median'], r['warm_median'])} "
        f"| {'yes' if r['agree'] else 'NO'} |"
    )


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def targets(results: list[dict], collection: dict, big: str = "1y", small: str = "1d") -> list[str]:
    by = {(r["size"], r["op"]): r for r in results}
    lines = []
    for op in ("summary 24h", "bars 24h/5m"):
        r = by[(big, op)]
        cold, warm = r["naive_median"] / r["cold_median"], r["naive_median"] / r["warm_median"]
        lines.append(
            f"- {op} at {big}: {_x(cold)} faster than the raw events cold, {_x(warm)} warm "
            f"(target ≥ 50×): cold {_met(cold >= 50)}, warm {_met(warm >= 50)}"
        )
    for op in OPS:
        a, b = by[(small, op)], by[(big, op)]
        parts = []
        for kind in ("cold", "warm", "after_fold"):
            growth = b[f"{kind}_median"] / a[f"{kind}_median"]
            parts.append(f"{kind.replace('_', ' ')} {growth:.2f}× ({_met(growth <= 1.5)})")
        lines.append(f"- {op}: ours at {big} against ours at {small} (target ≤ 1.5×): {', '.join(parts)}")
    if collection:
        ours, naive = collection["ours"], collection["naive"]
        lines.append(
            f"- one keyless collection with {collection['events_24h']:,} events in the last 24 h: "
            f"fetch {ours['seconds']:.2f} s (target ≤ 1 s): {_met(ours['seconds'] <= 1)}; "
            f"peak {ours['peak_mb']:.1f} MB (target ≤ 120 MB): {_met(ours['peak_mb'] <= 120)}; "
            f"the naive re-read: {naive['seconds']:.2f} s, {naive['peak_mb']:.1f} MB "
            f"({_x(naive['seconds'] / ours['seconds'])} ours' time)"
        )
    return lines


COLLECTION_HEADER = (
    "| collection | work in the child (median) | child wall time (median) | peak memory (max) |\n|---|---|---|---|"
)


def collection_rows(collection: dict) -> list[str]:
    names = {
        "ours": "ours: `ExchangesSource.fetch` (fold the last minute, sum cached hours)",
        "naive": "naive: `EventStore(dir)` (25 h of keys) + `aggregate` over 24 h of events",
        "command": "ours, whole `manage.py collect_liquidation` (Django, record written, Bitget paced)",
    }
    rows = []
    for key, name in names.items():
        r = collection[key]
        work = f"{r['seconds']:.3f} s" if "seconds" in r else "—"
        rows.append(f"| {name} | {work} | {r['wall_s']:.2f} s | {r['peak_mb']:.1f} MB |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 events, 3 days, few repetitions (CI)")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument(
        "--data", type=Path, help="build the depth stores here and keep them (default: a temporary folder)"
    )
    args = parser.parse_args()
    n = 20_000 if args.quick else 1_000_000
    history = 2 if args.quick else 364
    fold_every = 600 if args.quick else 60
    reps, naive_reps, runs = (3, 1, 1) if args.quick else (3, 3, 3)
    tmp = tempfile.mkdtemp(prefix="depth-bench-")
    try:
        root = args.data or Path(tmp) / "depth"
        started = time.perf_counter()
        stores, built = build_depth_stores(root, n, history, fold_every)
        print(f"depth stores ready in {time.perf_counter() - started:.0f} s\n\n{HEADER}", flush=True)
        results = run_depth(stores, reps, naive_reps, per_minute=max(1, n // 1440))
        print("\nbuilding the collection store", flush=True)
        cfolder = Path(tmp) / "collect"
        cbuilt = build_collect_store(cfolder, n, history - 1, BucketStore(stores["1d"] / "buckets"), DAY, fold_every)
        print(f"built: {cbuilt}", flush=True)
        server, base = serve_venues()
        try:
            collection = measure_collection(cfolder, base, cbuilt["rate_per_s"], runs)
        finally:
            server.stop()
        collection["events_24h"] = collection["naive"]["child"]["events"]
        print(f"\n{COLLECTION_HEADER}", *collection_rows(collection), sep="\n")
        lines = targets(results, collection, big=list(stores)[-1])
        print("", *lines, sep="\n")
        if args.json:
            out = {"results": results, "collection": collection, "targets": lines, "built": built, "quick": args.quick}
            args.json.write_text(json.dumps(out, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
