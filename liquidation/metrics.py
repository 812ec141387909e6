"""Prometheus metrics, computed at scrape time from the files the collector and listener keep.

Counters live in ``last_run.json`` (written by every collection, cron or loop) and the listener's
``status.json``, so the web process needs no shared state with them. Django-free apart from the
settings passed in by the view.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .store import JsonlStore

_LINE_COUNTS: dict[tuple[Any, ...], int] = {}


def count_lines(path: Path) -> int:
    """Newlines in the file (its records, give or take bad lines), cached per file identity."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return 0
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _LINE_COUNTS:
        count = 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                count += chunk.count(b"\n")
        _LINE_COUNTS.clear()
        _LINE_COUNTS[key] = count
    return _LINE_COUNTS[key]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class LiqsiteCollector(Collector):
    def __init__(
        self, data_file: Path, last_run_file: Path, status_file: Path, alert_state_file: Path | None = None
    ) -> None:
        self.data_file, self.last_run_file, self.status_file = data_file, last_run_file, status_file
        self.alert_state_file = alert_state_file

    def collect(self) -> Iterator[Any]:
        last_run = _read(self.last_run_file)
        runs = CounterMetricFamily(
            "liqsite_collections", "Collections by outcome and source", labels=["outcome", "source"]
        )
        for key, value in (last_run.get("counts") or {}).items():
            outcome, _, source = key.partition("|")
            runs.add_metric([outcome, source], float(value))
        yield runs
        success = GaugeMetricFamily("liqsite_last_success_timestamp_seconds", "Unix time of the last good collection")
        if last_run.get("last_success"):
            success.add_metric([], float(last_run["last_success"]))
        yield success

        newest = JsonlStore(self.data_file).latest()
        age = GaugeMetricFamily("liqsite_newest_record_age_seconds", "Age of the newest stored record")
        if newest is not None:
            age.add_metric([], max(0.0, time.time() - newest["timestamp"]))
        yield age
        size = GaugeMetricFamily("liqsite_store_bytes", "Size of the JSONL data file")
        size.add_metric([], float(self.data_file.stat().st_size) if self.data_file.exists() else 0.0)
        yield size
        records = GaugeMetricFamily("liqsite_store_records", "Lines in the JSONL data file")
        records.add_metric([], float(count_lines(self.data_file)))
        yield records

        status = _read(self.status_file)
        venues = status.get("venues") or {}
        updated = status.get("updated", 0)
        fresh = time.time() - updated <= 30
        connected = GaugeMetricFamily(
            "liqsite_stream_connected", "1 when the listener's feed for the exchange is up", labels=["exchange"]
        )
        stored = CounterMetricFamily("liqsite_stream_events_stored", "Liquidation events stored", labels=["exchange"])
        reconnects = CounterMetricFamily("liqsite_stream_reconnects", "Reconnections", labels=["exchange"])
        skipped = CounterMetricFamily(
            "liqsite_stream_frames_skipped", "Frames skipped, by reason", labels=["exchange", "reason"]
        )
        for name, info in venues.items():
            connected.add_metric([name], 1.0 if fresh and info.get("connected") else 0.0)
            stored.add_metric([name], float(info.get("events_stored", 0)))
            reconnects.add_metric([name], float(info.get("reconnects", 0)))
            for reason, n in (info.get("skipped") or {}).items():
                skipped.add_metric([name, reason], float(n))
        yield from (connected, stored, reconnects, skipped)

        sends = CounterMetricFamily(
            "liqsite_alert_sends", "Alert messages sent, by outcome and channel", labels=["outcome", "channel"]
        )
        if self.alert_state_file is not None:
            for key, n in (_read(self.alert_state_file).get("sends") or {}).items():
                outcome, _, channel = key.partition("|")
                sends.add_metric([outcome, channel], float(n))
        yield sends
