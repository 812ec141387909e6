"""The keyless exchanges source with its events, buckets and state in PostgreSQL: the same minute as on the
day files, to the cent, and not one file written; then two listeners fed the same frames by a real local
websocket server store each event once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import time_machine

from liquidation.exchanges import ExchangesSource
from liquidation.statestore import FileStateStore
from tests.conftest import MANAGE, PROJECT, spawn, subprocess_env
from tests.exchangetools import NOW, collect, stream_state
from tests.streamtools import BINANCE_PATH, binance_frame
from tests.upstream_server import wait_for


def _pg(pg_store):
    from liquidation.pgbuckets import PgBucketStore
    from liquidation.pgevents import PgEventStore
    from liquidation.pgstore import PgStateStore

    state = PgStateStore(using=pg_store.using)
    return state, PgEventStore(using=pg_store.using), PgBucketStore(state, using=pg_store.using)


def test_a_minute_on_postgresql_is_the_minute_on_the_files_and_writes_no_file(tmp_path, venues, pg_store):
    files_dir, pg_dir = tmp_path / "files", tmp_path / "pg"
    files_dir.mkdir()
    pg_dir.mkdir()
    connected = {"binance": NOW - 30 * 3600, "bybit": None, "okx": NOW - 1800}
    stream_state(files_dir, connected)
    state, events, store = _pg(pg_store)
    # What the listener left in the files, put where a listener on PostgreSQL puts it.
    events.append(json.loads(line) for line in (files_dir / "liquidations-2026-11-25.jsonl").read_text().splitlines())
    events.append(json.loads(line) for line in (files_dir / "liquidations-2026-11-24.jsonl").read_text().splitlines())
    state.write("streams", json.loads((files_dir / "status.json").read_text()))

    with time_machine.travel(NOW, tick=False):
        on_files = collect(ExchangesSource(files_dir, urls=venues, pace=0))
        on_pg = collect(ExchangesSource(pg_dir, urls=venues, pace=0, state=state, events=events, buckets=store))
    assert on_pg.values == on_files.values
    assert on_pg.extra == on_files.extra
    assert on_pg.values["hour_1_amount"] > 0
    assert list(pg_dir.iterdir()) == []  # events, buckets, poll cursors, open-interest cache: all in the database
    assert set(state.read("pollers")) >= {"gate", "bitget", "oi_usd"}
    assert set(state.read("binance_oi_cache")) == set(FileStateStore({}, folder=files_dir).read("binance_oi_cache"))
    assert store.committed() == 1


def test_two_listeners_fed_the_same_frames_store_each_event_once(tmp_path, ws, pg_store, pg_url):
    base = int(time.time() * 1000) - 60_000
    frames = [binance_frame(f"S{i % 50}USDT", "SELL", "1", str(100 + i), base + i) for i in range(3000)]

    async def feed(conn, n):
        for i, frame in enumerate(frames):
            await conn.send(frame)
            if i % 100 == 0:
                await asyncio.sleep(0.005)
        await asyncio.sleep(60)

    ws.route(BINANCE_PATH, feed)
    env = subprocess_env(
        tmp_path, EXCHANGE_BINANCE_WS_URL=ws.url(), LIQUIDATION_STORE="postgresql", DATABASE_URL=pg_url
    )
    children = spawn([*MANAGE, "stream_liquidations", "--exchanges", "binance", "--duration", "20"], env)
    _, events, _ = _pg(pg_store)
    try:
        assert wait_for(lambda: events.count() >= len(frames), timeout=40), events.count()
        time.sleep(1.5)  # both listeners have flushed what they hold
        assert events.count() == len(frames)
        stored = list(events.read(base - 1, base + len(frames)))
        assert sorted(e["ts_ms"] for e in stored) == [base + i for i in range(len(frames))]
    finally:
        for child in children:
            child.terminate()
        outputs = [child.communicate(timeout=30) for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    assert not (tmp_path / "data" / "events").exists()  # nothing written to the day files


ASK = """
import json, sys
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()  # the test client's host
answers = {}
for path in sys.argv[1:]:
    response = Client().get(path, HTTP_ACCEPT="application/json")
    answers[path] = [response.status_code, response.json()]
print(json.dumps(answers))
"""


def test_the_depth_api_answers_alike_on_both_backends_after_migrate_store(tmp_path, pg_store, pg_url):
    from liquidation.bucketstore import BucketStore
    from liquidation.eventstore import EventStore
    from tests.buckettools import ALL_LIVE, at, layered

    folder = tmp_path / "data" / "events"
    events, buckets = EventStore(folder, load_keys=True), BucketStore(folder / "buckets")
    layered(events, buckets)
    buckets.fold(events, ALL_LIVE, at(12, 31))
    env = subprocess_env(tmp_path, DATABASE_URL=pg_url, LIQUIDATION_API_RATE="off", LIQUIDATION_RESPONSE_CACHE="0")
    moved = subprocess.run(
        [*MANAGE, "migrate_store", "--to", "postgresql"], env=env, cwd=PROJECT, capture_output=True, text=True
    )
    assert moved.returncode == 0 and "116 events new" in moved.stdout, moved.stderr
    day = at(0, 0)
    paths = [
        f"/api/liquidation-1h/bars?by=exchange&step=1h&start_time={day}&end_time={day + 86399}",
        f"/api/liquidation-1h/bars?by=coin&step=1d&start_time={day - 86400}&end_time={day + 86399}",
        f"/api/liquidation-1h/tape?limit=20&before={(day + 13 * 3600) * 1000}",
        f"/api/liquidation-1h/tape?limit=5&side=short&before={(day + 13 * 3600) * 1000}",
    ]
    answers = {}
    for store in ("jsonl", "postgresql"):
        child = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()\n" + ASK, *paths],
            env={**env, "LIQUIDATION_STORE": store, "DJANGO_ALLOWED_HOSTS": "testserver"},
            cwd=PROJECT,
            capture_output=True,
            text=True,
        )
        assert child.returncode == 0, child.stderr
        answers[store] = json.loads(child.stdout.splitlines()[-1])
    for path in paths:
        assert answers["jsonl"][path][0] == 200 and answers["jsonl"][path][1]["available"] is True, path
        assert answers["postgresql"][path] == answers["jsonl"][path], path
