"""``manage.py collect_liquidation`` against a real HTTP server on 127.0.0.1.

Every failure must exit 1 with a specific message and leave the data file byte-for-byte as it was.
"""

from __future__ import annotations

import json
import socket
import time
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from liquidation.records import build_record
from tests.conftest import minute_start_clock
from tests.upstream_server import Reply

PANIC = "/api/panic/latest"
EARLIER = {"hour_1_amount": 350.0, "panic_index": 0.07, "hour_24_amount": 13000.0, "total_position": 104.0}


@pytest.fixture
def seeded(liq_settings, store):
    """A store holding one record from ten minutes ago, so 'unchanged' means something."""
    store.append(build_record(int(time.time()) - 600, EARLIER, source="panic-api"))
    return store


def collect(*args: str) -> str:
    out = StringIO()
    call_command("collect_liquidation", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def serve_panic(upstream, liq_settings, *replies: Reply) -> str:
    url = upstream.route(PANIC, *replies)
    liq_settings.LIQUIDATION_SOURCE_URL = url
    return url


def assert_fails_unchanged(store, liq_settings, match: str) -> CommandError:
    before = store.path.read_bytes()
    with pytest.raises(CommandError, match=match) as e:
        collect()
    assert e.value.returncode == 1
    assert store.path.read_bytes() == before
    last = json.loads(liq_settings.LIQUIDATION_LAST_RUN_FILE.read_text())
    assert last["outcome"] == "error"
    assert last["source"] == "panic-api"
    return e.value


# -- successes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture",
    ["upstream/panic-api/latest-flat.json", "upstream/panic-api/latest-wrapped.json"],
)
def test_panic_api_flat_and_wrapped_payloads_append_one_record(seeded, liq_settings, upstream, fixture_path, fixture):
    serve_panic(upstream, liq_settings, Reply.file(fixture_path(fixture)))
    collect()
    records = seeded.range()
    assert len(records) == 2
    new = records[-1]
    assert abs(new["timestamp"] - time.time()) < 5
    assert {k: new[k] for k in EARLIER} == {
        "hour_1_amount": 397.14,
        "panic_index": 0.0761,
        "hour_24_amount": 13583.0,
        "total_position": 104.72,
    }
    assert new["source"] == "panic-api"
    assert new["source_time"] == 1768583851
    last = json.loads(liq_settings.LIQUIDATION_LAST_RUN_FILE.read_text())
    assert last["outcome"] == "ok"


def test_numeric_strings_are_parsed_strictly(seeded, liq_settings, upstream, fixture_path):
    serve_panic(upstream, liq_settings, Reply.file(fixture_path("upstream/panic-api/latest-numeric-strings.json")))
    collect()
    new = seeded.latest()
    assert (new["hour_1_amount"], new["hour_24_amount"], new["total_position"]) == (397.14, 13583.0, 104.72)


def test_coinglass_totals_long_short_and_open_interest(liq_settings, store, upstream, fixture_path):
    cg = "upstream/coinglass/"
    upstream.route(
        "/api/futures/liquidation/exchange-list",
        Reply.file(fixture_path(cg + "exchange-list-1h.json")),
        Reply.file(fixture_path(cg + "exchange-list-24h.json")),
    )
    upstream.route("/api/futures/exchange-rank", Reply.file(fixture_path(cg + "exchange-rank.json")))
    liq_settings.COINGLASS_API_KEY = "cg-secret"
    liq_settings.COINGLASS_BASE_URL = upstream.url("")
    collect()
    r = store.latest()
    assert r["source"] == "coinglass"
    assert r["hour_1_amount"] == 1467.35  # 14,673,519.82 USD in 万
    assert (r["hour_1_long"], r["hour_1_short"]) == (45.14, 1422.21)
    assert r["hour_24_amount"] == 13583.0
    assert (r["hour_24_long"], r["hour_24_short"]) == (8149.8, 5433.2)
    assert r["total_position"] == 578.2  # 57,820,000,000.5 USD in 亿
    assert r["panic_index"] == round(135830000.0 / 57820000000.5, 6)
    assert r["by_exchange"]["binance"] == {
        "hour_24": 5211.0,
        "hour_24_long": 3000.0,
        "hour_24_short": 2211.0,
        "open_interest": 301.2,
    }
    assert r["by_exchange"]["bybit"]["hour_1"] == 458.53
    assert r["by_exchange"]["okx"] == {"open_interest": 92.0}
    sent = upstream.requests
    assert [q.query.get("range") for q in sent] == [["1h"], ["24h"], None]
    assert all(q.headers.get("CG-API-KEY") == "cg-secret" for q in sent)


def test_second_collection_in_the_same_minute_writes_nothing_and_exits_0(liq_settings, store, upstream, fixture_path):
    serve_panic(upstream, liq_settings, Reply.file(fixture_path("upstream/panic-api/latest-flat.json")))
    with time_machine.travel(minute_start_clock(), tick=True):  # both runs inside one minute
        collect()
        before = store.path.read_bytes()
        collect()
    assert store.path.read_bytes() == before
    assert upstream.hits(PANIC) == 1  # the second run did not even ask the upstream
    assert json.loads(liq_settings.LIQUIDATION_LAST_RUN_FILE.read_text())["outcome"] == "duplicate"


def test_dry_run_prints_the_record_and_writes_nothing(seeded, liq_settings, upstream, fixture_path):
    serve_panic(upstream, liq_settings, Reply.file(fixture_path("upstream/panic-api/latest-flat.json")))
    before = seeded.path.read_bytes()
    printed = json.loads(collect("--dry-run"))
    assert printed["hour_1_amount"] == 397.14
    assert seeded.path.read_bytes() == before


def test_url_option_overrides_the_setting(seeded, liq_settings, upstream, fixture_path):
    url = upstream.route("/other", Reply.file(fixture_path("upstream/panic-api/latest-flat.json")))
    liq_settings.LIQUIDATION_SOURCE_URL = "http://127.0.0.1:9/unused"
    collect("--url", url)
    assert seeded.count() == 2


def test_http_500_then_success_is_retried(seeded, liq_settings, upstream, fixture_path):
    serve_panic(
        upstream, liq_settings, Reply(500, b"oops"), Reply.file(fixture_path("upstream/panic-api/latest-flat.json"))
    )
    collect()
    assert upstream.hits(PANIC) == 2
    assert seeded.count() == 2


# -- no source configured ---------------------------------------------------------------------


def test_with_nothing_configured_the_keyless_exchanges_source_is_used(liq_settings, store):
    with pytest.raises(CommandError) as e:
        collect()
    assert e.value.returncode == 1
    assert "source exchanges: no exchange reachable" in str(e.value)
    assert "stream_liquidations" in str(e.value)
    assert not store.path.exists()  # never a record of zeros
    assert json.loads(liq_settings.LIQUIDATION_LAST_RUN_FILE.read_text())["outcome"] == "error"


def test_a_named_source_without_its_setting_exits_2_naming_it(liq_settings, store):
    with pytest.raises(CommandError) as e:
        collect("--source", "coinglass")
    assert e.value.returncode == 2
    assert "COINGLASS_API_KEY" in str(e.value)
    assert json.loads(liq_settings.LIQUIDATION_LAST_RUN_FILE.read_text())["outcome"] == "unconfigured"


# -- the failure matrix -------------------------------------------------------------------------


def test_connection_refused(seeded, liq_settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    liq_settings.LIQUIDATION_SOURCE_URL = f"http://127.0.0.1:{port}/api/panic/latest?token=s3cret"
    err = assert_fails_unchanged(seeded, liq_settings, "connection refused")
    assert "s3cret" not in str(err)
    assert "token=***" in str(err)


def test_read_timeout(seeded, liq_settings, upstream, fixture_path):
    liq_settings.LIQUIDATION_HTTP_READ_TIMEOUT = 0.3
    serve_panic(upstream, liq_settings, Reply.file(fixture_path("upstream/panic-api/latest-flat.json"), delay=2))
    assert_fails_unchanged(seeded, liq_settings, "read timeout")


def test_http_500_forever(seeded, liq_settings, upstream):
    serve_panic(upstream, liq_settings, Reply(500, b"<h1>Internal Server Error</h1>"))
    assert_fails_unchanged(seeded, liq_settings, "HTTP 500 .*after 3 attempts")
    assert upstream.hits(PANIC) == 3


def test_503_with_huge_retry_after_ends_within_the_deadline(seeded, liq_settings, upstream):
    liq_settings.LIQUIDATION_HTTP_RETRY_AFTER_MAX = 3600  # even uncapped, the deadline wins
    serve_panic(upstream, liq_settings, Reply(503, b"busy", {"Retry-After": "3600"}))
    started = time.monotonic()
    assert_fails_unchanged(seeded, liq_settings, "HTTP 503.*Retry-After: 3600")
    assert time.monotonic() - started < liq_settings.LIQUIDATION_HTTP_DEADLINE


@pytest.mark.slow
def test_body_dripping_one_byte_a_second_ends_within_the_deadline(seeded, liq_settings, upstream, fixture_path):
    liq_settings.LIQUIDATION_HTTP_READ_TIMEOUT = 5  # each byte arrives well within the read timeout
    serve_panic(upstream, liq_settings, Reply.file(fixture_path("upstream/panic-api/latest-flat.json"), drip=1.0))
    started = time.monotonic()
    assert_fails_unchanged(seeded, liq_settings, "not complete within the 2.5 s time budget")
    assert time.monotonic() - started < liq_settings.LIQUIDATION_HTTP_DEADLINE + 0.5


@pytest.mark.slow
def test_headers_dripping_one_byte_at_a_time_end_within_the_deadline(seeded, liq_settings, upstream, fixture_path):
    liq_settings.LIQUIDATION_HTTP_READ_TIMEOUT = 5  # each byte arrives well within the read timeout
    serve_panic(upstream, liq_settings, Reply.file(fixture_path("upstream/panic-api/latest-flat.json"), head_drip=0.3))
    started = time.monotonic()
    assert_fails_unchanged(seeded, liq_settings, "gave up after the 4.5 s time budget")
    assert time.monotonic() - started < liq_settings.LIQUIDATION_HTTP_DEADLINE + 2.5


def test_redirect_is_not_followed(seeded, liq_settings, upstream):
    target = upstream.route("/elsewhere", Reply(200, b'{"hour_1_amount": 1}'))
    serve_panic(upstream, liq_settings, Reply(302, b"", {"Location": "http://169.254.169.254/latest/meta-data"}))
    assert_fails_unchanged(
        seeded, liq_settings, "HTTP 302 redirect to http://169.254.169.254/latest/meta-data not followed"
    )
    assert upstream.hits("/elsewhere") == 0
    assert target


def test_body_over_the_size_cap(seeded, liq_settings, upstream):
    serve_panic(upstream, liq_settings, Reply(200, b" " * (liq_settings.LIQUIDATION_HTTP_MAX_BYTES + 1)))
    assert_fails_unchanged(seeded, liq_settings, "over the 65536-byte cap")


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("bad-html.html", "HTML page instead of JSON"),
        ("bad-invalid-json.json", "invalid JSON"),
        ("bad-array.json", "expected a JSON object, got an array"),
        ("bad-null.json", "expected a JSON object, got null"),
        ("bad-missing-hour_1.json", "field hour_1_amount missing"),
        ("bad-nan-literal.json", "non-finite number NaN"),
        ("bad-nan-string.json", "hour_1_amount: not a plain non-negative number: 'NaN'"),
        ("bad-infinity-string.json", "hour_1_amount: not a plain non-negative number: 'Infinity'"),
        ("bad-overflow-string.json", "hour_1_amount: not a finite number: '1e309'"),
        ("bad-overflow-number.json", "number out of range: 1e309"),
        ("bad-negative.json", "hour_1_amount: negative value -397.14"),
        ("bad-boolean.json", "hour_1_amount: expected a number, got true"),
        ("latest-failure.json", "upstream reported failure: upstream panic data not ready"),
    ],
)
def test_bad_payload(seeded, liq_settings, upstream, fixture_path, fixture, message):
    serve_panic(upstream, liq_settings, Reply.file(fixture_path(f"upstream/panic-api/{fixture}")))
    err = assert_fails_unchanged(seeded, liq_settings, "source panic-api: http://127.0.0.1")
    assert message in str(err)


@pytest.mark.parametrize(
    ("fixture", "http_status", "message"),
    [
        ("error-401.json", 200, "API key rejected (401 API key missing or invalid); check COINGLASS_API_KEY"),
        ("error-401.json", 401, "API key rejected (401 API key missing or invalid); check COINGLASS_API_KEY"),
        ("error-429.json", 200, "rate limited (429 Too Many Requests)"),
    ],
)
def test_coinglass_errors(seeded, liq_settings, upstream, fixture_path, fixture, http_status, message):
    upstream.route(
        "/api/futures/liquidation/exchange-list",
        Reply.file(fixture_path(f"upstream/coinglass/{fixture}"), status=http_status),
    )
    liq_settings.COINGLASS_API_KEY = "bad-key"
    liq_settings.COINGLASS_BASE_URL = upstream.url("")
    before = seeded.path.read_bytes()
    with pytest.raises(CommandError) as e:
        collect()
    assert e.value.returncode == 1
    assert message in str(e.value)
    assert "bad-key" not in str(e.value)
    assert seeded.path.read_bytes() == before


def test_failure_is_logged_once_to_the_collector_log(seeded, liq_settings, upstream):
    serve_panic(upstream, liq_settings, Reply(200, b"[]"))
    with pytest.raises(CommandError):
        collect()
    log = (liq_settings.LOG_DIR / "collector.log").read_text()
    assert log.count("ERROR liquidation.collector: collect outcome=error source=panic-api duration_ms=") == 1
    assert 'error="source panic-api: http://127.0.0.1' in log


def test_a_good_collection_logs_one_structured_line(seeded, liq_settings, upstream, fixture_path):
    serve_panic(upstream, liq_settings, Reply.file(fixture_path("upstream/panic-api/latest-flat.json")))
    collect()
    lines = [x for x in (liq_settings.LOG_DIR / "collector.log").read_text().splitlines() if " collect outcome=" in x]
    assert len(lines) == 1
    assert "collect outcome=appended source=panic-api duration_ms=" in lines[0]
    assert "hour_1_amount=397.14 hour_24_amount=13583.0 total_position=104.72 panic_index=0.0761" in lines[0]
    last = json.loads(liq_settings.LIQUIDATION_LAST_RUN_FILE.read_text())
    assert last["counts"] == {"ok": {"panic-api": 1}}
    assert last["last_success"] == last["time"]
