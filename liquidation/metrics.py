"""Prometheus metrics, computed at scrape time from the files the collector and listener keep.

Counters live in ``last_run.json`` (written by every collection, cron or loop) and the listener's
``status.json``, so the web process needs no shared state with them. Django-free apart from the
settings passed in by the view.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .bucketstore import BucketStore
from .recordstore import RecordStore
from .sharedfiles import counted, read_last_run
from .statestore import StateStore, as_state


def _num(value: Any) -> float | None:
    """``value`` as a float when it is a plain finite number; None for anything else (the sidecar
    files are written by us, but a hand edit or a half-written older version must not make a 500)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _dict(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


class LiqsiteCollector(Collector):
    def __init__(
        self,
        store: RecordStore,
        state: StateStore,
        alert_state_file: StateStore | Path | None = None,
        *,
        source_url: str | None = None,
        buckets: BucketStore | None = None,
    ) -> None:
        self.store, self.state = store, state
        self.buckets = buckets
        self.alert_state_file = alert_state_file
        self.source_url = source_url  # already redacted; given only when /metrics is behind its token

    def collect(self) -> Iterator[Any]:
        last_run = read_last_run(self.state)
        runs = CounterMetricFamily(
            "liqsite_collections", "Collections by outcome and source", labels=["outcome", "source"]
        )
        for outcome, source, n in last_run["counts"] if last_run else ():
            runs.add_metric([outcome, source], n)
        yield runs
        success = GaugeMetricFamily("liqsite_last_success_timestamp_seconds", "Unix time of the last good collection")
        if last_run and last_run["last_success"]:
            success.add_metric([], float(last_run["last_success"]))
        yield success
        if self.source_url:
            info = GaugeMetricFamily("liqsite_source_info", "The configured upstream (URL redacted)", labels=["url"])
            info.add_metric([self.source_url], 1.0)
            yield info

        newest = self.store.latest()
        age = GaugeMetricFamily("liqsite_newest_record_age_seconds", "Age of the newest stored record")
        if newest is not None:
            age.add_metric([], time.time() - newest["timestamp"])  # negative: dated after our clock
        yield age
        suspect = GaugeMetricFamily(
            "liqsite_suspect_venue",
            "1 for each venue the newest record left out of its totals as implausible (coverage.suspect)",
            labels=["exchange"],
        )
        coverage = newest.get("coverage") if newest is not None else None
        for venue in _dict(coverage.get("suspect") if isinstance(coverage, dict) else None):
            suspect.add_metric([str(venue)], 1.0)
        yield suspect
        records = GaugeMetricFamily("liqsite_store_records", "Records in the store (JSONL file or PostgreSQL)")
        records.add_metric([], float(self.store.count()))
        yield records

        status = self.state.read("streams")
        venues = _dict(status.get("venues"))
        updated = _num(status.get("updated")) or 0.0
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
            if not isinstance(info, dict):
                continue
            name = str(name)
            connected.add_metric([name], 1.0 if fresh and info.get("connected") is True else 0.0)
            stored.add_metric([name], _num(info.get("events_stored")) or 0.0)
            reconnects.add_metric([name], _num(info.get("reconnects")) or 0.0)
            for reason, n in _dict(info.get("skipped")).items():
                if _num(n) is not None:
                    skipped.add_metric([name, str(reason)], _num(n))
        yield from (connected, stored, reconnects, skipped)

        fold = GaugeMetricFamily(
            "liqsite_buckets_last_fold_timestamp_seconds",
            "Unix time of the newest committed fold of events into minute buckets (keyless source)",
        )
        mark = self.buckets.mark() if self.buckets is not None else None
        if mark is not None and mark.seq:
            fold.add_metric([], float(mark.at))
        yield fold

        sends = CounterMetricFamily(
            "liqsite_alert_sends", "Alert messages sent, by outcome and channel", labels=["outcome", "channel"]
        )
        if self.alert_state_file is not None:
            alerts = as_state(self.alert_state_file, "alerts").read("alerts")
            for outcome, channel, n in counted(alerts.get("sends")):
                sends.add_metric([outcome, channel], n)
        yield sends
