"""HTTP load: the site under gunicorn (2 workers) on 127.0.0.1, measured with wrk.

    .venv/bin/python bench/http_bench.py [--quick] [--json OUT]

Runs wrk (2 threads, 32 connections) against /api/liquidation-1h/latest, 24 h of history, and a bare DRF
view returning a constant, all in the same run, on the 1-year data file (bench/store_bench.py makes it;
--quick uses the 1-day one). Throttling is off through its setting. Counts only 2xx answers. Each
request is measured in 3 rounds of 10 s (one of 2 s with --quick), the requests alternating within a
round so a busy neighbour on a shared machine weighs on all of them; the median round is reported, with
the CPU time the site's processes (gunicorn's, and redis-server's for the Redis row) spent per request,
the figure such a neighbour changes least. Target for latest: >= 1,500 req/s and >= 0.6x the bare view.

24 h of history is measured three ways, each on its own site: with the per-minute response cache off
(``LIQUIDATION_RESPONSE_CACHE=0``: every answer computed), and warm (the answer of the minute served from
the cache, as every client of a busy site after the first gets it) without Redis (each worker keeps its
own) and with Redis (a throwaway redis-server on loopback: ``REDIS_URL``, what several web nodes share).
Before the load each site must say ``X-Liqsite-Cache: hit`` for a cached row, and nothing for the row
without cache. Target (issue 23): history 24 h with the cache warm >= 0.5x the bare view.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import urllib.request
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server import gunicorn, redis_server, report  # noqa: E402
from bench.store_backends_bench import gunicorn_master, tree_cpu  # noqa: E402
from bench.store_bench import DATA, END, QUICK_SIZES, SIZES, generate  # noqa: E402


def wrk(url: str, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    duration = float(re.search(r"requests in ([\d.]+)(m?s)", out).group(1))
    unit = re.search(r"requests in [\d.]+(m?s)", out).group(1)
    duration = duration / 1000 if unit == "ms" else duration
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)] if p99 else None
    ok = total - (int(bad.group(1)) if bad else 0)
    return {
        "rps_2xx": ok / duration,
        "requests": total,
        "non_2xx": total - ok,
        "p99_ms": p99_ms,
        "socket_errors": errors.group(1) if errors else "",
    }


BARE = "bare DRF view (constant)"
LATEST = "GET /api/liquidation-1h/latest"
HISTORY_OFF = "GET /api/liquidation-1h/history (24 h), response cache off"
HISTORY_LOCAL = "GET /api/liquidation-1h/history (24 h), response cache warm, per worker (no Redis)"
HISTORY_REDIS = "GET /api/liquidation-1h/history (24 h), response cache warm, Redis (REDIS_URL)"
CACHE_HEADER = "X-Liqsite-Cache"
TARGET_WARM = 0.5


def warm(url: str, expect: str | None) -> None:
    """Ask until four answers in a row say ``expect`` in the cache header (each worker computes the
    minute's answer once; a minute may turn meanwhile), or stop the benchmark."""
    in_a_row = 0
    for _ in range(40):
        with urllib.request.urlopen(url, timeout=30) as r:
            r.read()
            in_a_row = in_a_row + 1 if r.headers.get(CACHE_HEADER) == expect else 0
        if in_a_row == 4:
            return
    sys.exit(f"{url}: {CACHE_HEADER} is not {expect!r} in four answers in a row")


def measure(url: str, seconds: int, pids: list[int]) -> dict:
    """wrk's figures for ``url``, with the CPU milliseconds ``pids``' process trees spent per request."""
    before = sum(tree_cpu(pid) for pid in pids)
    result = wrk(url, seconds)
    result["cpu_ms"] = (sum(tree_cpu(pid) for pid in pids) - before) * 1000 / max(1, result["requests"])
    return result


def median_round(rounds: list[dict]) -> dict:
    """The round with the median req/s, with the median CPU per request of all rounds."""
    middle = sorted(rounds, key=lambda r: r["rps_2xx"])[len(rounds) // 2]
    return {**middle, "cpu_ms": statistics.median(r["cpu_ms"] for r in rounds), "rounds": len(rounds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    size = "1d" if args.quick else "1y"
    data = DATA / f"liquidation_1h_{size}.jsonl"
    generate(data, (QUICK_SIZES if args.quick else SIZES)[size])
    seconds, rounds = (2, 1) if args.quick else (10, 3)
    history = f"/api/liquidation-1h/history?start_time={END - 86400}&limit=1440"
    with ExitStack() as stack:
        base = stack.enter_context(gunicorn(data))
        no_cache = stack.enter_context(gunicorn(data, LIQUIDATION_RESPONSE_CACHE="0"))
        redis = stack.enter_context(redis_server())
        shared = stack.enter_context(gunicorn(data, REDIS_URL=redis[0])) if redis else None
        targets = [
            (BARE, base, "/bench/constant", None),
            (LATEST, base, "/api/liquidation-1h/latest", None),
            (HISTORY_OFF, no_cache, history, None),
            (HISTORY_LOCAL, base, history, "hit"),
            *([(HISTORY_REDIS, shared, history, "hit")] if shared else []),
        ]
        processes = {site: [gunicorn_master(site)] for _, site, _, _ in targets}
        if shared:
            processes[shared].append(redis[1])
        samples: dict[str, list[dict]] = {name: [] for name, *_ in targets}
        for _ in range(rounds):
            for name, site, path, expect in targets:  # one site under load at a time; the others idle
                if path != "/bench/constant":
                    warm(site + path, expect)
                samples[name].append(r := measure(site + path, seconds, processes[site]))
                print(f"{name}: {r['rps_2xx']:,.0f} req/s, {r['cpu_ms']:.2f} CPU ms/request", flush=True)
    results = {name: median_round(rs) for name, rs in samples.items()}
    for line in (TABLE_HEADER, *table_rows(results)):
        print(line)
    report(verdict(results), args.json, results=results, data=size, seconds=seconds, rounds=rounds)


TABLE_HEADER = "| endpoint | 2xx req/s | p99 ms | CPU ms/request | non-2xx |\n|---|---|---|---|---|"


def table_rows(results: dict[str, dict]) -> list[str]:
    """The table's rows (bench/run.py writes them into RESULTS.md)."""
    cpu = {name: f"{r['cpu_ms']:.2f}" if "cpu_ms" in r else "–" for name, r in results.items()}
    return [
        f"| {name} | {r['rps_2xx']:,.0f} | {r['p99_ms']:.2f} | {cpu[name]} | {r['non_2xx']} |"
        for name, r in results.items()
    ]


def verdict(results: dict[str, dict]) -> list[str]:
    bare = results[BARE]["rps_2xx"]
    latest = results[LATEST]["rps_2xx"]
    off = results[HISTORY_OFF]["rps_2xx"]
    lines = [
        f"- latest: {latest:,.0f} req/s (target ≥ 1,500): {'met' if latest >= 1500 else 'MISSED'}",
        f"- latest / bare view: {latest / bare:.2f}× (target ≥ 0.6×): {'met' if latest / bare >= 0.6 else 'MISSED'}",
    ]
    for name, where in ((HISTORY_LOCAL, "each worker"), (HISTORY_REDIS, "Redis")):
        if name not in results:
            lines.append(f"- history 24 h, response cache in {where}: not measured (no redis-server)")
            continue
        warm_rps = results[name]["rps_2xx"]
        ratio = warm_rps / bare
        cpu = results[BARE]["cpu_ms"] / results[name]["cpu_ms"]
        lines.append(
            f"- history 24 h, response cache warm in {where} / bare view: {ratio:.2f}× (target ≥ {TARGET_WARM}×): "
            f"{'met' if ratio >= TARGET_WARM else 'MISSED'} (by CPU per request {cpu:.2f}×); "
            f"{warm_rps / off:.1f}× the same request with the cache off"
        )
    return lines


if __name__ == "__main__":
    main()
