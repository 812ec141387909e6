"""collect_once, the every-minute loop, last_run.json, and the command in a real process."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time

import pytest
import time_machine

from liquidation.collector import CollectError, collect_once, run_loop, write_last_run
from liquidation.http import HttpPolicy
from liquidation.sources import PanicApiSource
from tests.conftest import (
    FAST_POLICY,
    MANAGE,
    PROJECT,
    child_clock,
    minute_start_clock,
    run_manage,
    spawn,
    subprocess_env,
)
from tests.upstream_server import Reply, wait_for

PANIC = "/api/panic/latest"


def test_collect_once_stamps_the_record_with_the_collection_time(store, upstream, fixture_path):
    url = upstream.route(PANIC, Reply.file(fixture_path("upstream/panic-api/latest-flat.json")))
    with time_machine.travel(1795629460.4, tick=False):
        result = collect_once(PanicApiSource(url), store, FAST_POLICY)
    assert result.outcome == "appended"
    assert result.record["timestamp"] == 1795629460
    assert result.record["datetime"] == "2026-11-26 01:57:40"
    assert store.latest() == result.record
    assert "appended 2026-11-26 01:57:40 (UTC+8) from panic-api: 1h=397.14万" in result.summary()


def test_collect_once_refuses_a_minute_older_than_the_newest(store, upstream, fixture_path):
    url = upstream.route(PANIC, Reply.file(fixture_path("upstream/panic-api/latest-flat.json")))
    collect_once(PanicApiSource(url), store, FAST_POLICY, now=1795629460)
    before = store.path.read_bytes()
    with pytest.raises(CollectError, match="older than the newest"):
        collect_once(PanicApiSource(url), store, FAST_POLICY, now=1795629460 - 300)
    assert store.path.read_bytes() == before


def test_run_loop_survives_failures_and_stops_on_the_event():
    stop = threading.Event()
    calls = []

    def collect():
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise CollectError("upstream down")
        if len(calls) == 2:
            raise RuntimeError("a bug")
        if len(calls) == 3:
            stop.set()

    n = run_loop(collect, stop, interval=1, clock=lambda: time.time() * 20)  # 20x clock: slots of 50 ms
    assert n == 3
    assert len(calls) == 3


def test_run_loop_waits_for_the_start_of_the_next_slot():
    waits = []

    class RecordingEvent(threading.Event):
        def wait(self, timeout=None):
            waits.append(timeout)
            self.set()  # stop after the first wait
            return True

    calls = run_loop(lambda: None, RecordingEvent(), interval=60, clock=lambda: 1000.0 * 60 + 42.5)
    assert calls == 1
    assert waits == [pytest.approx(17.5)]  # 42.5 s into the minute: wait for the next one


def test_last_run_file_is_replaced_atomically_and_readable(tmp_path):
    path = tmp_path / "sub" / "last_run.json"
    write_last_run(path, "ok", source="panic-api", detail="appended", now=1795629460)
    write_last_run(path, "error", source="panic-api", detail="HTTP 500", error_class="http-status", now=1795629520)
    data = json.loads(path.read_text())
    assert data == {
        "time": 1795629520,
        "datetime": "2026-11-26 01:58:40",
        "outcome": "error",
        "source": "panic-api",
        "error": "HTTP 500",
        "error_class": "http-status",
        "last_success": 1795629460,
        "counts": {"ok": {"panic-api": 1}, "error": {"panic-api": 1}},
    }
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in path.parent.iterdir()) == ["last_run.json", "last_run.json.lock"]  # no temp left


def _run(env, *args):
    return run_manage(env, "collect_liquidation", *args)


def test_two_collectors_started_in_the_same_minute_leave_exactly_one_record(tmp_path, upstream, fixture_path):
    # A slow upstream makes both processes pass the "already collected?" pre-check before either
    # writes, so the store's lock and same-minute rule are what keep the second record out.
    url = upstream.route(PANIC, Reply.file(fixture_path("upstream/panic-api/latest-flat.json"), delay=1.0))
    env = subprocess_env(tmp_path, LIQUIDATION_SOURCE_URL=url)
    clock = child_clock(minute_start_clock())  # both in one minute, without waiting for one
    procs = spawn([*clock, *MANAGE, "collect_liquidation"], env)
    results = [(*p.communicate(timeout=60), p.returncode) for p in procs]
    assert [r[2] for r in results] == [0, 0], results
    data = (tmp_path / "data" / "liquidation_1h.jsonl").read_text().splitlines()
    assert len(data) == 1
    assert upstream.hits(PANIC) == 2
    messages = " ".join(r[1] for r in results)
    assert "appended" in messages
    assert "nothing written" in messages


def test_loop_collects_then_stops_cleanly_on_sigterm(tmp_path, upstream, fixture_path):
    url = upstream.route(PANIC, Reply.file(fixture_path("upstream/panic-api/latest-flat.json")))
    env = subprocess_env(tmp_path, LIQUIDATION_SOURCE_URL=url)
    proc = subprocess.Popen(
        [*MANAGE, "collect_liquidation", "--loop"],
        env=env,
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    data = tmp_path / "data" / "liquidation_1h.jsonl"
    try:
        assert wait_for(lambda: data.exists() and data.read_text().count("\n") == 1, timeout=20)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "received SIGTERM, finishing the current collection and stopping" in err
    assert "collector loop stopped after 1 collection(s)" in err


@pytest.mark.slow
def test_loop_with_no_exchange_reachable_keeps_running_and_says_so(tmp_path):
    env = subprocess_env(tmp_path)
    proc = subprocess.Popen(
        [*MANAGE, "collect_liquidation", "--loop", "--interval", "1"],
        env=env,
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3.5)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert err.count("no exchange reachable") >= 2  # said again every interval, the loop still alive
    assert "stream_liquidations" in err


def test_command_exit_codes_in_a_real_process(tmp_path, upstream, fixture_path):
    good = upstream.route(PANIC, Reply.file(fixture_path("upstream/panic-api/latest-flat.json")))
    bad = upstream.route("/bad", Reply(200, b"null"))
    assert _run(subprocess_env(tmp_path), "--source", "panic-api").returncode == 2
    failed = _run(subprocess_env(tmp_path, LIQUIDATION_SOURCE_URL=bad))
    assert failed.returncode == 1
    assert "expected a JSON object, got null" in failed.stderr
    ok = _run(subprocess_env(tmp_path, LIQUIDATION_SOURCE_URL=good), "-v", "0")
    assert ok.returncode == 0
    assert ok.stderr == ""  # -v 0: quiet on success
    assert json.loads((tmp_path / "data" / "last_run.json").read_text())["outcome"] == "ok"


def test_policy_defaults_fit_inside_one_minute():
    p = HttpPolicy()
    assert p.deadline < 60
    assert p.retry_after_max < p.deadline


def test_stream_command_stays_out_of_the_way_of_other_sources(tmp_path):
    out = run_manage(
        subprocess_env(tmp_path, LIQUIDATION_SOURCE_URL="http://127.0.0.1:9/x"),
        "stream_liquidations",
        "--only-for-exchanges-source",
    )
    assert out.returncode == 0
    assert "not listening" in out.stdout
    bad = run_manage(subprocess_env(tmp_path), "stream_liquidations", "--exchanges", "gate")
    assert bad.returncode == 1
    assert "unknown exchange(s) gate" in bad.stderr


def test_stream_command_with_the_default_venue_list_listens_to_the_streamed_ones(tmp_path):
    out = run_manage(subprocess_env(tmp_path), "stream_liquidations", "--duration", "1", "-v", "2")
    assert out.returncode == 0, out.stderr
    assert "unknown exchange" not in out.stderr
    status = json.loads((tmp_path / "data" / "events" / "status.json").read_text())
    assert sorted(status["venues"]) == ["binance", "bybit", "okx"]
