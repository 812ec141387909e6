"""HTTP load: the site under gunicorn (2 workers) on 127.0.0.1, measured with wrk.

    .venv/bin/python bench/http_bench.py [--quick] [--json OUT]

Runs wrk (2 threads, 32 connections) for 20 s (2 s with --quick) against /api/liquidation-1h/latest,
24 h of history, and a bare DRF view returning a constant, all in the same run, on the 1-year data file
(bench/store_bench.py makes it; --quick uses the 1-day one). Throttling is off through its setting.
Counts only 2xx answers. Target for latest: >= 1,500 req/s and >= 0.6x the bare view.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server import gunicorn, report  # noqa: E402
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
    seconds = 2 if args.quick else 20
    with gunicorn(data) as base:
        targets = {
            "bare DRF view (constant)": "/bench/constant",
            "GET /api/liquidation-1h/latest": "/api/liquidation-1h/latest",
            "GET /api/liquidation-1h/history (24 h)": f"/api/liquidation-1h/history?start_time={END - 86400}&limit=1440",
        }
        results = {}
        for name, path in targets.items():
            results[name] = wrk(base + path, seconds)
            r = results[name]
            print(f"| {name} | {r['rps_2xx']:,.0f} | {r['p99_ms']:.2f} | {r['non_2xx']} |", flush=True)
    bare = results["bare DRF view (constant)"]["rps_2xx"]
    latest = results["GET /api/liquidation-1h/latest"]["rps_2xx"]
    verdict = [
        f"- latest: {latest:,.0f} req/s (target ≥ 1,500): {'met' if latest >= 1500 else 'MISSED'}",
        f"- latest / bare view: {latest / bare:.2f}× (target ≥ 0.6×): {'met' if latest / bare >= 0.6 else 'MISSED'}",
    ]
    report(verdict, args.json, results=results, data=size, seconds=seconds)


if __name__ == "__main__":
    main()
