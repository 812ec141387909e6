"""The two records backends side by side: the JSONL file and PostgreSQL, the same records, one run.

    .venv/bin/python bench/store_backends_bench.py [--quick] [--json OUT]

Starts a throwaway PostgreSQL on 127.0.0.1 (``tests/pgserver.py``'s, restarted with ``fsync`` on: an
append then pays its commit reaching the disk, as the JSONL store's ``fsync`` does), writes 30 days of
minute records shaped like the keyless source's (``transfer_bench.realistic_records``: every venue in
``by_exchange``, ``coverage``, ``prices``; the newest from the current minute; --quick: 1 day) to a JSONL
file, and loads the same records into the database the way an operator would: ``manage.py migrate``, then
``manage.py migrate_store --to postgresql`` (then ``VACUUM ANALYZE``, so the planner and the visibility
map do not depend on when autovacuum last ran).

Then, for each backend, the site under gunicorn (2 workers, bench settings, throttling off, the
per-minute response cache off with ``LIQUIDATION_RESPONSE_CACHE=0``) and wrk (2 threads, 32 connections,
20 s each as in ``http_bench.py``; --quick 2 s) on ``/api/liquidation-1h/latest`` and on 24 h of history
(``?limit=1440``), in 3 rounds (--quick 1) alternating the backends, so a busy neighbour on a shared
machine weighs on both; each backend's median round is reported. The JSONL site runs as a one-machine
site does (no ``DATABASE_URL``). Beside req/s, CPU milliseconds per request: the CPU time gunicorn's
processes and PostgreSQL's (postmaster and backends) used during the wrk run, over its requests; a
neighbour's load slows req/s far more than it changes this. Before the load,
both sites must give the same records and no cached answer (no ``X-Liqsite-Cache`` header).

Last, one collection's write: the time to append one new record through each store's ``append`` (the same
records, in process, alternating backends), median of 100 (--quick 10).

Target (issue 23): PostgreSQL latest and history 24 h each >= 0.5x the JSONL backend, response cache off.
No timing is asserted: a target not met is printed as MISSED.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pgtools import durable_pg, get, gunicorn_master, psql, tree_cpu  # noqa: E402
from bench.server import gunicorn, report  # noqa: E402

LATEST = "/api/liquidation-1h/latest"
HISTORY_24H = "/api/liquidation-1h/history?limit=1440"
DEPTH = {
    "GET summary 24 h": "/api/liquidation-1h/summary?window=24h",
    "GET bars 24 h by exchange (5 m)": "/api/liquidation-1h/bars?by=exchange",
    "GET tape (50 newest)": "/api/liquidation-1h/tape?limit=50",
}
ENDPOINTS = {"GET latest": LATEST, "GET history 24 h (`?limit=1440`)": HISTORY_24H, **DEPTH}
BACKENDS = ("JSONL", "PostgreSQL")
TARGET = 0.5
CACHE_HEADER = "X-Liqsite-Cache"  # what liquidation/respcache.py adds to an answer it served or kept


def same_answers(bases: dict[str, str]) -> dict[str, object]:
    """Both sites' latest and 24 h history, twice each: the same records, nothing from a response cache."""
    seen: dict[str, list] = {}
    for backend, base in bases.items():
        answers = []
        for _ in range(2):  # the second would be a cache hit if the cache were on
            latest, latest_headers = get(base, LATEST)
            history, history_headers = get(base, HISTORY_24H)
            for headers in (latest_headers, history_headers):
                if CACHE_HEADER.lower() in {k.lower() for k in headers}:
                    sys.exit(f"{backend}: an answer carries {CACHE_HEADER}: the response cache is not off")
            answers.append(history)
        latest.pop("age_seconds", None)
        seen[backend] = [latest, answers[-1]["results"], answers[-1]["count"]]
    jsonl, pg = (seen[b] for b in BACKENDS)
    if jsonl != pg:
        sys.exit("the JSONL and PostgreSQL sites answer differently: not the same records")
    for name, path in DEPTH.items():
        for _ in range(3):  # windows end now: a minute may turn between the two requests
            answers = [get(bases[b], path)[0] for b in BACKENDS]
            if answers[0] == answers[1] and answers[0].get("available") is not False:
                break
        else:
            sys.exit(f"{name}: the JSONL and PostgreSQL sites answer differently (or keep no buckets)")
    return {"history_count": jsonl[2], "latest_timestamp": jsonl[0]["timestamp"]}


def manage(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def fold_costs(events_dir: Path, minutes: int, per_minute: int) -> dict[str, dict]:
    """Milliseconds of one collection's event work on each backend: store a minute of ``per_minute`` new
    events (as the listener does) and fold them into the buckets (as the collector does), for ``minutes``
    minutes after the stored day, alternating backends."""
    import django

    django.setup()
    from liquidation.bucketstore import BucketStore
    from liquidation.eventstore import EventStore
    from liquidation.pgbuckets import PgBucketStore
    from liquidation.pgevents import PgEventStore
    from liquidation.pgstore import PgStateStore

    stores = {
        "JSONL": (EventStore(events_dir), BucketStore(events_dir / "buckets")),
        "PostgreSQL": (PgEventStore(), PgBucketStore(PgStateStore())),
    }
    live = {"binance": 0, "bybit": 0, "okx": 0}
    first = int(time.time()) // 60 * 60 + 60
    times: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for i in range(minutes):
        m = first + 60 * i
        batch = [
            {
                "exchange": "okx",
                "symbol": f"C{j % 40}-USDT-SWAP",
                "ts_ms": m * 1000 + j * 7,
                "side": "long",
                "qty": 1.0,
                "price": 10.0 + j,
                "usd": 10.0 + j,
            }
            for j in range(per_minute)
        ]
        for backend in BACKENDS:
            events, buckets = stores[backend]
            started = time.perf_counter()
            events.append(batch)
            buckets.fold(events, live, m + 61)
            times[backend].append((time.perf_counter() - started) * 1000)
    return {b: _summary(t) for b, t in times.items()}


def _summary(t: list[float]) -> dict:
    return {"n": len(t), "median_ms": statistics.median(t), "p95_ms": sorted(t)[max(0, round(0.95 * len(t)) - 1)]}


def append_costs(data: Path, records: list[dict]) -> dict[str, dict]:
    """Milliseconds to append each of ``records`` through each store's ``append`` (alternating backends,
    so both see the same moments of the machine)."""
    import django

    django.setup()
    from liquidation.pgstore import PgRecordStore
    from liquidation.store import JsonlStore

    stores = {"JSONL": JsonlStore(data), "PostgreSQL": PgRecordStore()}
    times: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for record in records:
        for backend in BACKENDS:
            started = time.perf_counter()
            stores[backend].append(record, now=record["timestamp"])
            times[backend].append((time.perf_counter() - started) * 1000)
    counts = {b: stores[b].count() for b in BACKENDS}
    if counts["JSONL"] != counts["PostgreSQL"]:
        sys.exit(f"after the appends the stores hold different counts: {counts}")
    return {
        b: {
            "n": len(t),
            "median_ms": statistics.median(t),
            "p95_ms": sorted(t)[max(0, round(0.95 * len(t)) - 1)],
            "max_ms": max(t),
        }
        for b, t in times.items()
    }


# -- the report (bench/run.py builds its section from these) ------------------------------------------

HTTP_HEADER = (
    "| request | JSONL 2xx req/s | JSONL p99 ms | JSONL CPU ms/request | PostgreSQL 2xx req/s | PostgreSQL p99 ms "
    "| PostgreSQL CPU ms/request (gunicorn + PostgreSQL) | PostgreSQL / JSONL req/s | JSONL / PostgreSQL CPU |\n"
    "|---|---|---|---|---|---|---|---|---|"
)
APPEND_HEADER = (
    "| one collection's append | JSONL median ms | JSONL p95 ms | PostgreSQL median ms | PostgreSQL p95 ms "
    "| PostgreSQL / JSONL (time) |\n|---|---|---|---|---|---|"
)


def cpu_ms(run: dict) -> float:
    """CPU milliseconds per request: the site's gunicorn processes and the PostgreSQL server's."""
    return run.get("web_cpu_ms", 0) + run.get("db_cpu_ms", 0)


def http_rows(results: dict) -> list[str]:
    rows = []
    for name in ENDPOINTS:
        j, p = results.get("JSONL", {}).get(name), results.get("PostgreSQL", {}).get(name)
        if not (j and p):
            continue
        ratio = p["rps_2xx"] / j["rps_2xx"] if j["rps_2xx"] else 0
        j_cpu, p_cpu = cpu_ms(j), cpu_ms(p)
        cpu_ratio = f"{j_cpu / p_cpu:.2f}×" if j_cpu and p_cpu else "—"
        p_split = f"{p_cpu:.2f} ({p['web_cpu_ms']:.2f} + {p['db_cpu_ms']:.2f})" if p_cpu else "—"
        rows.append(
            f"| {name} | {j['rps_2xx']:,.0f} | {j['p99_ms']:.2f} | {j_cpu:.2f} | {p['rps_2xx']:,.0f} | {p['p99_ms']:.2f} "
            f"| {p_split} | {ratio:.2f}× | {cpu_ratio} |"
        )
    return rows


def append_rows(appends: dict, folds: dict | None = None) -> list[str]:
    rows = []
    for what, costs in (("`append(record)`", appends), ("store a minute of events + fold", folds or {})):
        j, p = costs.get("JSONL"), costs.get("PostgreSQL")
        if j and p:
            rows.append(
                f"| {what}, {j['n']} minutes | {j['median_ms']:.2f} | {j['p95_ms']:.2f} | {p['median_ms']:.2f} "
                f"| {p['p95_ms']:.2f} | {p['median_ms'] / j['median_ms']:.2f}× |"
            )
    return rows


def verdict_lines(results: dict, appends: dict, folds: dict | None = None) -> list[str]:
    lines = []
    for name in ENDPOINTS:
        j, p = results["JSONL"][name]["rps_2xx"], results["PostgreSQL"][name]["rps_2xx"]
        ratio = p / j if j else 0
        pairs = zip(
            results["JSONL"][name].get("rounds", []), results["PostgreSQL"][name].get("rounds", []), strict=True
        )
        each = [f"{pg / js:.2f}×" for js, pg in pairs if js]
        j_cpu, p_cpu = cpu_ms(results["JSONL"][name]), cpu_ms(results["PostgreSQL"][name])
        lines.append(
            f"- {name.split(' (')[0].removeprefix('GET ')}: PostgreSQL {p:,.0f} req/s, JSONL {j:,.0f} req/s: "
            + (
                f"{ratio:.2f}× (target ≥ {TARGET}×, response cache off): {'met' if ratio >= TARGET else 'MISSED'}"
                if name not in DEPTH
                else f"{ratio:.2f}× (response cache off; no target)"
            )
            + (f"; round by round {', '.join(each)}" if len(each) > 1 else "")
            + (
                f"; CPU per request {p_cpu:.2f} ms against {j_cpu:.2f} ms ({j_cpu / p_cpu:.2f}×)"
                if j_cpu and p_cpu
                else ""
            )
        )
    for backend in BACKENDS:
        for name in ENDPOINTS:
            errors = results[backend][name].get("socket_errors", "")
            if errors and any(int(n) for n in errors.replace(",", " ").split() if n.isdigit()):
                lines.append(f"- wrk socket errors, {backend} {name.split(' (')[0]}: {errors} (wrk's 2 s timeout)")
    j, p = appends["JSONL"], appends["PostgreSQL"]
    lines.append(
        f"- one collection's append: PostgreSQL {p['median_ms']:.2f} ms, JSONL {j['median_ms']:.2f} ms "
        f"(median of {j['n']}, each committed to disk before it returns)"
    )
    if folds:
        j, p = folds["JSONL"], folds["PostgreSQL"]
        lines.append(
            f"- one collection's events (store a minute of 150, fold): PostgreSQL {p['median_ms']:.2f} ms, "
            f"JSONL {j['median_ms']:.2f} ms (median of {j['n']})"
        )
    return lines


def median_run(runs: list[dict]) -> dict:
    """The run with the median 2xx req/s (the lower middle one of an even count), with every run's req/s."""
    ordered = sorted(runs, key=lambda r: r["rps_2xx"])
    return {
        **ordered[(len(ordered) - 1) // 2],
        "rounds": [r["rps_2xx"] for r in runs],
        # CPU per request: the median of the rounds, each figure on its own
        "web_cpu_ms": statistics.median(r["web_cpu_ms"] for r in runs),
        "db_cpu_ms": statistics.median(r["db_cpu_ms"] for r in runs),
    }


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--rounds", type=int, help="wrk runs per backend and request, alternating (default 3; --quick 1)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    minutes = 1440 if args.quick else 30 * 1440
    appends = 10 if args.quick else 100
    seconds = 2 if args.quick else 20
    rounds = args.rounds or (1 if args.quick else 3)
    load_before = load_average()

    with tempfile.TemporaryDirectory() as tmp, durable_pg() as pg:
        t = Path(tmp)
        data, events_dir = t / "liquidation_1h.jsonl", t / "events"
        database_url = pg.create_database("liqsite_bench")
        # Before any Django import (bench.http_bench imports bench.store_bench, which sets Django up).
        os.environ.update(
            DJANGO_SETTINGS_MODULE="bench.bench_settings",
            DATABASE_URL=database_url,
            LIQUIDATION_DATA_FILE=str(data),
            LIQUIDATION_EVENTS_DIR=str(events_dir),
            LIQSITE_DATA_DIR=tmp,
            LIQSITE_LOG_DIR=tmp,
            LIQUIDATION_API_RATE="off",
            LIQUIDATION_RESPONSE_CACHE="0",
        )
        from bench.depth_data import simulate
        from bench.http_bench import wrk
        from bench.transfer_bench import realistic_records
        from liquidation.records import to_line

        started = time.perf_counter()
        records = realistic_records(minutes, time.time())
        data.write_bytes(b"".join(to_line(r) for r in records))
        stored = data.stat().st_size
        print(f"{len(records):,} records, {stored / 1e6:,.1f} MB ({time.perf_counter() - started:.1f} s)")
        now_m = int(time.time()) // 60 * 60
        n_events = 20_000 if args.quick else 200_000
        made = simulate(events_dir, [(now_m - 86400, now_m, n_events)], seed=7, live_since=now_m - 90000)
        print(f"{made['events']:,} events of 24 h stored and folded in {made['store_and_fold_s']:.1f} s")
        env = {**os.environ, "LIQUIDATION_STORE": "postgresql"}
        loaded = manage(env, "migrate", "-v", "0") + manage(env, "migrate_store", "--to", "postgresql", "-v", "0")
        for table in ("liquidation_record", "liquidation_event", "liquidation_bucket"):
            psql(pg, "liqsite_bench", f"VACUUM ANALYZE {table}")
        in_db = int(psql(pg, "liqsite_bench", "SELECT count(*) FROM liquidation_record"))
        table_mb = int(psql(pg, "liqsite_bench", "SELECT pg_total_relation_size('liquidation_record')")) / 1e6
        pg_version = psql(pg, "postgres", "SHOW server_version")
        fsync = psql(pg, "postgres", "SHOW fsync")
        print(f"PostgreSQL {pg_version} (fsync {fsync}): {in_db:,} rows, {table_mb:,.1f} MB, loaded in {loaded:.1f} s")

        sites = {
            "JSONL": {"LIQUIDATION_STORE": "jsonl", "DATABASE_URL": ""},
            "PostgreSQL": {"LIQUIDATION_STORE": "postgresql", "DATABASE_URL": database_url},
        }
        with gunicorn(data, **sites["JSONL"]) as jsonl_base, gunicorn(data, **sites["PostgreSQL"]) as pg_base:
            bases = {"JSONL": jsonl_base, "PostgreSQL": pg_base}
            checked = same_answers(bases)
            print(f"both sites answer the same {checked['history_count']:,} records of 24 h; no cached answers")
            masters = {b: gunicorn_master(base) for b, base in bases.items()}
            postmaster = int((pg.directory / "data" / "postmaster.pid").read_text().split()[0])
            runs: dict[str, dict[str, list[dict]]] = {b: {n: [] for n in ENDPOINTS} for b in BACKENDS}
            for round_ in range(1, rounds + 1):
                for name, path in ENDPOINTS.items():
                    for backend in BACKENDS:  # one site under load at a time; the other idles
                        web, db = tree_cpu(masters[backend]), tree_cpu(postmaster)
                        r = wrk(bases[backend] + path, seconds)
                        r["web_cpu_ms"] = (tree_cpu(masters[backend]) - web) * 1000 / max(1, r["requests"])
                        r["db_cpu_ms"] = (tree_cpu(postmaster) - db) * 1000 / max(1, r["requests"])
                        runs[backend][name].append(r)
                        print(
                            f"round {round_}, {backend}, {name}: {r['rps_2xx']:,.0f} req/s, p99 {r['p99_ms']:.2f} ms, "
                            f"CPU per request {r['web_cpu_ms']:.2f} ms gunicorn + {r['db_cpu_ms']:.2f} ms PostgreSQL",
                            flush=True,
                        )
        results = {b: {n: median_run(runs[b][n]) for n in ENDPOINTS} for b in BACKENDS}

        step = records[-1]["timestamp"] + appends * 60
        costs = append_costs(data, realistic_records(appends, step))
        folds = fold_costs(events_dir, appends, 150)

    for line in (HTTP_HEADER, *http_rows(results), "", APPEND_HEADER, *append_rows(costs, folds), ""):
        print(line)
    report(
        verdict_lines(results, costs, folds),
        args.json,
        results=results,
        appends=costs,
        folds=folds,
        events=n_events,
        records=len(records),
        stored_bytes=stored,
        table_mb=table_mb,
        load_seconds=loaded,
        pg_version=pg_version,
        fsync=fsync,
        seconds=seconds,
        rounds=rounds,
        load_average=[load_before, load_average()],
    )


if __name__ == "__main__":
    main()
