"""The records store contract (``recordstore.RecordStore``), the same cases on every backend: the JSONL file
and PostgreSQL (a throwaway server, tests/pgserver.py). Then what only the database promises: any number of
writers, one row per minute; retention by batched DELETE; and migrate_store's byte-for-byte round trip."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from liquidation.http import HttpPolicy
from liquidation.records import build_record, to_line
from liquidation.recordstore import DuplicateMinute, RecordStore
from liquidation.store import JsonlStore
from tests.conftest import FIXTURES, MANAGE, PROJECT, run_manage, spawn, subprocess_env

POLICY = HttpPolicy(connect_timeout=1, read_timeout=1, retries=0, backoff=0.01, deadline=5)
T0 = 1796090400  # a whole minute (2026-12-01 10:00 UTC)
LEGACY = FIXTURES / "legacy" / "liquidation_1h.jsonl"


def rec(minute: int, amount: float = 100.0, **extra) -> dict:
    values = {"hour_1_amount": amount, "panic_index": 0.05, "hour_24_amount": 12010, "total_position": 104.5}
    return build_record(T0 + 60 * minute + 3, values, now=T0 + 86400, **extra)


@pytest.fixture(params=["jsonl", "postgresql"])
def store(request, tmp_path) -> RecordStore:
    if request.param == "jsonl":
        return JsonlStore(tmp_path / "records.jsonl")
    return request.getfixturevalue("pg_store")


def test_an_empty_store(store):
    assert isinstance(store, RecordStore)
    assert (store.latest(), store.range(), store.count(), list(store.lines())) == (None, [], 0, [])


def test_appended_records_read_back_oldest_first_with_their_json_types(store):
    for m in range(5):
        store.append(rec(m, 100.0 + m), now=T0 + 600)
    assert store.count() == 5
    assert store.latest()["hour_1_amount"] == 104.0
    assert [r["timestamp"] for r in store.range()] == [T0 + 60 * m + 3 for m in range(5)]
    assert [r["timestamp"] for r in store.range(T0 + 60, T0 + 180)] == [T0 + 63, T0 + 123]
    assert [r["timestamp"] for r in store.range(None, None, 2)] == [T0 + 183, T0 + 243]
    assert [r["timestamp"] for r in store.iter_range(T0 + 120, None)] == [T0 + 123, T0 + 183, T0 + 243]


def test_a_second_record_for_a_minute_is_refused_and_the_first_kept(store):
    store.append(rec(0, 100.0), now=T0 + 600)
    with pytest.raises(DuplicateMinute):
        store.append({**rec(0, 555.0), "timestamp": T0 + 40}, now=T0 + 600)
    assert store.count() == 1
    assert store.latest()["hour_1_amount"] == 100.0


def test_the_same_record_twice_is_appended_once_and_refused_once(store):
    """Two collectors in one second compute byte-identical records: one appends, the other is told."""
    store.append(rec(0, 100.0), now=T0 + 600)
    with pytest.raises(DuplicateMinute):
        store.append(rec(0, 100.0), now=T0 + 600)
    assert store.count() == 1


def test_version_changes_on_every_append_and_revision_does_not(store):
    store.append(rec(0), now=T0 + 600)
    version, revision = store.version(), store.revision()
    time.sleep(0.01)  # a distinct write time (the database's token is the newest write)
    store.append(rec(1), now=T0 + 600)
    assert store.version() != version
    assert store.revision() == revision


def test_lines_are_the_stored_bytes_and_keep_their_json_types(store, tmp_path):
    newest = (
        b'{"timestamp": 1768600000, "datetime": "2026-01-17 05:46:40", "hour_1_amount": 400, '
        b'"panic_index": 0.08, "hour_24_amount": 12010, "total_position": 104.0}\n'
    )
    legacy = [*LEGACY.read_bytes().splitlines(keepends=True), newest]
    if isinstance(store, JsonlStore):
        store.path.write_bytes(b"".join(legacy))
    else:
        store.import_lines(iter(legacy))
    assert b"".join(store.lines()) == b"".join(legacy)
    assert store.count() == len(legacy)
    latest = store.latest()
    assert latest["hour_24_amount"] == 12010 and isinstance(latest["hour_24_amount"], int)  # 12010 stays 12010
    assert isinstance(latest["total_position"], float)  # and 104.0 stays a float


# -- what only PostgreSQL promises ------------------------------------------------------------------------

APPEND = """
import sys, time
from liquidation.conf import get_store
from liquidation.http import HttpPolicy
from liquidation.records import build_record, to_line
from liquidation.recordstore import DuplicateMinute
t = int(sys.argv[1]); start = float(sys.argv[2])
values = {"hour_1_amount": float(sys.argv[3]), "panic_index": 0.05, "hour_24_amount": 1, "total_position": 1}
record = build_record(t, values)
while time.time() < start:
    time.sleep(0.001)
try:
    get_store().append(record)
    print("stored")
except DuplicateMinute:
    print("duplicate")
"""


def test_two_writers_on_the_same_minute_leave_one_row(pg_store, pg_url, tmp_path):
    env = subprocess_env(tmp_path, LIQUIDATION_STORE="postgresql", DATABASE_URL=pg_url)
    minute = int(time.time()) // 60 * 60 - 120
    start = time.time() + 3  # both processes up, then the same instant
    children = [
        subprocess.Popen(
            [sys.executable, "-c", "import django; django.setup()\n" + APPEND, str(minute + 5), str(start), str(n)],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in (1.0, 2.0, 3.0, 4.0)
    ]
    said = sorted(child.communicate(timeout=60)[0].strip() for child in children)
    assert said == ["duplicate", "duplicate", "duplicate", "stored"]
    assert pg_store.count() == 1


def test_retention_deletes_in_batches_and_keeps_the_rest(pg_store, monkeypatch):
    from liquidation import pgstore

    monkeypatch.setattr(pgstore, "BATCH", 7)
    for m in range(30):
        pg_store.append(rec(m), now=T0 + 3600)
    revision = pg_store.revision()
    assert pg_store.prune_before(T0 + 60 * 20) == 20
    assert next(r["timestamp"] for r in pg_store.range()) == T0 + 60 * 20 + 3
    assert pg_store.count() == 10
    assert pg_store.revision() != revision  # served records went away: incremental clients reload


def test_migrate_store_round_trip_gives_the_same_bytes_and_is_idempotent(pg_store, pg_url, tmp_path):
    data = tmp_path / "data" / "liquidation_1h.jsonl"
    data.parent.mkdir(parents=True)
    data.write_bytes(LEGACY.read_bytes())
    env = subprocess_env(tmp_path, LIQUIDATION_DATA_FILE=str(data), DATABASE_URL=pg_url)
    first = run_manage(env, "migrate_store", "--to", "postgresql")
    assert first.returncode == 0, first.stderr
    again = run_manage(env, "migrate_store", "--to", "postgresql")
    assert again.returncode == 0 and "0 new" in again.stdout  # resumable: what is there stays
    assert pg_store.count() == len(LEGACY.read_bytes().splitlines())
    data.unlink()
    back = run_manage(env, "migrate_store", "--to", "jsonl")
    assert back.returncode == 0, back.stderr
    assert data.read_bytes() == LEGACY.read_bytes()


def test_migrate_store_without_a_database_url_says_what_to_set(tmp_path):
    result = run_manage(subprocess_env(tmp_path), "migrate_store", "--to", "postgresql")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


# -- maintenance through the interface ------------------------------------------------------------------


def test_prune_import_and_verify_work_on_every_backend(store, tmp_path):
    from liquidation.maintenance import import_files, prune, verify

    for m in (0, 1, 2, 5):  # minutes 3 and 4 missing
        store.append(rec(m), now=T0 + 600)
    extra = tmp_path / "more.jsonl"
    extra.write_bytes(b"".join(to_line(rec(m, 7.0)) for m in (2, 6)) + b"not json\n")
    imported = import_files(store, [extra], now=T0 + 600)
    assert (imported.valid, imported.added, len(imported.skipped)) == (2, 1, 1)  # minute 2 was stored: it wins
    assert [r["hour_1_amount"] for r in store.range()] == [100.0, 100.0, 100.0, 100.0, 7.0]
    report = verify(store, now=T0 + 600)
    assert report.records == 5 and report.problems == 0
    assert report.gaps == [[T0 + 180, T0 + 240]]
    result = prune(store, 1, now=T0 + 86400 + 120)  # keeps from minute 2 on
    assert (result.records_before, result.records_after) == (5, 3)
    assert [r["timestamp"] for r in store.range()] == [T0 + 123, T0 + 303, T0 + 363]


def test_verify_repair_is_refused_on_postgresql_with_why(pg_store, pg_url, tmp_path):
    env = subprocess_env(tmp_path, LIQUIDATION_STORE="postgresql", DATABASE_URL=pg_url)
    result = run_manage(env, "verify_liquidation", "--repair")
    assert result.returncode != 0
    assert "primary key" in result.stderr and "nothing of that kind to repair" in result.stderr


def test_two_collectors_in_the_same_minute_store_one_row_and_no_file(
    pg_store, pg_url, tmp_path, upstream, fixture_path
):
    from tests.upstream_server import Reply

    url = upstream.route("/api/panic/latest", Reply.file(fixture_path("upstream/panic-api/latest-flat.json")))
    env = subprocess_env(tmp_path, LIQUIDATION_STORE="postgresql", DATABASE_URL=pg_url, LIQUIDATION_SOURCE_URL=url)
    children = spawn([*MANAGE, "collect_liquidation"], env)
    outcomes = [(child.wait(timeout=60), child.stderr.read()) for child in children]
    assert [code for code, _ in outcomes] == [0, 0], outcomes  # a duplicate minute is not a failure
    assert pg_store.count() == 1
    assert not (tmp_path / "data" / "liquidation_1h.jsonl").exists()  # nothing written to the files' store


# -- shared state (the collector's last run, the listener's status) ---------------------------------------


@pytest.fixture(params=["files", "postgresql"])
def state(request, tmp_path):
    from liquidation.statestore import FileStateStore

    if request.param == "files":
        paths = {"last_run": tmp_path / "last_run.json", "streams": tmp_path / "events" / "status.json"}
        return FileStateStore(paths, folder=tmp_path / "events")
    request.getfixturevalue("pg_store")  # the database, emptied
    from liquidation.pgstore import PgStateStore

    return PgStateStore(using="pg")


def test_state_reads_empty_then_what_was_written(state):
    assert state.read("streams") == {}
    state.write("streams", {"updated": 5, "venues": {"okx": {"connected": True}}})
    assert state.read("streams") == {"updated": 5, "venues": {"okx": {"connected": True}}}
    state.update("streams", lambda v: {**v, "updated": v["updated"] + 1})
    assert state.read("streams")["updated"] == 6


def test_the_last_run_is_written_and_read_through_the_state(state):
    from liquidation.collector import write_last_run
    from liquidation.sharedfiles import read_last_run

    write_last_run(state, "ok", source="panic-api", detail="appended", now=1795629460)
    write_last_run(state, "error", source="panic-api", detail="HTTP 500", error_class="http-status", now=1795629520)
    run = read_last_run(state)
    assert (run["outcome"], run["error_class"], run["last_success"]) == ("error", "http-status", 1795629460)
    assert sorted(run["counts"]) == [("error", "panic-api", 1.0), ("ok", "panic-api", 1.0)]


def test_a_locked_block_saves_on_success_only_and_stamps_change(state):
    assert state.stamp("alerts") is None
    with state.locked("alerts") as value:
        value["sends"] = {"ok": {"webhook": 1}}
    first = state.stamp("alerts")
    assert first is not None and state.read("alerts") == {"sends": {"ok": {"webhook": 1}}}
    with pytest.raises(RuntimeError), state.locked("alerts") as value:
        value["sends"] = "lost"
        raise RuntimeError("the block failed")
    assert state.read("alerts") == {"sends": {"ok": {"webhook": 1}}}  # nothing of the failed block saved
    time.sleep(0.01)
    state.update("alerts", lambda v: {**v, "rules": {}})
    assert state.stamp("alerts") != first


def test_alert_state_and_the_fear_greed_index_live_in_the_state(state, upstream, tmp_path):
    from liquidation import feargreed
    from liquidation.alerts import AlertConfig, Rule, evaluate
    from liquidation.feargreed_payload import Day

    store = JsonlStore(tmp_path / "records.jsonl")
    store.append(rec(0, 300.0), now=T0 + 60)
    config = AlertConfig(rules=[Rule("h1", "h1_threshold", 1.0, 0.5, 60)], channels=[], state_file=state)
    assert [e.kind for e in evaluate(config, store, now=T0 + 60)] == ["fired"]
    assert evaluate(config, store, now=T0 + 120) == []  # the fired state was kept in the state store
    assert "h1" in str(state.read("alerts"))

    assert not feargreed.has_data(state)
    feargreed.write(state, [Day(date="2026-12-01", ts=T0 - 36000, value=40, classification="Fear")], T0)
    assert feargreed.has_data(state) and feargreed.read(state).days[0]["value"] == 40
    assert feargreed.should_fetch(state, T0)
    state.write(feargreed.ATTEMPT, {"attempted": T0 - 10})
    assert not feargreed.should_fetch(state, T0)
    assert feargreed.refresh(state, upstream.url("/fng/"), POLICY, now=T0).outcome == "not-due"  # claimed once


UPDATE = """
import sys
from liquidation.conf import state_store
for _ in range(int(sys.argv[1])):
    state_store().update("last_run", lambda v: {**v, "n": v.get("n", 0) + 1})
"""


def test_concurrent_updates_on_postgresql_lose_none(pg_store, pg_url, tmp_path):
    from liquidation.pgstore import PgStateStore

    env = subprocess_env(tmp_path, LIQUIDATION_STORE="postgresql", DATABASE_URL=pg_url)
    children = [
        subprocess.Popen([sys.executable, "-c", "import django; django.setup()\n" + UPDATE, "40"], cwd=PROJECT, env=env)
        for _ in range(3)
    ]
    assert [child.wait(timeout=120) for child in children] == [0, 0, 0]
    assert PgStateStore(using="pg").read("last_run")["n"] == 120  # the row lock serialises every update


WRITE_UNTIL_KILLED = """
import sys, time
from liquidation.conf import get_events, get_store
from liquidation.records import build_record
store, events = get_store(), get_events(writing=True)
t0 = int(sys.argv[1])
for i in range(100000):
    values = {"hour_1_amount": 1.0 + i, "panic_index": 0.05, "hour_24_amount": 12010, "total_position": 104.5}
    store.append(build_record(t0 + 60 * i, values, now=t0 + 60 * i))
    burst = [{"exchange": "okx", "symbol": "BTC-USDT-SWAP", "ts_ms": (t0 + 60 * i) * 1000 + j, "side": "long",
              "qty": 1.0, "price": 1.0, "usd": 1.0} for j in range(200)]
    events.append(burst)
    print(i, flush=True)  # acknowledged: the record and its 200 events are committed
"""


def test_a_collector_killed_mid_append_on_postgresql_loses_nothing_acknowledged(pg_store, pg_url, tmp_path):
    from liquidation.pgevents import PgEventStore

    env = subprocess_env(tmp_path, LIQUIDATION_STORE="postgresql", DATABASE_URL=pg_url)
    t0 = T0 - 86400 * 30
    child = subprocess.Popen(
        [sys.executable, "-c", "import django; django.setup()\n" + WRITE_UNTIL_KILLED, str(t0)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    acked = -1
    try:
        while acked < 40:
            line = child.stdout.readline()
            assert line, "the writer ended before it was killed"
            acked = int(line)
    finally:
        child.kill()  # SIGKILL: wherever it is, mid-statement or mid-transaction
        child.wait(timeout=30)
    records = pg_store.range()
    minutes = [r["timestamp"] for r in records]
    assert minutes[: acked + 1] == [t0 + 60 * i for i in range(acked + 1)]  # every acknowledged record
    assert [r["hour_1_amount"] for r in records[: acked + 1]] == [1.0 + i for i in range(acked + 1)]
    events = PgEventStore(using=pg_store.using)
    per_minute = [len(list(events.read((t0 + 60 * i) * 1000, (t0 + 60 * i) * 1000 + 999))) for i in range(len(records))]
    assert per_minute[: acked + 1] == [200] * (acked + 1)  # and every acknowledged event
    assert set(per_minute[acked + 1 :]) <= {0, 200}  # an unacknowledged batch is all there or not at all
