"""Bytes over the wire: the first load of /panic in Debian's Chromium, compressed and not.

    .venv/bin/python bench/transfer_bench.py [--quick] [--json OUT]

Collects the static files into a temporary folder and starts the site (gunicorn, 2 workers, bench
settings) on 127.0.0.1 with 24 h of minute records shaped like the keyless source's (every venue in
``by_exchange``, ``coverage``, ``prices``: built by ``summary.summarize`` itself), the newest from the
current minute (--quick: 3 h). Then it loads /panic in a fresh browser context (empty cache) twice:

- as Chromium asks (``Accept-Encoding: gzip, deflate, br, zstd``);
- the naive baseline, in the same run: the same load with ``Accept-Encoding: identity`` (nothing
  compressed, what the site served before compression).

Bytes are what Chromium's network stack says it received for each request (CDP
``Network.loadingFinished`` ``encodedDataLength``: status line, headers and body as transferred),
summed over every request of the load until the network is idle. It also prints one 24 h history
request's size per encoding. Target: first load <= 700 KB transferred.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.bench_settings")

from bench.server import gunicorn, report  # noqa: E402
from liquidation.records import build_record, to_line  # noqa: E402
from liquidation.summary import Gathered, summarize  # noqa: E402
from liquidation.venues import names  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
#: As in tests/browser/conftest.py: no sandbox (root in a container), no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TARGET_BYTES = 700 * 1000
HISTORY_24H = "/api/liquidation-1h/history?limit=1440"
ENCODINGS = ("identity", "gzip", "br", "zstd")


def realistic_records(minutes: int, now: float) -> list[dict]:
    """``minutes`` records, one a minute up to ``now``'s minute (collected at second 1), as the keyless
    source writes them: ``summarize`` over per-venue sums that move from minute to minute."""
    rng = random.Random(minutes)
    venues = list(names())
    oi_base = {v: (30 + 10 * i) * 1e8 for i, v in enumerate(venues)}
    connected = int(now) - minutes * 60 - 3 * 86400  # when the listener connected to each venue
    records = []
    for back in range(minutes - 1, -1, -1):
        ts = (int(now) // 60 - back) * 60 + 1
        sums = {}
        for i, v in enumerate(venues):
            h1_long, h1_short = rng.uniform(0, 4e6) / (i + 1), rng.uniform(0, 3e6) / (i + 1)
            h24_long, h24_short = 30 * h1_long + rng.uniform(0, 1e7), 30 * h1_short + rng.uniform(0, 1e7)
            sums[v] = {
                "hour_1": h1_long + h1_short,
                "hour_1_long": h1_long,
                "hour_1_short": h1_short,
                "hour_24": h24_long + h24_short,
                "hour_24_long": h24_long,
                "hour_24_short": h24_short,
            }
        gathered = Gathered(
            now=ts,
            liquidation_venues=venues,
            live={v: connected for v in venues},
            oi_usd={v: oi * rng.uniform(0.995, 1.005) for v, oi in oi_base.items()},
            marks={
                v: {"BTCUSDT": 97000 + rng.uniform(-500, 500), "ETHUSDT": 3600 + rng.uniform(-30, 30)} for v in venues
            },
        )
        values, extra = summarize(sums, gathered)
        records.append(build_record(ts, values, now=ts, source="exchanges", source_time=ts - 1, **extra))
    return records


def collectstatic(static_root: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**env, "LIQSITE_STATIC_ROOT": str(static_root)},
        check=True,
    )


def first_load(browser, url: str, accept_encoding: str | None) -> dict:
    """Load ``url`` in a fresh context (empty cache) and return per-request bytes as Chromium counted
    them. ``accept_encoding`` replaces the browser's own header on every request when given."""
    headers = {"Accept-Encoding": accept_encoding} if accept_encoding else None
    context = browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers=headers)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    requests: dict[str, dict] = {}

    def received(event: dict) -> None:
        response = event["response"]
        lowered = {k.lower(): v for k, v in response["headers"].items()}
        requests.setdefault(event["requestId"], {}).update(
            url=response["url"], status=response["status"], encoding=lowered.get("content-encoding", "identity")
        )

    def data(event: dict) -> None:
        entry = requests.setdefault(event["requestId"], {})
        entry["decoded"] = entry.get("decoded", 0) + event["dataLength"]

    def finished(event: dict) -> None:
        requests.setdefault(event["requestId"], {})["transferred"] = event["encodedDataLength"]

    cdp.on("Network.responseReceived", received)
    cdp.on("Network.dataReceived", data)
    cdp.on("Network.loadingFinished", finished)
    cdp.send("Network.enable")
    started = time.perf_counter()
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(1000)  # anything the page asks for after its first answers
    seconds = time.perf_counter() - started
    context.close()
    done = [r for r in requests.values() if "transferred" in r and "url" in r]
    done.sort(key=lambda r: -r["transferred"])
    base = url.rsplit("/", 1)[0]
    for r in done:
        r["url"] = r["url"].removeprefix(base)
    return {
        "requests": len(done),
        "transferred": sum(r["transferred"] for r in done),
        "decoded": sum(r.get("decoded", 0) for r in done),
        "seconds": seconds,
        "resources": done,
    }


def history_sizes(base: str) -> dict[str, dict]:
    """One 24 h history request per Accept-Encoding: the body's bytes as sent."""
    out = {}
    for encoding in ENCODINGS:
        request = urllib.request.Request(
            base + HISTORY_24H, headers={"Accept": "application/json", "Accept-Encoding": encoding}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            out[encoding] = {"bytes": len(body), "encoding": response.headers.get("Content-Encoding", "identity")}
    return out


def kb(n: float) -> str:
    return f"{n / 1000:,.1f} KB"


TABLE_HEADERS = {
    "loads": "| load | requests | transferred | decoded | load time |\n|---|---|---|---|---|",
    "resources": "| resource | encoding | transferred | decoded |\n|---|---|---|---|",
    "history": "| Accept-Encoding | Content-Encoding | body bytes | smaller than identity |\n|---|---|---|---|",
}
LOAD_NAMES = {
    "compressed": "ours: as Chromium asks (`gzip, deflate, br, zstd`)",
    "identity": "naive: `Accept-Encoding: identity`",
}


def load_rows(loads: dict) -> list[str]:
    return [
        f"| {LOAD_NAMES.get(name, name)} | {load['requests']} | {kb(load['transferred'])} | {kb(load['decoded'])} "
        f"| {load['seconds']:.2f} s |"
        for name, load in loads.items()
    ]


def resource_rows(load: dict, top: int = 8) -> list[str]:
    return [
        f"| `{r['url']}` | {r['encoding']} | {kb(r['transferred'])} | {kb(r.get('decoded', 0))} |"
        for r in load.get("resources", [])[:top]
    ]


def history_rows(history: dict) -> list[str]:
    identity = history.get("identity", {}).get("bytes", 0)
    return [
        f"| {encoding} | {h['encoding']} | {h['bytes']:,} | {identity / h['bytes']:.1f}× |"
        for encoding, h in history.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    minutes = 180 if args.quick else 1440
    records = realistic_records(minutes, time.time())
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        data = t / "liquidation_1h.jsonl"
        data.write_bytes(b"".join(to_line(r) for r in records))
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.bench_settings", "LIQSITE_DATA_DIR": tmp}
        collectstatic(t / "static", env)
        with gunicorn(data, LIQSITE_STATIC_ROOT=str(t / "static")) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                loads = {
                    "compressed": first_load(browser, base + "/panic", None),
                    "identity": first_load(browser, base + "/panic", "identity"),
                }
            finally:
                browser.close()
            history = history_sizes(base)
        stored = data.stat().st_size

    print(f"{len(records):,} records ({kb(stored)} as stored)")
    for line in (TABLE_HEADERS["loads"], *load_rows(loads), "", TABLE_HEADERS["resources"]):
        print(line)
    for line in (*resource_rows(loads["compressed"]), "", TABLE_HEADERS["history"], *history_rows(history), ""):
        print(line)
    ours, naive = loads["compressed"]["transferred"], loads["identity"]["transferred"]
    h = history
    verdict = [
        f"- first load of /panic: {kb(ours)} transferred (target ≤ {kb(TARGET_BYTES)}): "
        f"{'met' if ours <= TARGET_BYTES else 'MISSED'}; naive (uncompressed) {kb(naive)}, {naive / ours:.1f}× more",
        f"- one 24 h history request: {h['identity']['bytes']:,} bytes uncompressed, {h['br']['bytes']:,} br, "
        f"{h['gzip']['bytes']:,} gzip, {h['zstd']['bytes']:,} zstd",
        f"- the largest answer, {loads['compressed']['resources'][0]['url'].split('?')[0]}, is "
        f"{loads['compressed']['resources'][0]['transferred'] / ours:.0%} of the first load; a record is "
        f"{h['identity']['bytes'] / len(records):,.0f} bytes of JSON uncompressed (every venue's figures, coverage, prices)",
    ]
    report(verdict, args.json, minutes=minutes, records=len(records), stored_bytes=stored, loads=loads, history=history)


if __name__ == "__main__":
    main()
