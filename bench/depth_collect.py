"""One keyless collection against a store with N events in the last 24 h: time and peak memory of a child.

    (used by bench/depth_bench.py; ``--child ours|naive FOLDER URL`` is the child's entry point)

The store is built relative to the wall clock (a collection reads the real time): events of the last
24 h (plus the rest of the day before, at the same rate) folded minute by minute as the collector does,
and older days' venue buckets and small event files (``depth_data.add_history``, venues table only: a
collection never opens the coins files). Before each measured run the previous minute is collected
(events appended and folded, unmeasured) and the listener's last minute is appended, unfolded; the
pollers' state says they polled a minute ago and ``status.json`` that the streams are connected: so
the measured collection is one minute of steady state. Every venue's REST API is served from
127.0.0.1 with the recorded payloads of tests/fixtures/upstream (polls answer no new rows).

- ours: ``ExchangesSource.fetch`` in a child process (``pace=0``: Bitget's documented 0.25 s between
  calls is waiting, not work), then, for information, the whole ``manage.py collect_liquidation``
  process (Django, the record written, pacing on);
- naive (the behaviour before minute buckets): ``EventStore(folder)`` (loads 25 h of keys), then
  ``summary.aggregate`` over ``EventStore.read`` of the last 24 h.

Wall time and peak memory (maximum resident set size) of each child are measured by ``/usr/bin/time -v``,
as bench/collector_bench.py does; the child also reports its own work time and ``VmHWM``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.depth_data import LIVE, POLLED, Generator, add_history, simulate, write_events  # noqa: E402
from liquidation.bucketstore import BucketStore  # noqa: E402
from liquidation.eventstore import EventStore, day_of  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "upstream"
STREAMED = [v for v in LIVE if v not in POLLED]


def serve_venues():  # -> (UpstreamServer, base URL)
    """Every REST endpoint a collection calls, answering with the recorded payloads; polls find no new rows."""
    from tests.upstream_server import Reply, UpstreamServer

    f = FIXTURES
    server = UpstreamServer()
    # One reply is two writes (head, body): without TCP_NODELAY the body waits for the client's delayed ACK
    # (~40 ms a call on loopback), a cost of this local server that no venue has.
    server.httpd.RequestHandlerClass.disable_nagle_algorithm = True
    server.start()
    empty_bitget = json.dumps({"code": "00000", "msg": "success", "data": {"list": []}}).encode()
    server.route("/api/v4/futures/usdt/contracts", Reply.file(f / "gate" / "contracts.json"))
    server.route("/api/v4/futures/usdt/liq_orders", Reply(200, b"[]"))
    server.route("/api/v4/futures/usdt/tickers", Reply.file(f / "gate" / "tickers.json"))
    server.route("/api/v3/market/liquidations", Reply(200, empty_bitget))
    server.route_fn(
        "/api/v5/public/open-interest",
        lambda q, b: Reply.file(f / "okx" / f"open-interest-{'swap' if q['instType'] == ['SWAP'] else 'futures'}.json"),
    )
    server.route_fn("/v5/market/tickers", lambda q, b: Reply.file(f / "bybit" / f"tickers-{q['category'][0]}.json"))
    for name in ("exchangeInfo", "premiumIndex", "openInterest"):
        server.route(f"/fapi/v1/{name}", Reply.file(f / "binance" / f"{name}.json"))
    server.route("/info", Reply.file(f / "hyperliquid" / "metaAndAssetCtxs.json"))
    return server, server.url("")


def build(folder: Path, n: int, history_days: int, template: BucketStore, template_day, fold_every: int) -> dict:
    """The store: ``n`` events in the 24 h before now (and the rest of the day before at the same rate),
    folded every ``fold_every`` s, after ``history_days`` older days. Returns what it took."""
    now = int(time.time())
    start = now - 86400
    day_begin = start // 86400 * 86400
    started = time.perf_counter()
    add_history(folder, template, template_day, day_of(start * 1000), history_days, tables=("venues",))
    history_s = time.perf_counter() - started
    spans = [(day_begin, start, int(n * (start - day_begin) / 86400)), (start, now, n)]
    info = simulate(folder, spans, seed=11, live_since=now - 30 * 3600, fold_every=fold_every)
    return {**info, "history_s": history_s, "built_at": now, "rate_per_s": n / 86400}


def prepare_run(folder: Path, rate: float, seed: int) -> float:
    """The previous minute collected (appended and folded, unmeasured), the listener's last minute appended
    (not folded), pollers.json and status.json as a running deployment leaves them. Returns now."""
    store = BucketStore(folder / "buckets")
    mark = store.mark()
    now = time.time()
    gen = Generator(seed)
    last_fold = int(now) // 60 * 60 - 60
    if last_fold > mark.at:
        gap = [
            gen.event(gen.rng.randrange(mark.at * 1000, last_fold * 1000))
            for _ in range(int(rate * (last_fold - mark.at)))
        ]
        write_events(folder, sorted(gap, key=lambda e: e["ts_ms"]))
    since = int(now) - 30 * 3600
    store.fold(EventStore(folder, load_keys=False), dict.fromkeys(LIVE, since), last_fold)
    minute = [gen.event(gen.rng.randrange(int(now - 60) * 1000, int(now * 1000))) for _ in range(int(rate * 60))]
    write_events(folder, sorted((e for e in minute if e["exchange"] not in POLLED), key=lambda e: e["ts_ms"]))
    state_path = folder / "pollers.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    for venue in POLLED:
        state[venue] = {"since_ms": since * 1000, "last_ms": last_fold * 1000}
    state_path.write_text(json.dumps(state))
    status = {
        "updated": time.time(),
        "venues": {
            v: {"connected": True, "connected_since": since, "last_error": None, "events_stored": 0} for v in STREAMED
        },
    }
    (folder / "status.json").write_text(json.dumps(status))
    return now


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall s, peak RSS MB, stdout) of one child process, measured by ``/usr/bin/time -v`` (a small parent:
    a child forked from this big process would inherit its high-water mark in ``ru_maxrss``)."""
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed: {out.stderr[-1500:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", out.stderr)
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    return seconds, rss_kb / 1024, out.stdout


def manage_env(folder: Path, base: str, tmp: Path) -> dict[str, str]:
    from liquidation.venues import VENUES

    (tmp / "empty.env").write_text("")
    urls = {
        f"EXCHANGE_{v.name.upper()}_{kind.upper()}_URL": "ws://127.0.0.1:9" if kind == "ws" else base
        for v in VENUES
        for kind in v.endpoints
    }
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SECRET_KEY": "bench-" + "k1" * 30,
        "LIQSITE_DATA_DIR": str(tmp),
        "LIQSITE_LOG_DIR": str(tmp),
        "LIQSITE_ENV_FILE": str(tmp / "empty.env"),
        "LIQUIDATION_SOURCE": "exchanges",
        "LIQUIDATION_EVENTS_DIR": str(folder),
        **urls,
    }


def measure(folder: Path, base: str, rate: float, runs: int) -> dict:
    """Median wall and max peak RSS of ``runs`` children each: ours, naive, and the whole command."""
    out: dict[str, dict] = {}
    me = [sys.executable, str(Path(__file__).resolve()), "--child"]
    for mode in ("ours", "naive", "command"):
        walls, peaks, inner = [], [], []
        for i in range(runs):
            prepare_run(folder, rate, seed=100 + i + (10 if mode == "naive" else 20 if mode == "command" else 0))
            if mode == "command":
                with tempfile.TemporaryDirectory() as tmp:
                    cmd = [sys.executable, str(ROOT / "manage.py"), "collect_liquidation", "-v", "0"]
                    wall, peak, _ = run_child(cmd, manage_env(folder, base, Path(tmp)))
                    report = {}
            else:
                wall, peak, text = run_child([*me, mode, str(folder), base])
                report = json.loads(text.strip().splitlines()[-1])
            walls.append(wall)
            peaks.append(peak)
            inner.append(report)
        walls.sort()
        out[mode] = {"wall_s": walls[len(walls) // 2], "peak_mb": max(peaks), "runs": runs, "child": inner[-1]}
        if inner[-1].get("seconds") is not None:
            out[mode]["seconds"] = sorted(r["seconds"] for r in inner)[len(inner) // 2]
    return out


# -- the child -------------------------------------------------------------------------------------


def child(mode: str, folder: Path, base: str) -> None:
    from liquidation.exchanges import ExchangesSource
    from liquidation.http import Deadline, HttpPolicy, make_session
    from liquidation.summary import DAY_MS, aggregate

    before_mb = _status_mb("VmRSS")
    started = time.perf_counter()
    if mode == "ours":
        policy = HttpPolicy(connect_timeout=2, read_timeout=5, retries=0, deadline=30)
        deadline = Deadline(policy.deadline)
        session = make_session(policy, deadline)
        reading = ExchangesSource(folder, urls={"rest": base, "coinm": base}, pace=0).fetch(session, policy, deadline)
        result = {"hour_24_amount": reading.values["hour_24_amount"], "missing": reading.extra["coverage"]["missing"]}
    else:
        now_ms = int(time.time() * 1000)
        store = EventStore(folder)
        counted = 0

        def window():
            nonlocal counted
            for e in store.read(now_ms - DAY_MS, now_ms):
                counted += 1
                yield e

        sums = aggregate(window(), now_ms)
        result = {"hour_24_amount": round(sum(s["hour_24"] for s in sums.values()) / 1e4, 2), "events": counted}
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "imports_mb": before_mb, "hwm_mb": _status_mb("VmHWM"), **result}))


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MB (0 where there is none)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in text.splitlines() if line.startswith(f"{field}:")), 0.0)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), sys.argv[4])
    else:
        raise SystemExit(__doc__)
