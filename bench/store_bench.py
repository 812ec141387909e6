"""Store and API read costs at 1 day, 30 days, 1 year and 5 years of minutes, against the naive full scan.

    .venv/bin/python bench/store_bench.py [--quick] [--json OUT]

Data files in the earlier system's format (with a few bad lines and gaps, as real files have) are
generated once into bench/data/ (git-ignored). For each size and operation it measures, in the same
run, the naive baseline — read every line, ``json.loads`` it, filter, as the earlier system did on
every request — and this project's store, cold (the in-process cache emptied, as after the file
changed) and warm (the same query again within the minute). Operations: latest; the last 24 h of
history; a 1 h window at a random place (a different one each repetition, so no cache hides the
cost); stats for 24 h; and the latest and 24 h history endpoints as full requests through Django's
test client. Prints median and p95 per operation and size, and the ratio baseline / ours (cold).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liqsite.settings")
os.environ.setdefault("LIQUIDATION_API_RATE", "off")

import django  # noqa: E402

django.setup()

from django.test import Client, override_settings  # noqa: E402

from liquidation import series  # noqa: E402
from liquidation.records import beijing_datetime  # noqa: E402
from liquidation.store import _CACHE, JsonlStore  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
SIZES = {"1d": 1440, "30d": 30 * 1440, "1y": 365 * 1440, "5y": 5 * 365 * 1440}
QUICK_SIZES = {"1d": 1440, "3d": 3 * 1440}
END = 1795600800  # the newest record of every file: 2026-11-25 18:00 Beijing time


def generate(path: Path, minutes: int) -> None:
    """Records one a minute ending at END, in the legacy format, with gaps and a few bad lines."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(minutes)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        start = END - (minutes - 1) * 60
        for i in range(minutes):
            ts = start + i * 60 + 31
            if rng.random() < 0.002:  # a missed minute
                continue
            h1 = 300 + (i * 37) % 900 + rng.random() * 50
            f.write(
                f'{{"timestamp": {ts}, "datetime": "{beijing_datetime(ts)}", "hour_1_amount": {h1:.2f}, '
                f'"panic_index": {0.05 + (i % 500) / 10000:.4f}, "hour_24_amount": {13000 + i % 5000}.0, '
                f'"total_position": {1040 + (i % 300) / 10:.2f}}}\n'
            )
            if rng.random() < 0.0002:
                f.write("{this line was cut short by a crash\n")
    os.replace(tmp, path)


# -- the naive baseline: what the earlier system did on every request --------------------------------


def naive_records(path: Path) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def naive_latest(path: Path) -> dict:
    return naive_records(path)[-1]


def naive_window(path: Path, start: int, end: int) -> list[dict]:
    return [r for r in naive_records(path) if start <= r["timestamp"] <= end]


# -- measuring -------------------------------------------------------------------------------------


def measure(fn: Callable[[int], object], reps: int, cold: bool) -> list[float]:
    times = []
    for i in range(reps):
        if cold:
            _CACHE.data.clear()
        started = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - started)
    return times


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(sizes: dict[str, int], reps: int, naive_reps: Callable[[int], int]) -> list[dict]:
    results = []
    client = Client(HTTP_ACCEPT="application/json")
    for name, minutes in sizes.items():
        path = DATA / f"liquidation_1h_{name}.jsonl"
        generate(path, minutes)
        store = JsonlStore(path)
        first = END - (minutes - 1) * 60
        rng = random.Random(1)
        windows = [rng.randint(first, END - 3600) for _ in range(max(reps, 50))]
        day = END - 86400
        ops: dict[str, tuple[Callable[[int], object], Callable[[int], object] | None]] = {
            "latest": (lambda i: store.latest(), lambda i: naive_latest(path)),
            "history 24h": (
                lambda i: series.select(store, day, None, 1440, "1m"),
                lambda i: naive_window(path, day, END)[-1440:],
            ),
            "1h window, random place": (
                lambda i: store.range(windows[i], windows[i] + 3600),
                lambda i: naive_window(path, windows[i], windows[i] + 3600),
            ),
            "stats 24h": (
                lambda i: series.stats(store.range(END - 86400 - 60, END), 24, END),
                lambda i: series.stats(naive_window(path, END - 86400 - 60, END), 24, END),
            ),
        }
        with override_settings(LIQUIDATION_DATA_FILE=path, LIQUIDATION_API_RATE=None, ALLOWED_HOSTS=["testserver"]):
            ops["GET /latest (full request)"] = (lambda i: _ok(client.get("/api/liquidation-1h/latest")), None)
            ops["GET /history 24h (full request)"] = (
                lambda i: _ok(client.get("/api/liquidation-1h/history", {"start_time": day, "limit": 1440})),
                None,
            )
            for op, (ours, naive) in ops.items():
                cold = measure(ours, reps, cold=True)
                warm = measure(ours, reps, cold=False) if "random" not in op else cold
                base = measure(naive, naive_reps(minutes), cold=False) if naive else None
                results.append(
                    {
                        "size": name,
                        "records": minutes,
                        "op": op,
                        "naive_median": statistics.median(base) if base else None,
                        "cold_median": statistics.median(cold),
                        "cold_p95": p(cold, 0.95),
                        "warm_median": statistics.median(warm),
                        "warm_p95": p(warm, 0.95),
                    }
                )
                print(_row(results[-1]), flush=True)
    return results


def _ok(response: object) -> object:
    assert response.status_code == 200, response.status_code  # type: ignore[attr-defined]
    return response


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.3f}"


def _row(r: dict) -> str:
    ratio = f"{r['naive_median'] / r['cold_median']:,.0f}×" if r["naive_median"] else "—"
    return (
        f"| {r['size']} | {r['op']} | {_ms(r['naive_median'])} | {_ms(r['cold_median'])} | {_ms(r['cold_p95'])} "
        f"| {_ms(r['warm_median'])} | {_ms(r['warm_p95'])} | {ratio} |"
    )


HEADER = "| size | operation | naive median ms | ours cold median ms | cold p95 | ours warm median ms | warm p95 | naive / ours cold |\n|---|---|---|---|---|---|---|---|"


def targets(results: list[dict]) -> list[str]:
    """The issue's targets, each with its measured value."""
    by = {(r["size"], r["op"]): r for r in results}
    lines = []

    def ratio(size: str, op: str) -> float | None:
        r = by.get((size, op))
        return r["naive_median"] / r["cold_median"] if r and r["naive_median"] else None

    for op, want in (("latest", 1000), ("history 24h", 100)):
        got = ratio("1y", op)
        if got is not None:
            lines.append(
                f"- {op} at 1 year: {got:,.0f}× faster than the naive scan (target ≥ {want}×): {'met' if got >= want else 'MISSED'}"
            )
    sizes = sorted({r["size"] for r in results}, key=lambda s: next(x["records"] for x in results if x["size"] == s))
    small, big = sizes[0], sizes[-1]
    for op in dict.fromkeys(r["op"] for r in results):
        a, b = by.get((small, op)), by.get((big, op))
        if a and b:
            growth = b["cold_median"] / a["cold_median"]
            lines.append(
                f"- {op}: ours at {big} is {growth:.2f}× ours at {small} (target ≤ 1.5×): {'met' if growth <= 1.5 else 'MISSED'}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small files and few repetitions (CI)")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    print(HEADER)
    if args.quick:
        results = run(QUICK_SIZES, reps=5, naive_reps=lambda n: 2)
    else:
        results = run(
            SIZES, reps=30, naive_reps=lambda n: 20 if n <= 1440 else 5 if n <= 43200 else 3 if n <= 525600 else 2
        )
    for line in targets(results):
        print(line)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "targets": targets(results)}, indent=1))


if __name__ == "__main__":
    main()
