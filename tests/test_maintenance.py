"""prune, import, verify and repair: the commands and the functions behind them."""

from __future__ import annotations

import json
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from liquidation.eventstore import EventStore
from liquidation.maintenance import clean, prune, repair, verify
from liquidation.records import build_record, to_line

NOW = int(time.time()) // 60 * 60


@pytest.fixture
def client(liq_settings):
    from django.test import Client

    return Client()


def rec(ts: int, h1: float = 1.0) -> dict:
    return build_record(ts, {"hour_1_amount": h1, "panic_index": 0.1, "hour_24_amount": 10, "total_position": 100})


def write(path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(lines))


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_prune_keeps_the_last_n_days_and_removes_old_event_days(liq_settings, store):
    for days_ago in (40, 31, 29, 1, 0):
        store.append(rec(NOW - days_ago * 86400))
    events = EventStore(liq_settings.LIQUIDATION_EVENTS_DIR)
    events.append(
        [
            {
                "exchange": "x",
                "symbol": "S",
                "ts_ms": (NOW - 2 * 86400) * 1000,
                "side": "long",
                "qty": 1,
                "price": 1,
                "usd": 1,
            }
        ]
    )
    old = events.path_for(events.days()[0]).with_name("liquidations-2020-01-01.jsonl")
    old.write_text("")
    result = prune(store, 30, events=events)
    assert [r["timestamp"] for r in store.range()] == [NOW - 29 * 86400, NOW - 86400, NOW]
    assert (result.records_before, result.records_after) == (5, 3)
    assert result.event_days_removed == ["2020-01-01"]
    assert not old.exists()
    assert len(events.days()) == 1


def test_prune_command_needs_a_number_and_says_what_it_did(liq_settings, store):
    store.append(rec(NOW - 50 * 86400))
    store.append(rec(NOW))
    with pytest.raises(CommandError, match="--keep-days"):
        run("prune_liquidation")
    assert "pruned 1 record(s), kept 1" in run("prune_liquidation", "--keep-days", "7")


def test_import_merges_validates_sorts_and_is_idempotent(liq_settings, store, tmp_path, fixture_path, capsys):
    store.append(rec(1768583851 - 3600, h1=5.0))  # an hour before the legacy file: kept
    store.append(rec(1768583911, h1=99.0))  # same minute as a legacy line: the stored one wins
    extra = tmp_path / "extra.jsonl"
    write(extra, [to_line(rec(1768583851 + 600)), b"not json\n", b"\n", to_line(rec(1768583851 - 7200))])
    legacy = fixture_path("legacy/liquidation_1h.jsonl")
    err = StringIO()
    out = StringIO()
    call_command("import_liquidation", str(legacy), str(extra), stdout=out, stderr=err)
    assert (
        "read 9 line(s) from 2 file(s): 8 valid, 7 added, 1 already present (same minute), 1 skipped"
        in out.getvalue()  # the empty line is no line
    )
    assert f"skipped {extra}:2: invalid JSON" in err.getvalue()
    stamps = [r["timestamp"] for r in store.range()]
    assert stamps == sorted(stamps)
    assert len(stamps) == 9
    assert next(r for r in store.range() if r["timestamp"] == 1768583911)["hour_1_amount"] == 99.0
    before = store.path.read_bytes()
    out = StringIO()
    call_command("import_liquidation", str(legacy), str(extra), stdout=out, stderr=StringIO())
    assert "0 added" in out.getvalue()
    assert store.path.read_bytes() == before


def test_import_of_a_missing_file_is_a_clear_error(liq_settings):
    with pytest.raises(CommandError, match=r"no such file: /nope\.jsonl"):
        run("import_liquidation", "/nope.jsonl")


def test_verify_reports_every_kind_of_problem_and_gaps(liq_settings, store):
    lines = [
        to_line(rec(NOW - 600)),
        to_line(rec(NOW - 540)),
        b"garbage\n",
        to_line(rec(NOW - 300)),  # gap: 4 minutes missing before it
        to_line(rec(NOW - 300 + 10)),  # duplicate minute
        to_line(rec(NOW - 480)),  # out of order
        to_line(rec(NOW - 240)),
        b'{"timestamp": 17',  # torn tail
    ]
    write(store.path, lines)
    (store.path.parent / f".{store.path.name}.rewrite-123.tmp").write_text("half")
    report = verify(store)
    assert report.bad_lines == [(3, "invalid JSON: Expecting value: line 1 column 1 (char 0)")]
    assert report.duplicates == [(5, NOW - 290)]
    assert report.out_of_order == [(6, NOW - 480)]
    assert report.torn_tail == len(b'{"timestamp": 17')
    assert len(report.temp_files) == 1
    assert report.gaps == [[NOW - 420, NOW - 360]]
    assert report.problems == 5
    with pytest.raises(CommandError) as e:
        run("verify_liquidation")
    assert e.value.returncode == 1


def test_repair_keeps_a_backup_and_leaves_a_clean_file(liq_settings, store):
    write(
        store.path,
        [to_line(rec(NOW - 60)), b"garbage\n", to_line(rec(NOW - 120)), to_line(rec(NOW - 60 + 5)), b"{torn"],
    )
    original = store.path.read_bytes()
    out = run("verify_liquidation", "--repair")
    assert "repaired: kept 2 record(s)" in out
    assert [r["timestamp"] for r in store.range()] == [NOW - 120, NOW - 60]
    backups = list(store.path.parent.glob(store.path.name + ".bak-*"))
    assert len(backups) == 1
    assert backups[0].read_bytes() == original
    assert verify(store).problems == 0
    assert "no problems found" in run("verify_liquidation")


def test_repair_function_and_clean():
    b = 1768579200
    records = [rec(b + 120), rec(b + 60), rec(b + 125), rec(b)]
    assert [r["timestamp"] - b for r in clean(records)] == [0, 60, 120]


def test_repair_of_a_clean_file_changes_nothing_but_keeps_a_backup(store):
    store.append(rec(NOW))
    before = store.path.read_bytes()
    backup, n_before, n_after = repair(store)
    assert store.path.read_bytes() == before
    assert (n_before, n_after) == (1, 1)
    assert backup.read_bytes() == before


def test_an_append_waiting_on_the_lock_lands_in_the_rewritten_file(store):
    store.append(rec(NOW - 120))
    import threading

    from liquidation.store import FileLock

    ready = threading.Event()
    done = threading.Event()

    def append_later():
        ready.wait()
        store.append(rec(NOW))
        done.set()

    thread = threading.Thread(target=append_later)
    thread.start()

    def slow_transform(records):
        ready.set()
        time.sleep(0.3)  # the append is now waiting on the lock
        assert not done.is_set()
        return records

    store.rewrite(slow_transform)
    thread.join(5)
    assert [r["timestamp"] for r in store.range()] == [NOW - 120, NOW]
    with FileLock(store.lock_path, 1):
        pass


def test_metrics_are_in_prometheus_format_and_can_need_a_token(client, liq_settings, store):
    now = int(time.time())
    store.append(rec(now - 30))
    liq_settings.LIQUIDATION_LAST_RUN_FILE.write_text(
        json.dumps({"counts": {"ok|panic-api": 7, "error|panic-api": 2}, "last_success": NOW})
    )
    events = liq_settings.LIQUIDATION_EVENTS_DIR
    events.mkdir(parents=True)
    (events / "status.json").write_text(
        json.dumps(
            {
                "updated": time.time(),
                "venues": {
                    "binance": {"connected": True, "events_stored": 12, "reconnects": 1, "skipped": {"bad_json": 2}}
                },
            }
        )
    )
    body = client.get("/metrics").content.decode()
    assert 'liqsite_collections_total{outcome="ok",source="panic-api"} 7.0' in body
    from prometheus_client.parser import text_string_to_metric_families

    values = {
        s.name: s.value for family in text_string_to_metric_families(body) for s in family.samples if not s.labels
    }
    assert values["liqsite_last_success_timestamp_seconds"] == NOW
    assert 29 <= values["liqsite_newest_record_age_seconds"] < 90
    assert "liqsite_store_records 1.0" in body
    assert "liqsite_buckets_last_fold_timestamp_seconds" not in values  # no fold yet: no sample
    assert 'liqsite_stream_connected{exchange="binance"} 1.0' in body
    assert 'liqsite_stream_events_stored_total{exchange="binance"} 12.0' in body
    assert 'liqsite_stream_frames_skipped_total{exchange="binance",reason="bad_json"} 2.0' in body
    assert "liqsite_newest_record_age_seconds" in body
    liq_settings.LIQUIDATION_ALERT_STATE_FILE = liq_settings.LIQUIDATION_LAST_RUN_FILE.with_name("alerts.json")
    liq_settings.LIQUIDATION_ALERT_STATE_FILE.write_text(json.dumps({"sends": {"ok|telegram": 3, "error|dingtalk": 1}}))
    body = client.get("/metrics").content.decode()
    assert 'liqsite_alert_sends_total{channel="telegram",outcome="ok"} 3.0' in body
    liq_settings.LIQUIDATION_METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


def test_metrics_show_when_the_minute_buckets_were_last_folded(client, liq_settings):
    from liquidation.bucketstore import BucketStore
    from liquidation.eventstore import EventStore

    folder = liq_settings.LIQUIDATION_EVENTS_DIR
    BucketStore(folder / "buckets").fold(EventStore(folder, load_keys=False), {"okx": NOW - 600}, NOW)
    from prometheus_client.parser import text_string_to_metric_families

    body = client.get("/metrics").content.decode()
    values = {s.name: s.value for family in text_string_to_metric_families(body) for s in family.samples}
    assert values["liqsite_buckets_last_fold_timestamp_seconds"] == NOW
