"""The benchmarks run in quick mode on every CI run, so they never rot. No timing is asserted."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PROJECT


def test_quick_benchmark_runs_end_to_end_and_reports_every_part():
    out = subprocess.run(
        [sys.executable, str(PROJECT / "bench" / "run.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=PROJECT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = (PROJECT / "bench" / "data" / "RESULTS-quick.md").read_text()
    parts = (
        "| 3d | latest |",
        "GET /api/liquidation-1h/latest",
        "| coinglass |",
        "events/s",
        "| no attack (baseline) |",
        "| 1d | summary 24h |",
        "| 3d | bars 24h/5m |",
        "| 3d | tape newest 50 |",
        "ExchangesSource.fetch",
        "- one keyless collection with",
        "| naive: `Accept-Encoding: identity` |",
        "- first load of /panic: ",
        "| br | br |",  # the 24 h history answered compressed as asked
        "| gzip | gzip |",
    )
    for part in parts:
        assert part in report
    assert "| NO |" not in report  # the depth figures agree with the naive baseline's
