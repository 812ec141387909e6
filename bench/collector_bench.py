"""Cost of one `collect_liquidation` run as a whole process: wall time and peak memory.

    .venv/bin/python bench/collector_bench.py [--quick] [--json OUT]

Serves the recorded panic-api and Coinglass payloads from a real HTTP server on 127.0.0.1 and runs
`/usr/bin/time -v manage.py collect_liquidation` against each (a fresh data file every run, so each
one appends). Target: <= 1 s and <= 80 MB (the earlier system allowed its collector 200 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.upstream_server import Reply, UpstreamServer  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "upstream"


def one_run(env: dict[str, str]) -> tuple[float, float]:
    out = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, str(ROOT / "manage.py"), "collect_liquidation", "-v", "0"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode != 0:
        raise SystemExit(f"collect_liquidation failed: {out.stderr[-500:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", out.stderr)
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    return seconds, rss_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runs = 1 if args.quick else 5
    server = UpstreamServer().start()
    panic = server.route("/api/panic/latest", Reply.file(FIXTURES / "panic-api" / "latest-flat.json"))
    server.route_fn(
        "/api/futures/liquidation/exchange-list",
        lambda q, b: Reply.file(FIXTURES / "coinglass" / f"exchange-list-{q['range'][0]}.json"),
    )
    server.route("/api/futures/exchange-rank", Reply.file(FIXTURES / "coinglass" / "exchange-rank.json"))
    sources = {
        "panic-api": {"LIQUIDATION_SOURCE": "panic-api", "LIQUIDATION_SOURCE_URL": panic},
        "coinglass": {
            "LIQUIDATION_SOURCE": "coinglass",
            "COINGLASS_API_KEY": "bench",
            "COINGLASS_BASE_URL": server.url(""),
        },
    }
    results = {}
    try:
        for name, extra in sources.items():
            walls, peaks = [], []
            for _ in range(runs):
                with tempfile.TemporaryDirectory() as tmp:
                    (Path(tmp) / "empty.env").write_text("")
                    env = {
                        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                        "DJANGO_SECRET_KEY": "bench-" + "k1" * 30,
                        "LIQSITE_DATA_DIR": tmp,
                        "LIQSITE_LOG_DIR": tmp,
                        "LIQSITE_ENV_FILE": str(Path(tmp) / "empty.env"),
                        **extra,
                    }
                    wall, peak = one_run(env)
                walls.append(wall)
                peaks.append(peak)
            results[name] = {"wall_s": statistics.median(walls), "peak_mb": max(peaks), "runs": runs}
            r = results[name]
            print(f"| collect_liquidation, {name} | {r['wall_s']:.2f} s | {r['peak_mb']:.1f} MB |", flush=True)
    finally:
        server.stop()
    verdict = [
        f"- {name}: {r['wall_s']:.2f} s (target ≤ 1 s): {'met' if r['wall_s'] <= 1 else 'MISSED'}; "
        f"{r['peak_mb']:.1f} MB (target ≤ 80 MB): {'met' if r['peak_mb'] <= 80 else 'MISSED'}"
        for name, r in results.items()
    ]
    for line in verdict:
        print(line)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "targets": verdict}, indent=1))


if __name__ == "__main__":
    main()
