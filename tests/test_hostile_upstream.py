"""Hostile upstreams and alert services: whatever they answer, a collection ends with its outcome in
last_run.json, one log line and the alert step, and an alert send is one channel's failure only.

Each case here once crashed the collector or stalled the alert outbox with a traceback.
"""

from __future__ import annotations

import json
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from liquidation.alerts import AlertConfig, Rule, run_alerts
from liquidation.channels import DingTalk, Webhook, WeCom
from liquidation.http import Deadline, FetchError, get_json, make_session, parse_json_body
from liquidation.records import MAX_DEPTH, RecordError, build_record, loads_strict
from tests.conftest import FAST_POLICY
from tests.upstream_server import Reply

PANIC = "/api/panic/latest"
VALUES = {"hour_1_amount": 350.0, "panic_index": 0.07, "hour_24_amount": 13000.0, "total_position": 104.0}

DEEP_BODIES = {
    "100k-open-brackets": b"[" * 100_000,
    "nested-objects": b'{"a":' * 50_000,
    "balanced-deep": b"[" * 2000 + b"]" * 2000,
    "deep-inside-a-valid-object": b'{"hour_1_amount": ' + b"[" * 5000 + b"1" + b"]" * 5000 + b"}",
}
BAD_LOCATIONS = ["http://u:p@127.0.0.1:99999/", "http://[::1/x", "http://%zz/", "ht!tp://x", "http://" + "a" * 300]


@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_deeply_nested_json_is_refused_before_any_parser_recurses(body):
    with pytest.raises(RecordError, match=f"deeper than {MAX_DEPTH}"):
        loads_strict(body)
    with pytest.raises(FetchError, match="JSON") as e:
        parse_json_body(body, "http://127.0.0.1/x", 200)
    assert e.value.kind == "not-json"


def test_flat_documents_with_brackets_inside_strings_still_parse():
    text = '{"note": "' + "[" * 500 + '", "rows": [[1, 2], [3, 4]]}'
    assert loads_strict(text)["rows"] == [[1, 2], [3, 4]]


@pytest.mark.parametrize("location", BAD_LOCATIONS)
def test_a_malformed_redirect_location_is_a_fetch_error(upstream, location):
    url = upstream.route(PANIC, Reply(302, headers={"Location": location}))
    session = make_session(FAST_POLICY)
    with pytest.raises(FetchError) as e:
        get_json(session, url, FAST_POLICY, Deadline(FAST_POLICY.deadline))
    assert e.value.kind in ("redirect", "bad-answer")
    assert "u:p" not in str(e.value)


def _collect_fails(liq_settings) -> CommandError:
    with pytest.raises(CommandError) as e:
        call_command("collect_liquidation", stdout=StringIO(), stderr=StringIO())
    assert e.value.returncode == 1
    return e.value


@pytest.mark.parametrize(
    "reply",
    [
        *(Reply(body=b) for b in DEEP_BODIES.values()),
        *(Reply(302, headers={"Location": loc}) for loc in BAD_LOCATIONS),
        Reply(body=b'{"hour_1_amount": 1e200, "panic_index": 1, "hour_24_amount": 1, "total_position": 1}'),
        Reply(body=b'{"hour_1_amount": {"a": 1}, "panic_index": 1, "hour_24_amount": 1, "total_position": 1}'),
        Reply(body=b'{"success": true, "data": [1, 2]}'),
        Reply(headers={"Content-Encoding": "gzip"}, body=b"this is not gzip"),
    ],
    ids=[*DEEP_BODIES, *(f"location-{i}" for i in range(len(BAD_LOCATIONS))), "1e200", "object", "list", "bad-gzip"],
)
def test_every_hostile_answer_ends_with_last_run_one_log_line_and_the_alert_step(
    liq_settings, store, upstream, tmp_path, reply
):
    store.append(build_record(int(time.time()) - 600, VALUES, source="panic-api"))
    before = store.path.read_bytes()
    liq_settings.LIQUIDATION_SOURCE_URL = upstream.route(PANIC, reply)
    hook = upstream.route("/hook", Reply(body=b"{}"))
    liq_settings.ALERT_WEBHOOK_URL = hook
    liq_settings.ALERT_NO_DATA = True
    liq_settings.LIQUIDATION_STALE_SECONDS = 60  # the stored record is 10 minutes old: no-data fires
    liq_settings.LIQUIDATION_ALERT_STATE_FILE = tmp_path / "alerts.json"
    liq_settings.LIQUIDATION_HTTP_MAX_BYTES = 4 * 1024 * 1024  # the deep bodies reach the parser
    error = _collect_fails(liq_settings)
    assert "Traceback" not in str(error)
    assert store.path.read_bytes() == before
    last = json.loads(liq_settings.LIQUIDATION_LAST_RUN_FILE.read_text())
    assert last["outcome"] == "error" and last["source"] == "panic-api"
    assert last["error_class"] in ("not-json", "redirect", "bad-answer", "implausible-value")
    log = (liq_settings.LOG_DIR / "collector.log").read_text()
    assert log.count("collect outcome=error") == 1
    assert any(r.path == "/hook" for r in upstream.requests), "the no-data alert step did not run"


def test_an_unforeseen_exception_is_still_recorded_logged_and_alerted(
    liq_settings, store, upstream, tmp_path, monkeypatch
):
    """A bug (here: the source raising something nobody planned for) is a failed collection, not a
    bare traceback: last_run.json, one log line (with the traceback, for the report), the alert step."""
    from liquidation import pipeline

    def broken(*args, **kwargs):
        raise MemoryError("simulated")

    monkeypatch.setattr(pipeline, "collect_once", broken)  # the pipeline the command runs
    liq_settings.LIQUIDATION_SOURCE_URL = upstream.route(PANIC, Reply(body=b"{}"))
    liq_settings.ALERT_WEBHOOK_URL = upstream.route("/hook", Reply(body=b"{}"))
    liq_settings.LIQUIDATION_ALERT_STATE_FILE = tmp_path / "alerts.json"
    error = _collect_fails(liq_settings)
    assert "MemoryError" in str(error)
    last = json.loads(liq_settings.LIQUIDATION_LAST_RUN_FILE.read_text())
    assert (last["outcome"], last["error_class"]) == ("error", "internal")
    assert (liq_settings.LOG_DIR / "collector.log").read_text().count("collect outcome=error") == 1
    assert any(r.path == "/hook" for r in upstream.requests)


# -- alert channels ---------------------------------------------------------------------------------


def _config(tmp_path, channels):
    rule = Rule("h1", "h1_threshold", fire=100, clear=50, cooldown=0)
    return AlertConfig(rules=[rule], channels=channels, state_file=tmp_path / "alerts.json")


def test_a_bad_gzip_answer_is_that_channels_failure_counted_and_saved_and_the_next_channel_still_gets_it(
    tmp_path, store, upstream
):
    store.append(build_record(int(time.time()), {**VALUES, "hour_1_amount": 500}))
    bad = Webhook(upstream.route("/bad", Reply(headers={"Content-Encoding": "gzip"}, body=b"nope")))
    moved = WeCom(upstream.route("/moved", Reply(302, headers={"Location": "http://[::1/x"})))
    good = DingTalk(upstream.route("/good", Reply(body=b'{"errcode": 0}')))
    cfg = _config(tmp_path, [bad, moved, good])
    outcome = run_alerts(cfg, store)
    assert outcome["sent"]["dingtalk"] == "ok"
    assert outcome["sent"]["webhook"] != "ok" and outcome["sent"]["wecom"] != "ok"
    state = json.loads(cfg.state_file.read_text())
    assert state["outbox"]["webhook"][0]["attempts"] == 1
    assert state["outbox"]["wecom"][0]["attempts"] == 1
    assert state["outbox"]["dingtalk"] == []
    for _ in range(6):  # retried at most MAX_ATTEMPTS times, then dropped: never re-sent forever
        run_alerts(cfg, store)
    state = json.loads(cfg.state_file.read_text())
    assert state["outbox"]["webhook"] == [] and state["outbox"]["wecom"] == []
    assert sum(1 for r in upstream.requests if r.path == "/bad") == 5


def test_a_corrupt_alert_state_file_does_not_stop_alerts(tmp_path, store, upstream):
    store.append(build_record(int(time.time()), {**VALUES, "hour_1_amount": 500}))
    good = Webhook(upstream.route("/good", Reply(body=b"{}")))
    cfg = _config(tmp_path, [good])
    cfg.state_file.write_text('{"rules": [], "outbox": {"webhook": "x"}, "sends": 7}')
    assert run_alerts(cfg, store)["sent"] == {"webhook": "ok"}


def test_test_alert_reports_a_malformed_redirect_instead_of_crashing(liq_settings, upstream):
    liq_settings.ALERT_WEBHOOK_URL = upstream.route("/moved", Reply(302, headers={"Location": "http://[::1/x"}))
    out = StringIO()
    with pytest.raises(CommandError, match="1 of 1 channel"):
        call_command("test_alert", stdout=out, stderr=StringIO())
    assert out.getvalue().startswith("webhook ") and ": FAILED: " in out.getvalue()


def test_an_implausible_single_order_is_skipped_by_the_parsers_and_never_summed():
    from liquidation.exchanges import aggregate
    from liquidation.venues.binance import parse_binance

    now_ms = int(time.time() * 1000)
    frame = json.dumps(
        {
            "stream": "!forceOrder@arr",
            "data": {
                "e": "forceOrder",
                "E": now_ms,
                "o": {
                    "s": "BTCUSDT",
                    "S": "SELL",
                    "o": "LIMIT",
                    "f": "IOC",
                    "q": "1e12",
                    "p": "90000",
                    "ap": "90000",
                    "X": "FILLED",
                    "l": "1e12",
                    "z": "1e12",
                    "T": now_ms,
                    "st": 1,
                },
            },
        }
    )
    parsed = parse_binance(frame, now_ms)
    assert parsed.events == [] and parsed.skipped["implausible"] == 1
    events = [
        {"exchange": "okx", "symbol": "X", "ts_ms": now_ms - 1000, "side": "long", "qty": 1, "price": 1, "usd": 5e12},
        {"exchange": "okx", "symbol": "Y", "ts_ms": now_ms - 2000, "side": "long", "qty": 1, "price": 1, "usd": 100.0},
    ]
    assert aggregate(events, now_ms)["okx"]["hour_1"] == 100.0
