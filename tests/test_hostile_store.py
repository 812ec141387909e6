"""Hostile data files: one bad line never takes the API down, reads hold or detect their assumptions
(sorted, one record per minute), a read's cost is what it returns plus bounded skipping, and a
clock that jumped is reported instead of silently stopping collection.
"""

from __future__ import annotations

import json
import random
from io import StringIO

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from liquidation.maintenance import clean, repair, verify
from liquidation.records import BOM, build_record, minute_of, to_line
from liquidation.series import missing_minutes, select, stats
from liquidation.store import FutureRecord, JsonlStore

NOW = 1795600830
BASE = "/api/liquidation-1h/"
ENDPOINTS = [
    BASE + "history",
    BASE + "history?limit=10",
    BASE + "history?interval=1h&limit=24",
    BASE + "latest",
    BASE + "stats",
    BASE + "export.csv",
    BASE + "export.jsonl",
    "/healthz",
    "/metrics",
]


def rec(ts: int, h1: float = 100.0) -> dict:
    return build_record(
        ts, {"hour_1_amount": h1, "panic_index": 0.05, "hour_24_amount": 9000, "total_position": 100}, now=NOW
    )


def raw(ts: int, **values) -> bytes:
    fields = {"hour_1_amount": 1, "panic_index": 0.05, "hour_24_amount": 9000, "total_position": 100, **values}
    return json.dumps({"timestamp": ts, **fields}).encode() + b"\n"


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.LIQUIDATION_API_RATE = None
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def client() -> APIClient:
    return APIClient(HTTP_ACCEPT="application/json")


def write(store: JsonlStore, lines: list[bytes]) -> None:
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_bytes(b"".join(lines))


def minutes(n: int, end: int = NOW) -> list[dict]:
    first = minute_of(end) - n + 1
    return [rec(m * 60 + 2, 100 + i) for i, m in enumerate(range(first, first + n))]


# -- one bad line ---------------------------------------------------------------------------------

HOSTILE_LINES = {
    "100k-brackets": b"[" * 100_000 + b"\n",
    "deep-in-object": b'{"timestamp": 1795600000, "x": ' + b"[" * 3000 + b"]" * 3000 + b"}\n",
    "1e200": raw(NOW - 30, hour_1_amount=1e200),
    "near-max-float": raw(NOW - 30, hour_24_amount=1.7e308),
    "year-9999": raw(253402300000),
    "before-2009": raw(1000000000),
    "10MB": b'{"timestamp": 1795600000, "pad": "' + b"x" * 10_000_000 + b'"}\n',
}


@pytest.mark.parametrize("where", ["middle", "last"])
@pytest.mark.parametrize("line", HOSTILE_LINES.values(), ids=HOSTILE_LINES.keys())
def test_one_hostile_line_never_takes_an_endpoint_down(liq_settings, store, client, line, where):
    good = minutes(120)
    lines = [to_line(r) for r in good]
    lines.insert(60 if where == "middle" else len(lines), line)
    write(store, lines)
    for url in ENDPOINTS:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    latest = client.get(BASE + "latest").json()
    assert latest["timestamp"] == good[-1]["timestamp"]
    body = client.get(BASE + "stats?hours=2").json()
    assert body["count"] == 120
    assert body["hour_1_amount"]["max"] == good[-1]["hour_1_amount"]
    assert body["hour_1_amount"]["avg"] is not None and body["hour_1_amount"]["stddev"] is not None


@pytest.mark.parametrize("line", HOSTILE_LINES.values(), ids=HOSTILE_LINES.keys())
def test_verify_reports_and_repair_removes_a_hostile_line_and_import_skips_it(liq_settings, store, tmp_path, line):
    good = minutes(30)
    write(store, [to_line(r) for r in good[:15]] + [line] + [to_line(r) for r in good[15:]])
    report = verify(store, now=NOW)
    assert len(report.bad_lines) == 1 and report.bad_lines[0][0] == 16
    with pytest.raises(CommandError):
        call_command("verify_liquidation", stdout=StringIO())
    call_command("verify_liquidation", "--repair", stdout=StringIO())
    assert verify(store, now=NOW).problems == 0
    assert store.range() == good
    other = JsonlStore(tmp_path / "other.jsonl")
    liq_settings.LIQUIDATION_DATA_FILE = other.path
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join([to_line(good[0]), line, to_line(good[1])]))
    err = StringIO()
    call_command("import_liquidation", str(source), stdout=StringIO(), stderr=err)
    assert f"{source}:2:" in err.getvalue()
    assert other.range() == good[:2]


def test_statistics_never_overflow_at_the_bounds():
    records = [rec(NOW - 120, 1e9), rec(NOW - 60, 1e9), rec(NOW, 0.0)]
    body = stats(records, 1, NOW)
    assert body["hour_1_amount"]["avg"] == pytest.approx(2e9 / 3)
    assert body["hour_1_amount"]["stddev"] == pytest.approx((2 / 9) ** 0.5 * 1e9)


def test_gaps_cost_what_the_timestamps_are_not_what_they_span():
    """Two records 90 years apart: 47 million missing minutes, found without visiting each one."""
    first, last = 1230768000, 4102444740
    gaps = missing_minutes([first, last], minute_of(first), minute_of(last))
    assert gaps == [[first + 60, last - 60]]


# -- assumptions: sorted, one per minute ----------------------------------------------------------


def test_a_duplicate_minute_counts_once_everywhere_and_the_first_wins(liq_settings, store, client):
    good = minutes(60)
    twin = rec(good[30]["timestamp"] + 20, 99999.0)
    write(store, [to_line(r) for r in good[:31]] + [to_line(twin)] + [to_line(r) for r in good[31:]])
    assert store.range() == good
    assert store.range(good[25]["timestamp"], good[35]["timestamp"]) == good[25:36]
    assert store.range(None, good[31]["timestamp"] - 1, 3) == good[28:31]
    body = client.get(BASE + "stats?hours=1").json()
    assert body["count"] == 60 and body["hour_1_amount"]["max"] != 99999.0
    assert [(n, ts) for n, ts in verify(store, now=NOW).duplicates] == [(32, twin["timestamp"])]
    repair(store, now=NOW)
    assert store.path.read_bytes() == b"".join(to_line(r) for r in good)


def test_a_byte_order_mark_hides_no_record_and_repair_strips_it(liq_settings, store):
    good = minutes(5)
    write(store, [BOM + to_line(good[0])] + [to_line(r) for r in good[1:]])
    assert store.range() == good
    assert store.range(good[0]["timestamp"], good[0]["timestamp"]) == good[:1]
    assert verify(store, now=NOW).bom
    repair(store, now=NOW)
    assert not store.path.read_bytes().startswith(BOM)
    assert store.range() == good


@pytest.mark.parametrize("ending", [b"\r", b"\r\n"], ids=["CR", "CRLF"])
def test_cr_and_crlf_line_ends_read_and_the_next_append_is_intact(liq_settings, store, ending):
    good = minutes(200, end=NOW - 120)
    write(store, [to_line(r).rstrip(b"\n") + ending for r in good])
    assert store.range() == good
    assert store.latest() == good[-1]
    assert store.range(good[50]["timestamp"], good[60]["timestamp"]) == good[50:61]
    assert store.range(None, None, 3) == good[-3:]
    nxt = rec(NOW)
    store.append(nxt, now=NOW)  # the file's last line is complete: nothing is cut aside as torn
    assert not list(store.path.parent.glob("*.torn-*"))
    assert store.range() == [*good, nxt]
    report = verify(store, now=NOW)
    assert report.cr_line_ends and report.problems
    repair(store, now=NOW)
    assert b"\r" not in store.path.read_bytes()
    assert store.range() == [*good, nxt]


@pytest.mark.slow
def test_a_reversed_block_never_gives_a_wrong_window(liq_settings, store):
    good = minutes(3000)
    lines = [to_line(r) for r in good]
    lines[1000:1600] = reversed(lines[1000:1600])
    write(store, lines)
    truth = clean(good)
    rng = random.Random(7)
    for _ in range(600):
        a, b = sorted(rng.sample(range(good[0]["timestamp"] - 100, good[-1]["timestamp"] + 100), 2))
        want = [r for r in truth if a <= r["timestamp"] <= b]
        assert store.range(a, b) == want, (a, b)
        limit = rng.randint(1, 50)
        assert store.range(a, b, limit) == want[-limit:], (a, b, limit)
        assert select(store, a, b, 10_000, "15m")[-1:] == ([] if not want else [select_truth(want, 900)[-1]]), (a, b)
    assert store.latest() == truth[-1]
    report = verify(store, now=NOW)
    assert len(report.out_of_order) == 599
    repair(store, now=NOW)
    assert store.range() == truth


def select_truth(records: list[dict], seconds: int) -> list[dict]:
    out: dict[int, dict] = {}
    for r in records:
        key = r["timestamp"] // seconds
        peak = max(out[key]["max_hour_1_amount"], r["hour_1_amount"]) if key in out else r["hour_1_amount"]
        out[key] = {**r, "max_hour_1_amount": peak}
    return list(out.values())


def test_a_reversed_newest_pair_still_gives_the_true_latest(liq_settings, store):
    good = minutes(10)
    write(store, [to_line(r) for r in good[:-2]] + [to_line(good[-1]), to_line(good[-2])])
    assert store.latest() == good[-1]


# -- cost -----------------------------------------------------------------------------------------


def test_a_10mb_line_costs_one_scan_of_its_bytes_not_a_quadratic_copy(liq_settings, store):
    good = minutes(2000)
    huge = b'{"timestamp": 1795600000, "pad": "' + b"x" * 10_000_000 + b'"}\n'
    write(store, [to_line(r) for r in good[:1000]] + [huge] + [to_line(r) for r in good[1000:]])
    a, b = good[900]["timestamp"], good[1100]["timestamp"]
    got = store.range(a, b, 20)
    assert got == good[1081:1101]
    cost = store.last_report
    # What is returned, two records on each side, the binary search's probes and its 8 KiB of slack.
    assert cost.parsed <= 20 + 100
    # A probe landing in the huge line steps over it once, at memchr speed; never a re-copy per block.
    assert cost.bytes_read < 10_000_000 + 1_000_000
    got = store.range(a, b, 150)
    assert got == [r for r in good if a <= r["timestamp"] <= b][-150:]
    cost = store.last_report
    assert cost.parsed <= 150 + 100
    assert cost.bytes_read < 2 * 10_000_000 + 1_000_000  # the search's skip, and the window reading across it


def test_a_window_read_costs_what_it_returns_whatever_the_file_size(liq_settings, store):
    good = minutes(20_000)
    write(store, [to_line(r) for r in good])
    a = good[10_000]["timestamp"]
    assert store.range(a, a + 3599) == good[10_000:10_060]
    assert store.last_report.parsed <= 60 + 100  # the window, its edges, the probes and the slack
    assert store.last_report.bytes_read <= 200_000  # of a 4 MB file


# -- a clock that jumped ----------------------------------------------------------------------------


def test_a_record_from_the_future_is_reported_everywhere_and_repair_lets_collection_go_on(
    liq_settings, store, client, tmp_path
):
    good = minutes(30, end=NOW - 60)
    future = rec(NOW + 3600)
    write(store, [to_line(r) for r in good] + [to_line(future)])
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "future"
    latest = client.get(BASE + "latest").json()
    assert latest["stale"] is True and latest["future"] is True and latest["age_seconds"] < 0
    with pytest.raises(FutureRecord, match="verify_liquidation --repair"):
        store.append(rec(NOW), now=NOW)
    assert [ts for _, ts in verify(store, now=NOW).future] == [future["timestamp"]]
    call_command("verify_liquidation", "--repair", stdout=StringIO())
    aside = list(store.path.parent.glob("*.future-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == to_line(future)
    store.append(rec(NOW), now=NOW)
    assert store.latest()["timestamp"] == rec(NOW)["timestamp"]


def test_records_are_refused_beyond_a_day_ahead_or_before_2009():
    from liquidation.records import RecordError

    with pytest.raises(RecordError, match="timestamp"):
        rec(NOW + 86400 + 1)
    with pytest.raises(RecordError, match="timestamp"):
        rec(1230767999)
    assert rec(NOW + 86400)["timestamp"] == NOW + 86400
