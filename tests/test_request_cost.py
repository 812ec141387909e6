"""One client cannot hold the site: requests cost what they read, long windows are capped and weigh
more in the throttle, and every URL answers every method without a 500 (and 500s are logged)."""

from __future__ import annotations

import logging
import logging.handlers

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from liquidation.records import build_record
from liquidation.store import JsonlStore

NOW = 1795600830
BASE = "/api/liquidation-1h/"
DAY = 86400


@pytest.fixture(autouse=True)
def _clock():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def filled(liq_settings, store):
    """Two days of minutes, written in one go."""
    lines = []
    for m in range(NOW // 60 - 2 * 1440 + 1, NOW // 60 + 1):
        values = {"hour_1_amount": m % 997, "panic_index": 0.05, "hour_24_amount": 9000, "total_position": 100}
        lines.append(build_record(m * 60 + 2, values, now=NOW))
    from liquidation.records import to_line

    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_bytes(b"".join(to_line(r) for r in lines))
    return lines


@pytest.fixture
def parsed(monkeypatch):
    """Counts the lines every store read parses, per request."""
    counts: list[int] = []
    real = JsonlStore.range

    def counting(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        counts.append(self.last_report.parsed)
        return out

    monkeypatch.setattr(JsonlStore, "range", counting)
    return counts


def client(addr: str = "10.0.0.1") -> APIClient:
    return APIClient(HTTP_ACCEPT="application/json", REMOTE_ADDR=addr)


def test_an_explicit_window_longer_than_the_cap_is_a_400_naming_start_time_and_is_not_read(
    filled, liq_settings, parsed
):
    liq_settings.LIQUIDATION_API_RATE = None
    r = client().get(BASE + "history", {"interval": "1h", "limit": "43200", "start_time": "2009-01-02"})
    assert r.status_code == 400
    assert "start_time" in r.json() and "31 days" in r.json()["start_time"][0]
    assert client().get(BASE + "export.csv", {"start_time": "2026-01-01", "interval": "15m"}).status_code == 400
    assert sum(parsed) <= 3  # only the newest record, for the ETag: the window is never read


def test_limit_only_and_default_answers_are_as_before(filled, liq_settings):
    liq_settings.LIQUIDATION_API_RATE = None
    assert client().get(BASE + "history").json()["count"] == 1440
    assert client().get(BASE + "history", {"limit": "43200"}).json()["count"] == 2 * 1440
    assert client().get(BASE + "history", {"interval": "1h", "limit": "43200"}).json()["count"] == 49
    start = NOW - 60 * DAY
    minutes = client().get(BASE + "history", {"start_time": str(start), "limit": "100"})
    assert minutes.status_code == 200 and minutes.json()["count"] == 100  # reads 100 records, however long


def test_a_window_request_reads_what_it_returns_plus_a_bounded_margin(filled, liq_settings, parsed):
    liq_settings.LIQUIDATION_API_RATE = None
    client().get(BASE + "history", {"limit": "60"})
    client().get(BASE + "history", {"start_time": str(NOW - 3 * 3600), "end_time": str(NOW - 2 * 3600)})
    client().get(BASE + "latest")
    # Each request reads the newest record first (for its ETag), then its window; repeats are cached.
    latest, last_hour, cached_latest, window, cached_again = parsed
    assert latest <= 3 and cached_latest == 0 and cached_again == 0
    assert last_hour <= 60 + 2
    assert window <= 60 + 100  # the window, two records on each side, the binary search's probes and slack


def test_long_windows_cost_a_unit_per_day_and_another_client_is_unaffected(filled, liq_settings):
    liq_settings.LIQUIDATION_API_RATE = "120/min"
    attacker = client("10.0.0.66")
    codes = []
    for i in range(8):
        start = NOW - 30 * DAY + i * 60  # a new URL each time: no cache helps
        codes.append(attacker.get(BASE + "history", {"interval": "1h", "start_time": str(start)}).status_code)
    assert codes == [200, 200, 200, 200, 429, 429, 429, 429]  # 30 units each out of 120 a minute
    assert attacker.get(BASE + "latest").status_code == 429  # its own cheap requests wait too
    other = client("10.0.0.7")
    assert [other.get(BASE + "latest").status_code for _ in range(5)] == [200] * 5
    day = client("10.0.0.8")
    assert all(day.get(BASE + "history").status_code == 200 for _ in range(120))  # a day costs 1
    assert day.get(BASE + "history").status_code == 429


def test_stats_cost_a_unit_per_day_of_hours(filled, liq_settings):
    liq_settings.LIQUIDATION_API_RATE = "60/min"
    c = client("10.0.0.9")
    assert [c.get(BASE + "stats", {"hours": "720"}).status_code for _ in range(3)] == [200, 200, 429]


# -- methods -----------------------------------------------------------------------------------------

URLS = [
    "/panic",
    "/",
    BASE + "history",
    BASE + "latest",
    BASE + "stats",
    BASE + "status",
    BASE + "export.csv",
    BASE + "export.jsonl",
    "/api/schema/",
    "/api/docs/",
    "/healthz",
    "/metrics",
    "/static/js/panic.js",
]
METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE", "TRACK", "PROPFIND", "CONNECT"]


@pytest.mark.parametrize("url", URLS)
def test_every_url_answers_every_method_without_a_500_and_explains_a_405(filled, liq_settings, url):
    liq_settings.LIQUIDATION_API_RATE = None
    c = Client(raise_request_exception=False)
    for method in METHODS:
        r = c.generic(method, url)
        assert r.status_code < 500, (method, url, r.status_code)
        if method in ("TRACE", "TRACK", "CONNECT"):
            assert r.status_code == 405, (method, url)
        if r.status_code == 405:
            assert r.get("Allow"), (method, url)
            if method != "HEAD":
                assert r.content.strip(), (method, url)  # says what is wrong, never an empty page
            if r["Content-Type"].startswith("application/json"):
                assert r.json()["detail"], (method, url)


def test_a_500_is_logged_once_with_its_traceback(filled, liq_settings, monkeypatch, tmp_path):
    from liquidation import series

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug in a view")

    monkeypatch.setattr(series, "select", broken)
    handler = next(
        h for h in logging.getLogger("django.request").handlers if isinstance(h, logging.handlers.WatchedFileHandler)
    )
    target = tmp_path / "web-errors.log"
    monkeypatch.setattr(handler, "baseFilename", str(target))
    if handler.stream:
        handler.stream.close()
        handler.stream = None
    liq_settings.LIQUIDATION_API_RATE = None
    r = Client(raise_request_exception=False).get(BASE + "history")
    assert r.status_code == 500
    handler.flush()
    text = target.read_text()
    assert text.count("simulated bug in a view") == 2  # the message's traceback line, once per record
    assert text.count("Internal Server Error: /api/liquidation-1h/history") == 1
    assert "Traceback (most recent call last)" in text


def test_metrics_survive_sidecar_files_of_the_wrong_types(filled, liq_settings, tmp_path):
    liq_settings.LIQUIDATION_ALERT_STATE_FILE = tmp_path / "alerts.json"
    events = liq_settings.LIQUIDATION_EVENTS_DIR
    events.mkdir(parents=True, exist_ok=True)
    liq_settings.LIQUIDATION_LAST_RUN_FILE.write_text('{"counts": {"ok|x": "many", "1": [1]}, "last_success": "x"}')
    (events / "status.json").write_text(
        '{"venues": {"binance": 3, "okx": {"skipped": [], "reconnects": "2"}}, "updated": null}'
    )
    liq_settings.LIQUIDATION_ALERT_STATE_FILE.write_text('{"sends": ["a"]}')
    r = Client().get("/metrics")
    assert r.status_code == 200
    assert b"liqsite_newest_record_age_seconds" in r.content
    for bad in ("[1, 2]", '"text"', "null", "{broken"):
        liq_settings.LIQUIDATION_LAST_RUN_FILE.write_text(bad)
        (events / "status.json").write_text(bad)
        assert Client().get("/metrics").status_code == 200
