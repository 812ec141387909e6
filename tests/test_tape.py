"""tape.tape against a brute-force sort of every stored event (backfills appended after newer events,
events stored after the last fold, pages, filters), and EventStore.read_backward."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from liquidation import tape
from liquidation.coins import coin_of
from liquidation.depth import Filters
from tests.buckettools import ALL_LIVE, DAY, DAY_S, at, counted, folded_sample, ms, reader, sample, stores


def _ev(ts_ms: int, usd: float, exchange: str = "okx", symbol: str = "BTC-USDT-SWAP", side: str = "long") -> dict:
    return {"exchange": exchange, "symbol": symbol, "ts_ms": ts_ms, "side": side, "qty": 1.0, "price": usd, "usd": usd}


def _key(e: dict) -> tuple:
    return (e["ts_ms"], e["exchange"], e["symbol"], e["side"], round(e["usd"], 2))


def _brute(events, before_ms: int, limit: int, min_usd: float = 0.0, side=None, f: Filters = Filters()) -> list:
    """Every stored event of every day, filtered and sorted newest first (ties: stored first), cut at limit."""
    rows = [(e["ts_ms"], -off, e) for day in events.days() for off, e in events.read_from(day, 0)[0]]
    kept = [
        (ts, neg, e)
        for ts, neg, e in rows
        if ts < before_ms
        and counted(e)
        and e["usd"] >= min_usd
        and side in (None, e["side"])
        and f.exchange in (None, e["exchange"])
        and f.coin in (None, coin_of(e["symbol"]))
    ]
    return [_key(e) for _, _, e in sorted(kept, key=lambda t: t[:2], reverse=True)][:limit]


def _tape(events, store, before_ms: int, limit: int, **kw) -> dict:
    return tape.tape(events, reader(store), before_ms=before_ms, limit=limit, **kw)


def _layered(tmp_path):
    """The sample folded; then a backfill of 01:00–07:59 appended after it and folded; then events of
    12:10–12:29 appended after the last fold."""
    events, store = folded_sample(tmp_path)
    backfill = [_ev(ms(1 + i // 8, (i * 7) % 60, 11), 100.0 + i, "bitget", "ETHUSDT", "short") for i in range(56)]
    events.append(backfill)
    store.fold(events, ALL_LIVE, at(12, 8))
    unfolded = [_ev(ms(12, 10 + i, 3), 500.0 + i, "gate", "SOL_USDT") for i in range(20)]
    events.append(unfolded)
    return events, store, backfill, unfolded


def test_the_tape_is_newest_first_and_holds_every_countable_event_once(tmp_path):
    events, store = folded_sample(tmp_path)
    got = _tape(events, store, ms(13, 0), 100)
    assert [_key(e) for e in got["results"]] == _brute(events, ms(13, 0), 100)
    assert got["count"] == 38 and got["next_before"] is None
    assert got["results"][0]["ts_ms"] == ms(11, 59, 59.999)
    assert {e["coin"] for e in got["results"]} == {"BTC", "ETH", "SOL", "PEPE", "MOG"}
    assert "TSLAUSDT" not in {e["symbol"] for e in got["results"]}


@pytest.mark.parametrize(
    "kw",
    [
        {"min_usd": 50_000.0},
        {"f": Filters(exchange="hyperliquid")},
        {"f": Filters(coin="PEPE")},
        {"side": "short"},
        {"side": "long", "f": Filters(exchange="binance", coin="BTC"), "min_usd": 10_000.0},
    ],
)
def test_tape_filters_equal_the_brute_force_filters(tmp_path, kw):
    events, store, _, _ = _layered(tmp_path)
    got = _tape(events, store, ms(23, 0), 7, **kw)
    want = _brute(events, ms(23, 0), 7, **kw)
    assert [_key(e) for e in got["results"]] == want and want


@pytest.mark.parametrize("limit", [1, 3, 5, 10, 20, 21, 37, 80, 200])
@pytest.mark.parametrize("before", [ms(23, 0), ms(12, 20), ms(12, 0), ms(9, 30), ms(7, 0), ms(1, 30)])
def test_the_early_stop_is_right_with_a_backfill_after_newer_events_and_unfolded_events(tmp_path, limit, before):
    events, store, _, _ = _layered(tmp_path)
    got = _tape(events, store, before, limit)
    assert [_key(e) for e in got["results"]] == _brute(events, before, limit)


def _counting(events) -> list:
    """Every event line the store yields to the tape, whichever way it reads."""
    read: list = []
    pairs = events._pairs

    def counting(*args):
        for pair in pairs(*args):
            read.append(pair)
            yield pair

    events._pairs = counting
    return read


def test_the_newest_page_reads_the_unfolded_events_and_nothing_older(tmp_path):
    events, store, _, unfolded = _layered(tmp_path)
    read = _counting(events)
    got = _tape(events, store, ms(23, 0), 3)
    assert [e["usd"] for e in got["results"]] == [519.0, 518.0, 517.0]
    assert len(read) == len(unfolded)  # the 20 events past the fold cursor are newer than every folded one


def test_a_page_reads_only_the_spans_of_the_minutes_it_needs(tmp_path):
    events, store, _, unfolded = _layered(tmp_path)
    read = _counting(events)
    got = _tape(events, store, ms(12, 0), 2)  # before noon: the two newest folded events
    folded = [e for _, e in read if e not in unfolded]
    assert [_key(e) for e in got["results"]] == _brute(events, ms(12, 0), 2)
    # 11:59's span (one line) and 11:58's (three lines, one of them 11:59's late line): not the 96 folded lines
    assert len(folded) == 5
    assert {e["ts_ms"] // 60_000 for e in folded} == {ms(11, 58) // 60_000, ms(11, 59) // 60_000}


def test_a_rare_coin_reads_only_the_minutes_that_hold_it(tmp_path):
    events, store, _, unfolded = _layered(tmp_path)
    read = _counting(events)
    got = _tape(events, store, ms(23, 0), 50, f=Filters(coin="MOG"))
    folded = [e for _, e in read if e not in unfolded]
    assert [_key(e) for e in got["results"]] == _brute(events, ms(23, 0), 50, f=Filters(coin="MOG"))
    assert len(folded) == 2 and {coin_of(e["symbol"]) for e in folded} == {"MOG"}


@pytest.mark.parametrize("limit", [2, 3, 4, 7, 38])
def test_paging_with_next_before_returns_every_event_once(tmp_path, limit):
    events, store = folded_sample(tmp_path)
    before, seen = ms(13, 0), []
    for _ in range(100):
        got = _tape(events, store, before, limit)
        seen += [_key(e) for e in got["results"]]
        if got["next_before"] is None:
            break
        assert got["next_before"] < before
        before = got["next_before"]
    assert seen == _brute(events, ms(13, 0), 1000)  # newest first, no repeats, none lost


def test_a_page_never_ends_inside_a_millisecond_so_paging_loses_none_of_it(tmp_path):
    events, store = stores(tmp_path)
    burst = [_ev(ms(10, 0, 1), 1000.0 + i, symbol=f"C{i}USDT") for i in range(3)]  # one frame, one ts
    events.append([_ev(ms(10, 0, 2), 50.0), _ev(ms(10, 0, 2), 60.0, "bybit"), *burst, _ev(ms(9, 59), 70.0)])
    store.fold(events, ALL_LIVE, at(10, 5))
    before, pages = ms(11, 0), []
    for _ in range(20):
        got = _tape(events, store, before, 4)
        pages.append([e["usd"] for e in got["results"]])
        if got["next_before"] is None:
            break
        before = got["next_before"]
    # page 1 held 50, 60, 1000, 1001 with 1002 left out: the burst moves whole to page 2
    assert pages == [[50.0, 60.0], [1000.0, 1001.0, 1002.0, 70.0], []]
    assert sorted(u for page in pages for u in page) == sorted(k[-1] for k in _brute(events, ms(11, 0), 100))


def test_the_tape_reads_at_most_two_days_and_says_where_to_go_on(tmp_path):
    events, store = stores(tmp_path)
    for k in (-2, -1, 0):
        events.append([_ev(ms(12, 0) + k * 86_400_000, 100.0 + k)])
    store.fold(events, ALL_LIVE, at(12, 30))
    got = _tape(events, store, ms(13, 0), 10)
    assert [e["usd"] for e in got["results"]] == [100.0, 99.0]
    assert got["next_before"] == (DAY_S - 86400) * 1000  # the start of the last day read
    more = _tape(events, store, got["next_before"], 10)
    assert [e["usd"] for e in more["results"]] == [98.0] and more["next_before"] is None


def test_a_full_page_from_the_older_day_continues_before_its_oldest_event(tmp_path):
    events, store = stores(tmp_path)
    events.append([_ev(ms(12, 0) - 86_400_000 + i * 1000, 10.0 + i) for i in range(5)] + [_ev(ms(0, 0, 5), 1.0)])
    store.fold(events, ALL_LIVE, at(12, 30))
    got = _tape(events, store, ms(13, 0), 3)
    assert [e["usd"] for e in got["results"]] == [1.0, 14.0, 13.0]
    assert got["next_before"] == ms(12, 0) - 86_400_000 + 3000


# -- EventStore.read_backward -----------------------------------------------------------------------


def _write_day(events, lines: list[bytes]) -> None:
    events.folder.mkdir(parents=True, exist_ok=True)
    events.path_for(DAY).write_bytes(b"".join(lines))


@pytest.mark.parametrize("block", [1, 7, 64, 300, 256 * 1024])
def test_read_backward_yields_every_whole_line_with_its_offset_last_first(tmp_path, block):
    events, _ = stores(tmp_path)
    long_line = json.dumps(_ev(ms(10, 0), 5.0) | {"symbol": "X" * 900}).encode() + b"\n"
    lines = [json.dumps(e).encode() + b"\n" for e in sample()[:6]]
    lines[3:3] = [long_line, b"not json\n", b"\n", long_line.replace(b"X", b"Y")]
    _write_day(events, [*lines, b'{"exchange":"okx","ts_ms":17915'])  # a batch still being written
    starts, pos = [], 0
    for line in lines:
        starts.append(pos)
        pos += len(line)
    want = [(off, json.loads(line)) for off, line in zip(starts, lines, strict=True) if line.startswith(b"{")]
    got = list(events.read_backward(DAY, block=block))
    assert got == want[::-1]
    assert got == events.read_from(DAY, 0)[0][::-1]
    for off, e in got:
        raw = events.path_for(DAY).read_bytes()[off:]
        assert json.loads(raw[: raw.index(b"\n")]) == e  # the offset is the line's first byte


def test_read_backward_of_a_missing_empty_or_unterminated_file_yields_nothing(tmp_path):
    events, _ = stores(tmp_path)
    assert list(events.read_backward(DAY)) == []
    _write_day(events, [])
    assert list(events.read_backward(DAY)) == []
    _write_day(events, [json.dumps(_ev(ms(10, 0), 5.0)).encode()])  # no line end yet
    assert list(events.read_backward(DAY, block=4)) == []
    assert list(events.read_backward(DAY + timedelta(days=1))) == []


@pytest.mark.parametrize("kw", [{}, {"f": Filters(coin="BTC")}, {"min_usd": 20_000.0}])
def test_a_spent_read_budget_ends_the_page_at_a_whole_minute_and_paging_still_loses_nothing(tmp_path, monkeypatch, kw):
    monkeypatch.setattr(tape, "BUDGET_BYTES", 1)  # every page reads one minute's span, then stops
    events, store, _, _ = _layered(tmp_path)
    before, seen, pages = ms(23, 0), [], 0
    for pages in range(1, 500):
        got = _tape(events, store, before, 50, **kw)
        seen += [_key(e) for e in got["results"]]
        assert all(e["ts_ms"] >= (got["next_before"] or 0) for e in got["results"])
        if got["next_before"] is None:
            break
        assert got["next_before"] < before
        before = got["next_before"]
    assert pages > 3  # the budget did cut pages short
    assert seen == _brute(events, ms(23, 0), 10_000, **kw)


def test_when_the_collector_has_not_folded_for_long_the_newest_unfolded_events_are_still_shown(tmp_path, monkeypatch):
    events, store, _, _ = _layered(tmp_path)
    monkeypatch.setattr(tape, "TAIL_BYTES", 600)  # less than the 20 unfolded lines
    got = _tape(events, store, ms(23, 0), 2)
    assert [e["usd"] for e in got["results"]] == [519.0, 518.0]


def test_a_before_a_day_ahead_still_reads_the_two_newest_days_that_hold_events(tmp_path):
    """The API's default ``before`` is now + 1 day: the tape must start at the newest stored day, not at
    tomorrow's missing file (which left only today's first minutes on the tape just after midnight)."""
    events, store = stores(tmp_path)
    yesterday = [_ev(ms(23, m, 5, day_s=DAY_S - 86400), 1000.0 + m) for m in range(50)]
    today = [_ev(ms(0, 1, 5), 5000.0)]
    events.append(yesterday + today)
    store.fold(events, ALL_LIVE, at(0, 3))
    got = _tape(events, store, ms(0, 3) + 86_400_000, 30)
    assert [_key(e) for e in got["results"]] == _brute(events, ms(0, 3) + 86_400_000, 30)
    assert len(got["results"]) == 30  # today's one and 29 of yesterday's
