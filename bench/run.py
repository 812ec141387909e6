"""Run every benchmark and write bench/RESULTS.md.

    .venv/bin/python bench/run.py            # full: 1 day to 5 years of data, 20 s wrk runs (~10 minutes)
    .venv/bin/python bench/run.py --quick    # small sizes, short runs: CI runs this so the scripts never rot
    .venv/bin/python bench/run.py --only depth   # run one benchmark and replace its section only
    .venv/bin/python bench/run.py --only http
    .venv/bin/python bench/run.py --only transfer
    .venv/bin/python bench/run.py --only backends  # JSONL beside PostgreSQL

--quick writes its table to bench/data/RESULTS-quick.md instead (timings from a quick run are not results).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.attack_bench import row  # noqa: E402
from bench.stream_bench import machine  # noqa: E402


def run(script: str, quick: bool, out: Path) -> dict:
    cmd = [sys.executable, str(BENCH / script), "--json", str(out)]
    if quick:
        cmd.append("--quick")
    print(f"\n== {script}{' --quick' if quick else ''}", flush=True)
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text()) if out.exists() else {}


def attack_section(attack: dict) -> list[str]:
    """The table of bench/attack_bench.py."""
    return [
        "## One client holding the site: other clients' /latest while one address sends 72 long reads a minute "
        f"({attack.get('data')} data file, gunicorn with 2 workers, {attack.get('seconds')} s per scenario)",
        "",
        "| scenario | others' /latest median ms | p95 ms | non-200 | attack requests | attack 200 | attack 429 "
        "| one attack request, median ms |",
        "|---|---|---|---|---|---|---|---|",
        *(row(name, r) for name, r in attack.get("results", {}).items()),
        "",
        *attack.get("targets", []),
        "",
    ]


DEPTH_HEADING = "## Depth API and the keyless collection"


def depth_section(depth: dict, note: str = "") -> list[str]:
    """The tables of bench/depth_bench.py."""
    from bench.depth_bench import COLLECTION_HEADER, HEADER, _row, collection_rows

    built = depth.get("built", {})
    sizes = list(dict.fromkeys(r["size"] for r in depth.get("results", [])))
    collection = depth.get("collection", {})
    return [
        f"{DEPTH_HEADING}: summary, bars and tape at {' and '.join(sizes)} of minute buckets, "
        f"{built.get('events_newest_day', 0):,} events in the newest day (milliseconds)",
        "",
        *([note, ""] if note else []),
        "Naive = read the window's raw events from the event files (`json.loads` per line) and compute the same "
        "figures. Cold = a new `BucketReader` (a process's first request, or the first after a day file was "
        "rewritten); warm = the same reader again; after a fold = a warm reader after one more minute of events "
        "was appended and folded (what a web worker pays once a minute). Same figures = ours and naive agree.",
        "",
        HEADER,
        *(_row(r) for r in depth.get("results", [])),
        "",
        f"### One keyless collection, {collection.get('events_24h', 0):,} events in the last 24 h "
        "(`/usr/bin/time -v` of a child process)",
        "",
        *([COLLECTION_HEADER, *collection_rows(collection)] if collection else []),
        "",
        *depth.get("targets", []),
        "",
    ]


TRANSFER_HEADING = "## First load of /panic: bytes transferred"


def transfer_section(transfer: dict, note: str = "") -> list[str]:
    """The tables of bench/transfer_bench.py."""
    from bench.transfer_bench import TABLE_HEADERS, history_rows, load_rows, resource_rows

    loads = transfer.get("loads", {})
    return [
        f"{TRANSFER_HEADING} (Debian's Chromium, empty cache, {transfer.get('records', 0):,} minute records "
        "shaped like the keyless source's, gunicorn with 2 workers)",
        "",
        *([note, ""] if note else []),
        "Transferred = what Chromium counted as received for each request (status line, headers and body as "
        "sent; CDP `Network.loadingFinished`), summed until the network was idle. Naive = the same load with "
        "`Accept-Encoding: identity`, in the same run: nothing compressed.",
        "",
        TABLE_HEADERS["loads"],
        *load_rows(loads),
        "",
        "Biggest resources of the compressed load:",
        "",
        TABLE_HEADERS["resources"],
        *resource_rows(loads.get("compressed", {})),
        "",
        "### One 24 h history request (`/api/liquidation-1h/history?limit=1440`), body bytes by Accept-Encoding",
        "",
        TABLE_HEADERS["history"],
        *history_rows(transfer.get("history", {})),
        "",
        *transfer.get("targets", []),
        "",
    ]


HTTP_HEADING = "## HTTP: gunicorn, 2 workers"


def http_section(http: dict, note: str = "") -> list[str]:
    """The table of bench/http_bench.py."""
    from bench.http_bench import TABLE_HEADER, table_rows

    rounds = http.get("rounds", 1)
    return [
        f"{HTTP_HEADING}, wrk 2 threads × 32 connections, {http.get('seconds')} s each, median of {rounds} "
        f"alternating round{'s' if rounds != 1 else ''}, {http.get('data')} data file, throttling off",
        "",
        *([note, ""] if note else []),
        "24 h of history: `?start_time=…&limit=1440`, a window ending now (its answer is cached per minute). "
        "Response cache off = `LIQUIDATION_RESPONSE_CACHE=0`, every answer computed; warm = the minute's answer "
        "served from the cache (checked: `X-Liqsite-Cache: hit`), per worker without Redis, or from Redis "
        "(`REDIS_URL`, a redis-server on loopback) through each worker's copies. CPU ms/request = CPU time of "
        "the site's processes (gunicorn's; and redis-server's for the Redis row) during the wrk run, over its "
        "requests: the figure a busy neighbour changes least.",
        "",
        TABLE_HEADER,
        *table_rows(http.get("results", {})),
        "",
        *http.get("targets", []),
        "",
    ]


BACKENDS_HEADING = "## Store backends: JSONL beside PostgreSQL"


def backends_section(backends: dict, note: str = "") -> list[str]:
    """The tables of bench/store_backends_bench.py."""
    from bench.store_backends_bench import APPEND_HEADER, HTTP_HEADER, append_rows, http_rows

    days = backends.get("records", 0) / 1440
    return [
        f"{BACKENDS_HEADING} ({backends.get('records', 0):,} minute records, {days:g} day{'s' if days != 1 else ''}, "
        f"and {backends.get('events', 0):,} liquidation events of 24 h folded into minute buckets, shaped like the keyless "
        f"source's; gunicorn with 2 workers, wrk 2 threads × 32 connections, {backends.get('seconds')} s each, "
        f"median of {backends.get('rounds', 1)} alternating round{'s' if backends.get('rounds', 1) != 1 else ''}, "
        "throttling and the response cache off)",
        "",
        *([note, ""] if note else []),
        f"The same records in both: a JSONL file of {backends.get('stored_bytes', 0) / 1e6:,.1f} MB, and PostgreSQL "
        f"{backends.get('pg_version', '?').split(' ')[0]} on loopback loaded from it by `manage.py migrate` and "
        f"`manage.py migrate_store --to postgresql` ({backends.get('load_seconds', 0):.1f} s; table and indexes "
        f"{backends.get('table_mb', 0):,.1f} MB; then `VACUUM ANALYZE`; fsync {backends.get('fsync', '?')}). "
        "Both sites run at once, one under load at a time; the JSONL site without `DATABASE_URL`, as one machine "
        "runs it. Response cache off with `LIQUIDATION_RESPONSE_CACHE=0` (checked: no answer carries "
        "`X-Liqsite-Cache`, and both sites give the same records). Append = one new record through the store's "
        "`append` in process (durable when it returns: the file's fsync, the database's commit), alternating "
        "backends. CPU ms/request = CPU time of the site's gunicorn processes plus the PostgreSQL server's during "
        "the wrk run, over its requests (what a busy neighbour changes least). The PostgreSQL server shares the machine's cores with gunicorn and wrk; load average (1, 5, 15 min) "
        f"before and after: {' and '.join(backends.get('load_average', ['?']))}.",
        "",
        HTTP_HEADER,
        *http_rows(backends.get("results", {})),
        "",
        APPEND_HEADER,
        *append_rows(backends.get("appends", {}), backends.get("folds", {})),
        "",
        *backends.get("targets", []),
        "",
    ]


def splice(text: str, heading: str, section: list[str], before: str = "## Listener pipeline") -> str:
    """``text`` with the ``## `` section starting with ``heading`` replaced by ``section`` (when absent,
    inserted before the section starting with ``before``, or appended)."""
    lines = text.rstrip("\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    if start is None:
        at = next((i for i, line in enumerate(lines) if line.startswith(before)), None)
        if at is None:
            return "\n".join([*lines, "", *section])
        return "\n".join([*lines[:at], *section, *lines[at:]]) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join([*lines[:start], *section, *lines[end:]]) + "\n"


def _revision() -> str:
    """The commit measured, and whether the work tree had changes."""
    git = ["git", "-C", str(BENCH.parent)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    return f"{head or 'unknown'}{' with uncommitted changes' if dirty else ''}"


#: --only NAME: (script, heading of its section, the section's builder).
ONLY = {
    "http": ("http_bench.py", HTTP_HEADING, http_section),
    "depth": ("depth_bench.py", DEPTH_HEADING, depth_section),
    "transfer": ("transfer_bench.py", TRANSFER_HEADING, transfer_section),
    "backends": ("store_backends_bench.py", BACKENDS_HEADING, backends_section),
}


def only(name: str, quick: bool) -> None:
    script, heading, section = ONLY[name]
    target = BENCH / ("data/RESULTS-quick.md" if quick else "RESULTS.md")
    with tempfile.TemporaryDirectory() as tmp:
        result = run(script, quick, Path(tmp) / f"{name}.json")
    command = f"`.venv/bin/python bench/run.py --only {name}{' --quick' if quick else ''}`"
    note = f"Measured on its own ({command}, {datetime.date.today().isoformat()}, code at {_revision()}; {machine()})."
    old = target.read_text(encoding="utf-8") if target.exists() else "# Benchmark results\n"
    target.parent.mkdir(exist_ok=True)
    target.write_text(splice(old, heading, section(result, note)), encoding="utf-8")
    print(f"\nwrote the {name} section of {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=sorted(ONLY), help="run this benchmark only and replace its section")
    args = parser.parse_args()
    if args.only:
        only(args.only, args.quick)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        store = run("store_bench.py", args.quick, t / "store.json")
        http = run("http_bench.py", args.quick, t / "http.json")
        attack = run("attack_bench.py", args.quick, t / "attack.json")
        collector = run("collector_bench.py", args.quick, t / "collector.json")
        depth = run("depth_bench.py", args.quick, t / "depth.json")
        transfer = run("transfer_bench.py", args.quick, t / "transfer.json")
        backends = run("store_backends_bench.py", args.quick, t / "backends.json")
        print("\n== stream_bench.py", flush=True)
        stream = subprocess.run(
            [sys.executable, str(BENCH / "stream_bench.py"), *(["--events", "20000"] if args.quick else [])],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        print(stream)

    from bench.store_bench import HEADER, _row

    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}. Date: {datetime.date.today().isoformat()}. Command: "
        f"`.venv/bin/python bench/run.py{' --quick' if args.quick else ''}`.",
        "",
        "## Reads: this project's store against the naive full scan (milliseconds)",
        "",
        "Naive = what the earlier system did on every request: read every line, `json.loads` it, filter. "
        "Cold = first read after the file changed (the in-process cache emptied); warm = the same query again.",
        "",
        HEADER,
        *(_row(r) for r in store.get("results", [])),
        "",
        *store.get("targets", []),
        "",
        *http_section(http),
        *attack_section(attack),
        "## Collector: one `collect_liquidation` process against a local upstream (`/usr/bin/time -v`)",
        "",
        "| run | wall time (median) | peak memory (max) |",
        "|---|---|---|",
        *(
            f"| {name} | {r['wall_s']:.2f} s | {r['peak_mb']:.1f} MB |"
            for name, r in collector.get("results", {}).items()
        ),
        "",
        *collector.get("targets", []),
        "",
        *depth_section(depth),
        *transfer_section(transfer),
        *backends_section(backends),
        "## Listener pipeline: events normalized and stored per second (one core unless pinned)",
        "",
        "```",
        stream.strip(),
        "```",
        "",
    ]
    target = BENCH / ("data/RESULTS-quick.md" if args.quick else "RESULTS.md")
    target.parent.mkdir(exist_ok=True)
    target.write_text("\n".join(lines), encoding="utf-8")
    print(f"\nwrote {target} ({platform.python_version()})")


if __name__ == "__main__":
    main()
