"""How many liquidation events per second the listener's pipeline normalizes and stores.

    .venv/bin/python bench/stream_bench.py [--events 200000]

Measures, in one run on this machine:

- ours: ``venues.binance.parse_binance`` on combined-stream frames, then ``EventStore.append`` in batches as
  the listener's 250 ms flusher does (one write and one fdatasync per batch), de-duplication included;
- the naive baseline: the same parsing, but each event appended and fsynced on its own (what a
  listener without batching would do), measured on fewer events and reported per second.

Prints events/s for both, the ratio, and the machine it ran on. Target: ours >= 20,000 events/s on one
core, far above any exchange's peak (Binance pushes at most one liquidation per symbol per second).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from liquidation.eventstore import EventStore
from liquidation.store import append_durably
from liquidation.venues.binance import parse_binance


def frames(n: int, start_ms: int) -> list[str]:
    out = []
    for i in range(n):
        order = {
            "s": f"SYM{i % 400}USDT",
            "S": "SELL" if i % 3 else "BUY",
            "o": "LIMIT",
            "f": "IOC",
            "q": "0.190",
            "p": "82338.30",
            "ap": f"{80000 + i % 5000}.5",
            "X": "FILLED",
            "l": "0.155",
            "z": "0.190",
            "T": start_ms + i,
            "ps": "BTCUSDT",
            "st": 1,  # USDⓈ-M, as live frames carry it
        }
        out.append(
            json.dumps({"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": start_ms + i + 3, "o": order}})
        )
    return out


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return " · ".join(
        [
            platform.node(),
            model or platform.processor(),
            f"{os.cpu_count()} cores",
            f"Python {platform.python_version()}",
            f"{platform.system()} {platform.release()}",
        ]
    )


def run_ours(data: list[str], folder: Path, batch: int) -> float:
    store = EventStore(folder, load_keys=False)
    now_ms = int(time.time() * 1000)
    started = time.perf_counter()
    pending = []
    for frame in data:
        pending.extend(parse_binance(frame, now_ms=now_ms).events)
        if len(pending) >= batch:
            store.append(pending)
            pending = []
    if pending:
        store.append(pending)
    elapsed = time.perf_counter() - started
    stored = sum(1 for _ in store.read(0, now_ms + 10**7))
    assert stored == len(data), (stored, len(data))
    return len(data) / elapsed


def run_naive(data: list[str], folder: Path) -> float:
    now_ms = int(time.time() * 1000)
    path = folder / "naive.jsonl"
    started = time.perf_counter()
    for frame in data:
        for event in parse_binance(frame, now_ms=now_ms).events:
            append_durably(path, (json.dumps(event) + "\n").encode())
    return len(data) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--naive-events", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=5_000, help="events per flush (250 ms at 20,000/s)")
    args = parser.parse_args()
    start_ms = int(time.time() * 1000) - 3_600_000
    data = frames(args.events, start_ms)
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent) as tmp:
        ours = run_ours(data, Path(tmp) / "ours", args.batch)
        naive = run_naive(data[: args.naive_events], Path(tmp))
    print(f"machine: {machine()}")
    print(f"{'pipeline':<44}{'events':>10}{'events/s':>14}")
    print(f"{'ours: parse + batched append (1 fsync/batch)':<44}{args.events:>10}{ours:>14,.0f}")
    print(f"{'naive: parse + append and fsync each event':<44}{args.naive_events:>10}{naive:>14,.0f}")
    print(f"ratio ours/naive: {ours / naive:,.1f}x; target >= 20,000 events/s: {'met' if ours >= 20000 else 'NOT met'}")


if __name__ == "__main__":
    main()
