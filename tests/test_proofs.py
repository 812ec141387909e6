"""Proofs that nothing is ever lost: SIGKILLs during appends and rewrites, concurrent writers and
readers, and property-based tests of the reader and the API's time parsing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liquidation.maintenance import clean, verify
from liquidation.records import RecordError, build_record, parse_line, to_line
from liquidation.store import JsonlStore, append_durably
from tests.conftest import PROJECT

BASE = (int(time.time()) // 60 - 100_000) * 60  # minutes far enough back for 100,000 appends

WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {project!r})
    from liquidation.records import build_record
    from liquidation.store import JsonlStore, DuplicateMinute
    store = JsonlStore(sys.argv[1])
    i = int(sys.argv[2])
    while True:
        pad = "x" * (6000 if i % 3 == 0 else 20)  # some records larger than a memory page
        record = build_record({base} + 60 * i, {{"hour_1_amount": i, "panic_index": 0, "hour_24_amount": 1,
                              "total_position": 1}}, pad=pad)
        try:
            store.append(record)
        except DuplicateMinute:
            pass  # written before the last kill, not yet reported
        print(i, flush=True)
        i += 1
    """
)

READER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {project!r})
    from liquidation.store import JsonlStore
    store = JsonlStore(sys.argv[1])
    end = time.monotonic() + float(sys.argv[2])
    reads = 0
    while time.monotonic() < end:
        records = store.range()
        store.latest()
        store.range(limit=50)
        for r in records:
            assert isinstance(r["timestamp"], int)
        reads += 1
    print(reads)
    """
)


def _script(template: str) -> str:
    return template.format(project=str(PROJECT), base=BASE)


def test_sigkill_during_appends_never_loses_or_duplicates_an_acknowledged_record(tmp_path):
    path = tmp_path / "crash.jsonl"
    reader = subprocess.Popen(
        [sys.executable, "-c", _script(READER), str(path), "60"], stdout=subprocess.PIPE, text=True
    )
    acknowledged: list[int] = []
    rng = random.Random(42)
    kills = 0
    next_index = 0
    while kills < 25:
        writer = subprocess.Popen(
            [sys.executable, "-c", _script(WRITER), str(path), str(next_index)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(0.15 + rng.random() * 0.4)  # past the interpreter's start, then at a random moment
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate()
        reported = [int(x) for x in out.split()]
        acknowledged += reported
        next_index = (reported[-1] + 1) if reported else next_index
        kills += 1
    store = JsonlStore(path)
    store.append(
        build_record(
            BASE + 60 * (next_index + 5),
            {"hour_1_amount": 0, "panic_index": 0, "hour_24_amount": 0, "total_position": 0},
        )
    )
    lines = path.read_bytes().splitlines(keepends=True)
    records = [parse_line(line) for line in lines]  # every line parses after the next append
    indexes = [r["hour_1_amount"] for r in records[:-1]]
    assert len(acknowledged) > 25
    print(f"\nproof: {kills} SIGKILLs, {len(acknowledged)} acknowledged records checked, lost 0, duplicated 0")
    for i in acknowledged:
        assert indexes.count(i) == 1, i
    assert len(set(indexes)) == len(indexes)
    reader.send_signal(signal.SIGTERM)
    reader.wait(70)
    assert reader.returncode in (0, -signal.SIGTERM)  # never an assertion error or a traceback


REWRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {project!r})
    from liquidation.store import JsonlStore
    from liquidation.maintenance import prune, repair, import_files
    store = JsonlStore(sys.argv[1])
    what = sys.argv[2]
    if what == "prune":
        prune(store, int(sys.argv[3]), now=int(sys.argv[4]))
    elif what == "repair":
        repair(store)
    else:
        import_files(store, [sys.argv[3]])
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("operation", ["prune", "repair", "import"])
def test_sigkill_during_a_rewrite_leaves_the_old_file_or_the_new_one(tmp_path, operation):
    path = tmp_path / "data.jsonl"
    records = [
        build_record(
            BASE + 60 * i,
            {"hour_1_amount": i, "panic_index": 0, "hour_24_amount": 1, "total_position": 1},
            pad="y" * 300,
        )
        for i in range(20000)
    ]
    old = b"".join(to_line(r) for r in records) + (b"garbage\n" if operation == "repair" else b"")
    extra = tmp_path / "extra.jsonl"
    extra.write_bytes(
        b"".join(
            to_line(
                build_record(
                    BASE + 60 * (30000 + i),
                    {"hour_1_amount": i, "panic_index": 0, "hour_24_amount": 1, "total_position": 1},
                )
            )
            for i in range(500)
        )
    )
    now = BASE + 60 * 20000
    if operation == "prune":
        new = b"".join(to_line(r) for r in records if r["timestamp"] >= now - 7 * 86400)
        args = ["prune", "7", str(now)]
    elif operation == "repair":
        new = b"".join(to_line(r) for r in records)
        args = ["repair"]
    else:
        new = b"".join(to_line(r) for r in clean([*records, *(parse_line(x) for x in extra.read_bytes().splitlines())]))
        args = ["import", str(extra)]
    rng = random.Random(operation)
    outcomes = {"old": 0, "new": 0}
    for _ in range(12):
        path.write_bytes(old)
        proc = subprocess.Popen(
            [sys.executable, "-c", _script(REWRITER), str(path), *args], stdout=subprocess.PIPE, text=True
        )
        time.sleep(0.1 + rng.random() * 0.35)  # from before the rewrite starts to after it ends
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = path.read_bytes()
        assert data in (old, new), "the data file is a mix"
        outcomes["old" if data == old else "new"] += 1
        JsonlStore(path).rewrite(lambda rs: rs)  # the next rewrite cleans up after the killed one
        assert verify(JsonlStore(path)).temp_files == []
    assert outcomes["old"] + outcomes["new"] == 12
    print(f"\nproof: {operation} killed 12 times: old file {outcomes['old']}×, new file {outcomes['new']}×, mixed 0×")


APPENDER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {project!r})
    from liquidation.records import build_record, to_line
    from liquidation.store import append_durably
    from pathlib import Path
    w = int(sys.argv[2])
    for i in range(250):
        r = build_record({base} + 60 * (i * 8 + w), {{"hour_1_amount": w, "panic_index": i, "hour_24_amount": 1,
                         "total_position": 1}}, pad="z" * (5000 if i % 10 == 0 else 1))
        append_durably(Path(sys.argv[1]), to_line(r))
    """
)


def test_eight_processes_of_250_appends_give_exactly_2000_valid_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    procs = [subprocess.Popen([sys.executable, "-c", _script(APPENDER), str(path), str(w)]) for w in range(8)]
    assert [p.wait(120) for p in procs] == [0] * 8
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) == 2000
    records = [parse_line(line) for line in lines]
    assert len({r["timestamp"] for r in records}) == 2000


def test_appends_during_prunes_are_never_lost_and_readers_never_see_a_partial_record(tmp_path):
    path = tmp_path / "p.jsonl"
    now_base = int(time.time()) // 60 * 60 - 3000 * 60
    writer_src = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(PROJECT)!r})
        from liquidation.records import build_record
        from liquidation.store import JsonlStore
        s = JsonlStore({str(path)!r})
        for i in range(400):
            time.sleep(0.002)  # paced, so that the prunes surely overlap the appends on a fast disk
            s.append(build_record({now_base} + 60 * i, {{"hour_1_amount": i, "panic_index": 0, "hour_24_amount": 1,
                     "total_position": 1}}, pad="q" * (5000 if i % 7 == 0 else 3)))
            print(i, flush=True)
        """
    )
    writer = subprocess.Popen([sys.executable, "-c", writer_src], stdout=subprocess.PIPE, text=True)
    reader = subprocess.Popen(
        [sys.executable, "-c", _script(READER), str(path), "6"], stdout=subprocess.PIPE, text=True
    )
    from liquidation.maintenance import prune

    store = JsonlStore(path)
    prunes = 0
    while writer.poll() is None:
        if path.exists():
            prune(store, 30)  # keeps everything: the file is rewritten while the writer appends
            prunes += 1
    out, _ = writer.communicate()
    acknowledged = [int(x) for x in out.split()]
    assert len(acknowledged) == 400
    stored = [r["hour_1_amount"] for r in store.range()]
    assert stored == list(range(400))
    assert prunes > 5
    reads, _ = reader.communicate(timeout=30)
    assert reader.returncode == 0
    assert int(reads) > 0


def test_n_collectors_in_the_same_minute_store_one_record(tmp_path):
    from tests.conftest import MANAGE, child_clock, minute_start_clock, subprocess_env
    from tests.upstream_server import Reply, UpstreamServer

    server = UpstreamServer().start()
    try:
        url = server.route(
            "/p",
            Reply(200, b'{"hour_1_amount": 1, "panic_index": 0, "hour_24_amount": 2, "total_position": 3}', delay=0.5),
        )
        env = subprocess_env(tmp_path, LIQUIDATION_SOURCE_URL=url)
        clock = child_clock(minute_start_clock())  # all five in one minute, without waiting for one
        procs = [
            subprocess.Popen([*clock, *MANAGE, "collect_liquidation", "-v", "0"], env=env, cwd=PROJECT)
            for _ in range(5)
        ]
        assert [p.wait(60) for p in procs] == [0] * 5
    finally:
        server.stop()
    assert len((tmp_path / "data" / "liquidation_1h.jsonl").read_bytes().splitlines()) == 1


# -- properties -------------------------------------------------------------------------------------


def reference(data: bytes) -> list[dict]:
    """Every complete line that is a valid record, in file order. Lines end at LF, CRLF or a lone
    CR; the part after the last line end is not a complete line."""
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")[:-1]
    out = []
    for line in lines:
        try:
            out.append(parse_line(line + b"\n"))
        except RecordError:
            continue
    return out


VALID = [
    to_line(
        build_record(
            1768583851 + 60 * i, {"hour_1_amount": i, "panic_index": 0.5, "hour_24_amount": 2, "total_position": 3}
        )
    )
    for i in range(30)
]
VALID_FILE = b"".join(VALID)


def check_reader(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "prop.jsonl"
    path.write_bytes(data)
    store = JsonlStore(path)
    stored = reference(data)
    want = clean(stored)  # the series: the first record of each minute, sorted
    assert store.range() == want
    if stored == want:  # a sorted file, one record per minute: every read is exact
        assert store.latest() == (want[-1] if want else None)
        assert store.range(limit=5) == want[-5:]
    else:  # reads near the end check the order only around what they read; never raise, never invent
        assert store.latest() in want or store.latest() is None
        assert all(r in want for r in store.range(limit=5))


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=3000))
def test_arbitrary_bytes_never_make_the_reader_raise(tmp_path_factory, data):
    check_reader(tmp_path_factory.mktemp("b"), data)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    cut=st.integers(0, len(VALID_FILE)),
    flips=st.lists(st.tuples(st.integers(0, len(VALID_FILE) - 1), st.integers(0, 255)), max_size=5),
)
def test_truncations_and_byte_flips_return_exactly_the_complete_valid_lines(tmp_path_factory, cut, flips):
    data = bytearray(VALID_FILE[:cut])
    for position, value in flips:
        if position < len(data):
            data[position] = value
    check_reader(tmp_path_factory.mktemp("t"), bytes(data))


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=st.one_of(st.text(max_size=60), st.integers().map(str), st.floats().map(str)))
def test_time_parameters_are_a_200_or_a_400_never_a_500(unthrottled, value):
    from django.test import Client

    response = Client(HTTP_ACCEPT="application/json").get(
        "/api/liquidation-1h/history", {"start_time": value, "limit": "5"}
    )
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "start_time" in response.json()


def test_the_csp_is_on_every_html_page(client_html):
    for path in ("/panic", "/api/docs/", "/api/liquidation-1h/history", "/api/liquidation-1h/stats", "/no-such-page"):
        response = client_html.get(path)
        csp = response.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp, path
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0], path


@pytest.fixture
def unthrottled(liq_settings):
    liq_settings.LIQUIDATION_API_RATE = None
    return liq_settings


@pytest.fixture
def client_html(liq_settings):
    from django.test import Client

    return Client(HTTP_ACCEPT="text/html")


def test_append_durably_is_a_single_write(tmp_path, monkeypatch):
    calls = []
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: calls.append(len(data)) or real(fd, data))
    append_durably(tmp_path / "x.jsonl", b"a" * 100_000 + b"\n")
    assert calls == [100_001]
