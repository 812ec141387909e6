"""The Fear & Greed Index: fetched hourly from a real loopback server, checked whole, stored one value a day,
and never allowed to change the collection's exit status or run past its minute."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from liquidation import feargreed
from liquidation.conf import fear_greed_available
from liquidation.feargreed import FearGreedError, Refreshed
from liquidation.http import HttpPolicy
from tests.conftest import CLOSED_URL, FAST_POLICY, run_manage, subprocess_env
from tests.upstream_server import Reply, wait_for

NOW = 1795600830  # 2026-11-25 10:00:30 UTC: 29.5 s of the minute left
DAY = 86400
FNG = "/fng/"
PANIC = "/api/panic/latest"
#: Socket timeouts far longer than the minute: only the minute's budget can end a slow answer.
PATIENT = HttpPolicy(connect_timeout=30, read_timeout=30, retries=0, backoff=0.01, deadline=45, max_bytes=64 * 1024)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "data" / "fear_greed.json"


@pytest.fixture
def serve(upstream, fixture_path):
    """Serve fixture file(s) of tests/fixtures/feargreed/ on /fng/; returns the URL."""
    return lambda *names: upstream.route(FNG, *(Reply.file(fixture_path(f"feargreed/{n}")) for n in names))


def refresh_at(when: float, path, url: str, policy: HttpPolicy = FAST_POLICY) -> Refreshed:
    with time_machine.travel(when, tick=False):
        return feargreed.refresh(path, url, policy)


def state_of(path) -> dict:
    return json.loads(feargreed.state_path(path).read_text())


# -- fetching and storing ---------------------------------------------------------------------------------


def test_first_fetch_asks_for_the_whole_history_and_stores_one_value_a_day_oldest_first(path, serve, upstream):
    url = serve("history.json")
    result = refresh_at(NOW, path, url)
    assert (result.outcome, result.limit, result.received, result.added, result.total) == ("fetched", 0, 30, 30, 30)
    assert upstream.requests[0].query == {"limit": ["0"], "format": ["json"]}
    stored = feargreed.read(path)
    assert stored.updated == NOW
    assert [d["date"] for d in stored.days][:2] == ["2026-10-27", "2026-10-28"]
    assert stored.days[-1] == {"date": "2026-11-25", "ts": 1795564800, "value": 53, "classification": "Neutral"}
    assert len({d["date"] for d in stored.days}) == 30
    assert state_of(path)["outcome"] == "ok"


def test_a_second_run_within_the_hour_asks_nothing(path, serve, upstream):
    url = serve("history.json")
    refresh_at(NOW, path, url)
    before = path.read_bytes()
    for later in (NOW + 60, NOW + 1800, NOW + 3599):
        assert refresh_at(later, path, url).outcome == "not-due"
    assert upstream.hits(FNG) == 1
    assert path.read_bytes() == before


def test_an_hour_later_it_asks_for_a_few_days_and_merges_them(path, serve, upstream):
    url = serve("history.json", "recent.json")
    refresh_at(NOW, path, url)
    result = refresh_at(NOW + DAY, path, url)
    assert (result.outcome, result.limit, result.received, result.added, result.total) == ("fetched", 7, 7, 1, 31)
    assert upstream.requests[1].query == {"limit": ["7"], "format": ["json"]}
    stored = feargreed.read(path)
    assert stored.updated == NOW + DAY
    assert stored.days[-1] == {"date": "2026-11-26", "ts": 1795651200, "value": 56, "classification": "Greed"}
    assert [d["date"] for d in stored.days] == sorted({d["date"] for d in stored.days})


def test_exactly_an_hour_after_the_last_attempt_it_is_due_again(path, serve, upstream):
    url = serve("history.json")
    refresh_at(NOW, path, url)
    assert refresh_at(NOW + 3600, path, url).outcome == "fetched"
    assert upstream.hits(FNG) == 2


def test_after_a_long_silence_it_asks_for_enough_days_or_everything_again(path, serve):
    refresh_at(NOW, path, serve("history.json"))
    stored = feargreed.read(path)
    assert feargreed.fetch_limit(stored, NOW + 20 * DAY) == 22
    assert feargreed.fetch_limit(stored, NOW + 61 * DAY) == 0
    assert feargreed.fetch_limit(None, NOW) == 0


BAD = [
    ("bad-error-envelope.json", "upstream-error", "metadata.error = 'Invalid limit parameter'"),
    ("bad-value-not-integer.json", "bad-value", "data[3].value = '47.5': not an integer 0..100"),
    ("bad-value-out-of-range.json", "bad-value", "data[3].value = '101': not an integer 0..100"),
    ("bad-timestamp-not-unix-seconds.json", "bad-timestamp", "data[3].timestamp = '23-11-2026'"),
    ("bad-classification-missing.json", "bad-label", "data[3].value_classification = None"),
]


@pytest.mark.parametrize(("fixture", "kind", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_payload_is_refused_whole_and_the_stored_file_stays_byte_identical(path, serve, fixture, kind, message):
    url = serve("history.json", fixture)
    refresh_at(NOW, path, url)
    before = path.read_bytes()
    with pytest.raises(FearGreedError) as e:
        refresh_at(NOW + DAY, path, url)
    assert e.value.kind == kind
    assert message in str(e.value)
    assert str(e.value).startswith("http://127.0.0.1:")  # names the URL it asked
    assert path.read_bytes() == before
    assert state_of(path)["outcome"] == "error"
    assert state_of(path)["error_class"] == kind


@pytest.mark.parametrize(("fixture", "kind", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_first_payload_writes_no_file(path, serve, fixture, kind, message):
    with pytest.raises(FearGreedError, match=r"data|metadata"):
        refresh_at(NOW, path, serve(fixture))
    assert not path.exists()
    assert not feargreed.has_data(path)


GOOD_ROW = {"value": "40", "value_classification": "Fear", "timestamp": "1795564800"}


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ([], "bad-payload"),
        ({"data": [GOOD_ROW], "metadata": {"error": "x"}}, "upstream-error"),
        ({"data": [], "metadata": {"error": None}}, "empty"),
        ({"data": {"value": "40"}}, "bad-payload"),
        ({"data": ["40"]}, "bad-payload"),
        ({"data": [{"value": True, "value_classification": "Fear", "timestamp": "1795564800"}]}, "bad-value"),
        ({"data": [{"value": "-1", "value_classification": "Fear", "timestamp": "1795564800"}]}, "bad-value"),
        ({"data": [{"value": " 40", "value_classification": "Fear", "timestamp": "1795564800"}]}, "bad-value"),
        ({"data": [{"value": "40", "value_classification": "Fear", "timestamp": "1795564800000"}]}, "bad-timestamp"),
        ({"data": [{"value": "40", "value_classification": "Fear", "timestamp": "1200000000"}]}, "bad-timestamp"),
        ({"data": [{"value": "40", "value_classification": "", "timestamp": "1795564800"}]}, "bad-label"),
        ({"data": [{"value": "40", "value_classification": "Fear\n", "timestamp": "1795564800"}]}, "bad-label"),
    ],
)
def test_parse_refuses_each_kind_of_bad_payload_by_name(payload, kind):
    with pytest.raises(FearGreedError) as e:
        feargreed.parse(payload, now=NOW)
    assert e.value.kind == kind


def test_parse_keeps_the_later_value_of_a_day_and_accepts_integers_as_well_as_digit_strings():
    rows = [
        {"value": 40, "value_classification": "Fear", "timestamp": 1795564800},
        {"value": "60", "value_classification": "Greed", "timestamp": "1795582800"},  # the same UTC day, 05:00
        {"value": "0", "value_classification": "Extreme Fear", "timestamp": "1795478400"},
    ]
    assert feargreed.parse({"data": rows, "metadata": {"error": None}}, now=NOW) == [
        {"date": "2026-11-24", "ts": 1795478400, "value": 0, "classification": "Extreme Fear"},
        {"date": "2026-11-25", "ts": 1795582800, "value": 60, "classification": "Greed"},
    ]


def test_a_day_fetched_again_takes_the_new_value():
    old = [{"date": "2026-11-25", "ts": 1795564800, "value": 53, "classification": "Neutral"}]
    new = [{"date": "2026-11-25", "ts": 1795564800, "value": 55, "classification": "Greed"}]
    assert feargreed.merge(old, new) == new


def test_a_failed_attempt_also_waits_an_hour(path, upstream):
    with pytest.raises(FearGreedError) as e:
        refresh_at(NOW, path, CLOSED_URL + FNG)
    assert e.value.kind == "refused"
    assert state_of(path)["outcome"] == "error"
    url = upstream.route(FNG, Reply(200, b"{}"))
    assert refresh_at(NOW + 600, path, url).outcome == "not-due"
    assert upstream.hits(FNG) == 0
    with pytest.raises(FearGreedError):
        refresh_at(NOW + 3600, path, url)
    assert upstream.hits(FNG) == 1


def test_with_too_little_of_the_minute_left_it_waits_for_a_later_minute_without_asking(path, serve, upstream):
    url = serve("history.json")
    result = refresh_at(NOW - 30 + 57, path, url)  # hh:mm:57
    assert result.outcome == "deferred"
    assert upstream.hits(FNG) == 0
    assert not feargreed.state_path(path).exists()  # nothing claimed: the next minute tries
    assert refresh_at(NOW + 30, path, url).outcome == "fetched"


@pytest.mark.slow
@pytest.mark.parametrize(
    "reply",
    [Reply(200, b"{}", delay=30), Reply(200, b'{"data": []}' * 10, drip=0.2), Reply(200, b"{}", head_drip=0.3)],
    ids=["no-answer", "body-dripping", "headers-dripping"],
)
def test_a_slow_upstream_is_cut_off_before_the_minute_ends(path, upstream, reply):
    url = upstream.route(FNG, reply)
    started = time.monotonic()
    with pytest.raises(FearGreedError) as e, time_machine.travel(NOW - 30 + 51, tick=True):  # hh:mm:51: 4 s budget
        feargreed.refresh(path, url, PATIENT)
    took = time.monotonic() - started
    assert took < 4.5, took
    assert e.value.kind in ("deadline", "timeout")
    assert not path.exists()


# -- reading ---------------------------------------------------------------------------------------------


def test_has_data_is_false_without_a_file_or_with_a_file_of_the_wrong_shape(path, caplog):
    assert not feargreed.has_data(path)
    path.parent.mkdir(parents=True)
    path.write_text('{"days": "nope"}')
    assert not feargreed.has_data(path)
    assert "holds no list of days" in caplog.text


def test_reads_leave_out_malformed_entries(path):
    good = {"date": "2026-11-25", "ts": 1795564800, "value": 53, "classification": "Neutral"}
    bad = [{**good, "date": "2026-11-24", "value": 101}, {**good, "date": "yesterday"}, "x", {**good, "ts": "1"}]
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"updated": NOW, "days": [*bad, good]}))
    assert feargreed.read(path).days == (good,)


def test_recent_keeps_the_last_n_calendar_days_today_included(path, serve):
    refresh_at(NOW, path, serve("history.json"))
    stored = feargreed.read(path)
    assert [d["date"] for d in feargreed.recent(stored, 2, NOW)] == ["2026-11-24", "2026-11-25"]
    assert len(feargreed.recent(stored, 365, NOW)) == 30
    assert feargreed.recent(stored, 1, NOW + 3 * DAY) == []


def test_the_page_can_ask_cheaply_whether_there_is_anything_to_draw(liq_settings, serve):
    liq_settings.FEAR_GREED_URL = serve("history.json")
    assert fear_greed_available() is False
    refresh_at(NOW, liq_settings.FEAR_GREED_FILE, liq_settings.FEAR_GREED_URL)
    assert fear_greed_available() is True
    liq_settings.FEAR_GREED_URL = ""
    assert fear_greed_available() is False


# -- in the collector --------------------------------------------------------------------------------------


def collect(*args: str) -> None:
    call_command("collect_liquidation", *args, stdout=StringIO(), stderr=StringIO())


def collector_log(liq_settings) -> str:
    return (liq_settings.LOG_DIR / "collector.log").read_text()


@pytest.fixture
def panic_ok(liq_settings, upstream, fixture_path):
    liq_settings.LIQUIDATION_SOURCE_URL = upstream.route(
        PANIC, Reply.file(fixture_path("upstream/panic-api/latest-flat.json"))
    )
    return liq_settings


def test_collect_liquidation_fetches_the_index_after_appending_the_record(panic_ok, store, serve, upstream):
    panic_ok.FEAR_GREED_URL = serve("history.json")
    with time_machine.travel(NOW, tick=True):
        collect()
    assert len(store.range()) == 1
    assert [r.path for r in upstream.requests] == [PANIC, FNG]
    assert len(feargreed.read(panic_ok.FEAR_GREED_FILE).days) == 30
    assert "fear-greed: fetched limit=0: 30 day(s) received, 30 new, 30 stored" in collector_log(panic_ok)
    with time_machine.travel(NOW + 60, tick=True):
        collect()  # the next minute: a record, no request for the index
    assert len(store.range()) == 2
    assert upstream.hits(FNG) == 1


def test_an_unreachable_index_is_logged_and_the_collection_still_exits_0(panic_ok, store):
    panic_ok.FEAR_GREED_URL = CLOSED_URL + FNG
    with time_machine.travel(NOW, tick=True):
        collect()  # no CommandError: exit status 0
    assert len(store.range()) == 1
    log = collector_log(panic_ok)
    assert "ERROR liquidation.collector: fear-greed failed (refused): http://127.0.0.1:9/fng/" in log
    assert not panic_ok.FEAR_GREED_FILE.exists()


def test_a_failed_collection_keeps_its_exit_status_1_whatever_the_index_does(liq_settings, serve, upstream):
    liq_settings.FEAR_GREED_URL = serve("history.json")  # nothing configured: the keyless source, no venue reachable
    with pytest.raises(CommandError, match="no exchange reachable") as e, time_machine.travel(NOW, tick=True):
        collect()
    assert e.value.returncode == 1
    assert feargreed.has_data(liq_settings.FEAR_GREED_FILE)


@pytest.mark.slow
def test_a_slow_index_never_holds_the_collection_past_its_minute(panic_ok, store, upstream):
    panic_ok.FEAR_GREED_URL = upstream.route(FNG, Reply(200, b"{}", delay=30))
    panic_ok.LIQUIDATION_HTTP_CONNECT_TIMEOUT = panic_ok.LIQUIDATION_HTTP_READ_TIMEOUT = 30.0
    panic_ok.LIQUIDATION_HTTP_DEADLINE = 45.0  # only the minute can end it
    started = time.monotonic()
    with time_machine.travel(NOW - 30 + 50, tick=True):  # hh:mm:50: 5 s left before the margin
        collect()
    took = time.monotonic() - started
    assert took < 6.0, took
    assert len(store.range()) == 1
    print(f"collection + index took {took:.2f} s")
    assert "ERROR liquidation.collector: fear-greed failed (" in collector_log(panic_ok)


@pytest.mark.parametrize("how", ["off", "dry-run"])
def test_off_or_a_dry_run_asks_nothing(panic_ok, serve, upstream, how):
    url = serve("history.json")
    panic_ok.FEAR_GREED_URL = "" if how == "off" else url
    with time_machine.travel(NOW, tick=True):
        collect(*(["--dry-run"] if how == "dry-run" else []))
    assert upstream.hits(FNG) == 0
    assert not panic_ok.FEAR_GREED_FILE.exists()


def test_the_loop_fetches_the_index_too(panic_ok, serve):
    panic_ok.FEAR_GREED_URL = serve("history.json")

    def stop_when_stored() -> None:
        wait_for(lambda: feargreed.has_data(panic_ok.FEAR_GREED_FILE), timeout=20)
        os.kill(os.getpid(), signal.SIGTERM)  # the command's handler: finish, then stop

    watcher = threading.Thread(target=stop_when_stored, daemon=True)
    with time_machine.travel(NOW - 30 + 5, tick=True):
        watcher.start()
        collect("--loop")
    watcher.join(5)
    assert len(feargreed.read(panic_ok.FEAR_GREED_FILE).days) == 30


# -- the setting -----------------------------------------------------------------------------------------

SHOW = "from django.conf import settings as s; print(repr(s.FEAR_GREED_URL))"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "'https://api.alternative.me/fng/'"), ("off", "''"), ("OFF", "''"), ("http://mirror.example/fng/", None)],
)
def test_fear_greed_url_defaults_to_alternative_me_and_off_turns_it_off(tmp_path, value, expected):
    env = subprocess_env(tmp_path)
    del env["FEAR_GREED_URL"]
    if value is not None:
        env["FEAR_GREED_URL"] = value
    out = run_manage(env, "shell", "-c", SHOW)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == (expected or repr(value))


def test_a_malformed_fear_greed_url_fails_loudly_naming_it(tmp_path):
    out = run_manage(subprocess_env(tmp_path, FEAR_GREED_URL="api.alternative.me/fng/"), "check")
    assert out.returncode != 0
    assert "ImproperlyConfigured" in out.stderr
    assert "FEAR_GREED_URL=" in out.stderr
