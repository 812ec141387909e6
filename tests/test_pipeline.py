"""pipeline.Minute: what one minute does, called directly (the command only maps its outcome to an exit
status): appended / duplicate / error / unconfigured with last_run written each time, a bug in a source
recorded as this minute's failure, and the daily prune once a UTC day."""

from __future__ import annotations

import json

from liquidation.conf import pipeline
from liquidation.records import build_record
from tests.upstream_server import Reply

PANIC = "/api/panic/latest"


def last_run(liq_settings) -> dict:
    return json.loads(liq_settings.LIQUIDATION_LAST_RUN_FILE.read_text())


def test_appended_then_duplicate_both_exit_0_and_say_so_in_last_run(liq_settings, store, upstream, fixture_path):
    liq_settings.LIQUIDATION_SOURCE_URL = upstream.route(
        PANIC, Reply.file(fixture_path("upstream/panic-api/latest-flat.json"))
    )
    minute = pipeline()
    first, second = minute.run(), minute.run()
    assert (first.outcome, first.exit_code, second.outcome, second.exit_code) == ("appended", 0, "duplicate", 0)
    assert store.count() == 1
    assert last_run(liq_settings)["outcome"] == "duplicate"


def test_an_upstream_failure_is_exit_1_with_nothing_written(liq_settings, store, upstream):
    liq_settings.LIQUIDATION_SOURCE_URL = upstream.route(PANIC, Reply(status=503))
    outcome = pipeline().run()
    assert (outcome.outcome, outcome.exit_code) == ("error", 1)
    assert store.count() == 0
    assert last_run(liq_settings)["error_class"] == "http-status"


def test_no_source_configured_is_exit_2(liq_settings, store):
    liq_settings.LIQUIDATION_SOURCE = "panic-api"  # named, but without its URL
    outcome = pipeline().run()
    assert (outcome.outcome, outcome.exit_code) == ("unconfigured", 2)
    assert last_run(liq_settings)["outcome"] == "unconfigured"


def test_a_bug_in_the_source_is_this_minutes_failure_not_a_traceback(liq_settings, store, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("liquidation.pipeline.collect_once", broken)
    outcome = pipeline("panic-api", "http://127.0.0.1:9/x").run()
    assert (outcome.outcome, outcome.exit_code) == ("error", 1)
    assert "unexpected ZeroDivisionError" in outcome.message
    assert last_run(liq_settings)["error_class"] == "internal"


def test_the_prune_runs_once_a_day(liq_settings, store):
    liq_settings.LIQUIDATION_KEEP_DAYS = 1
    values = {"hour_1_amount": 1.0, "panic_index": 0.01, "hour_24_amount": 1.0, "total_position": 1.0}
    old = build_record(1_700_000_001, values, now=1_700_000_100)
    store.append(old, now=1_700_000_100)
    minute = pipeline()
    minute.maintain(today="2026-12-01")
    assert store.count() == 0
    store.append(old, now=1_700_000_100)
    minute.maintain(today="2026-12-01")  # the same day: not again
    assert store.count() == 1
    minute.maintain(today="2026-12-02")
    assert store.count() == 0
