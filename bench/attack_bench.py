"""One client trying to hold the site: /latest for everybody else while one address sends long reads.

    .venv/bin/python bench/attack_bench.py [--quick] [--json OUT]

gunicorn with 2 workers serves the 30-day data file (3 days with --quick). Other clients (40 loopback
addresses, 127.0.0.2 and up, in turn, each inside its rate limit) ask for /api/liquidation-1h/latest
every 50 ms; an attacker at 127.0.0.1 holds four connections and sends
72 requests a minute, each a 30-day window bucketed by the hour with a different ``start_time`` (so
no URL-keyed cache can help). Three scenarios in the same run: no attack (the baseline), the attack
against the defaults (120/min per address, counted in cost units: a 30-day window costs 30), and the
attack with throttling off (what the attacker gets when every long read is served). Target: the
victim's median under the default defences stays under 50 ms.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server import gunicorn, report  # noqa: E402
from bench.store_bench import DATA, END, QUICK_SIZES, SIZES, generate  # noqa: E402

DAY = 86400
LATEST = "/api/liquidation-1h/latest"


def get(base: str, path: str, source: str) -> tuple[int, float]:
    """(status, seconds) of one GET from the loopback address ``source``."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60, source_address=(source, 0))
    started = time.perf_counter()
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        conn.close()


def attack(
    base: str, seconds: float, span_days: int, whole: bool, stop: threading.Event, codes: list[int], took: list[float]
) -> None:
    """Four connections, 72 requests a minute in all, each a new URL: a ``span_days`` window with its
    own start_time, or (``whole``) hourly buckets of the whole file by ``limit`` alone, the request
    that cost 2.1 s on a one-year file before this defence."""
    interval = 60 / 72 * 4  # per connection
    counter = iter(range(10**6))
    lock = threading.Lock()

    def connection() -> None:
        while not stop.is_set():
            with lock:
                i = next(counter)
            if whole:
                path = f"/api/liquidation-1h/history?interval=1h&limit={43200 - i}"
            else:
                start = END - span_days * DAY + 60 + i * 60
                path = f"/api/liquidation-1h/history?interval=1h&start_time={start}&end_time={END}"
            status, seconds_taken = get(base, path, "127.0.0.1")
            codes.append(status)
            if status == 200:
                took.append(seconds_taken * 1000)
            stop.wait(interval)

    threads = [threading.Thread(target=connection) for _ in range(4)]
    for t in threads:
        t.start()
        time.sleep(interval / 4)
    stop.wait(seconds)
    for t in threads:
        t.join()


def scenario(base: str, seconds: float, span_days: int, attack_kind: str | None) -> dict:
    stop = threading.Event()
    codes: list[int] = []
    took: list[float] = []
    attacker = (
        threading.Thread(target=attack, args=(base, seconds, span_days, attack_kind == "whole", stop, codes, took))
        if attack_kind
        else None
    )
    if attacker:
        attacker.start()
        time.sleep(1)  # let the long reads start
    latencies, statuses = [], []
    until = time.monotonic() + seconds
    n = 0
    while time.monotonic() < until:
        # Other clients: 40 loopback addresses in turn, each well inside its own rate limit.
        n += 1
        status, seconds_taken = get(base, LATEST, f"127.0.0.{2 + n % 40}")
        statuses.append(status)
        latencies.append(seconds_taken * 1000)
        time.sleep(0.05)
    stop.set()
    if attacker:
        attacker.join()
    latencies.sort()
    return {
        "victim_requests": len(latencies),
        "victim_median_ms": statistics.median(latencies),
        "victim_p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "victim_non_200": sum(1 for s in statuses if s != 200),
        "attack_requests": len(codes),
        "attack_200": codes.count(200),
        "attack_429": codes.count(429),
        "attack_median_ms": statistics.median(took) if took else None,
    }


SCENARIOS = (
    ("no attack (baseline)", "120/min", None),
    ("30-day windows, default defences (120/min, cost-weighted)", "120/min", "window"),
    ("whole-file hourly buckets by limit, default defences", "120/min", "whole"),
    ("whole-file hourly buckets by limit, throttling off (as before)", "off", "whole"),
)


def row(name: str, r: dict) -> str:
    """One table row (bench/run.py prints the same)."""
    attack_ms = "—" if r["attack_median_ms"] is None else f"{r['attack_median_ms']:.0f}"
    return (
        f"| {name} | {r['victim_median_ms']:.1f} | {r['victim_p95_ms']:.1f} | {r['victim_non_200']} | "
        f"{r['attack_requests']} | {r['attack_200']} | {r['attack_429']} | {attack_ms} |"
    )


def judge(results: dict) -> list[str]:
    """The target (others' median under 50 ms with the defaults) and the comparison with no defence."""
    base = results[SCENARIOS[0][0]]
    defended = [results[name] for name, rate, kind in SCENARIOS if rate != "off" and kind]
    naive = results[SCENARIOS[-1][0]]
    worst = max(r["victim_median_ms"] for r in defended)
    worst_p95 = max(r["victim_p95_ms"] for r in defended)
    return [
        f"- others' /latest median under attack with the default defences: at most {worst:.1f} ms "
        f"(target < 50 ms): {'met' if worst < 50 else 'MISSED'}; {worst / base['victim_median_ms']:.2f}× the "
        f"baseline; p95 at most {worst_p95:.1f} ms ({worst_p95 / base['victim_p95_ms']:.2f}×)",
        f"- the whole-file attack with throttling off (what one address could do before): median "
        f"{naive['victim_median_ms']:.1f} ms, p95 {naive['victim_p95_ms']:.1f} ms "
        f"({naive['victim_p95_ms'] / base['victim_p95_ms']:.0f}× the baseline's p95)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    size = "3d" if args.quick else "1y"
    span_days = 3 if args.quick else 30
    data = DATA / f"liquidation_1h_{size}.jsonl"
    generate(data, (QUICK_SIZES if args.quick else SIZES)[size])
    seconds = 5 if args.quick else 40
    results = {}
    for name, rate, kind in SCENARIOS:
        with gunicorn(data, LIQUIDATION_API_RATE=rate) as base:
            results[name] = r = scenario(base, seconds, span_days, kind)
        print(row(name, r), flush=True)
    verdict = judge(results)
    report(verdict, args.json, results=results, data=size, seconds=seconds)


if __name__ == "__main__":
    main()
