"""The per-minute response cache (liquidation/respcache.py) in each process's memory: how its key is made,
what it keeps, and the views that answer through it (hit and miss, behind the throttle, conditional GETs,
never the browsable HTML or an error). The shared cache in Redis: tests/test_redis_cache.py."""

from __future__ import annotations

import logging

import pytest
import time_machine
from django.core.cache import cache
from rest_framework.test import APIClient

from liquidation import respcache
from liquidation.bucketstore import BucketStore
from liquidation.eventstore import EventStore
from liquidation.records import build_record

NOW = 1795600830  # 2026-11-25 10:00:30 UTC, second 30 of its minute
MINUTE = NOW // 60
BASE = "/api/liquidation-1h/"
HEADER = "X-Liqsite-Cache"


@pytest.fixture(autouse=True)
def _clock_and_empty_cache(settings):
    settings.LIQUIDATION_API_RATE = None
    settings.LIQUIDATION_RESPONSE_CACHE = True
    cache.clear()
    respcache.LOCAL.clear()
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
    respcache.LOCAL.clear()


@pytest.fixture
def clock(_clock_and_empty_cache):
    return _clock_and_empty_cache


@pytest.fixture
def client() -> APIClient:
    return APIClient(HTTP_ACCEPT="application/json")


def record(minute: int, i: int = 0) -> dict:
    values = {"hour_1_amount": 100 + i, "panic_index": 0.05 + i / 10000, "hour_24_amount": 9000, "total_position": 1}
    return build_record(minute * 60 + 2, values, source="coinglass")


@pytest.fixture
def seeded(liq_settings, store):
    """Three hours of minutes up to the current one."""
    for i, m in enumerate(range(MINUTE - 179, MINUTE + 1)):
        store.append(record(m, i))
    return store


# -- the key -----------------------------------------------------------------------------------------


def test_equal_queries_share_a_key_whatever_their_order_or_encoding():
    key = respcache.make_key(BASE + "history", "limit=60&interval=5m", "application/json", "v1")
    assert respcache.make_key(BASE + "history", "interval=5m&limit=60", "application/json", "v1") == key
    assert respcache.make_key(BASE + "history", "interval=%35m&limit=60", "application/json", "v1") == key
    assert respcache.normalized_query("b=2&a=&c=x%20y") == "a=&b=2&c=x+y"


@pytest.mark.parametrize(
    "changed",
    [
        {"path": BASE + "stats"},
        {"query": "limit=61"},
        {"media_type": "application/json; indent=4"},
        {"version": "v2"},
        {"minute": MINUTE},
        {"language": "en"},
    ],
)
def test_every_part_of_the_key_tells_answers_apart(changed):
    parts = {"path": BASE + "history", "query": "limit=60", "media_type": "application/json", "version": "v1"}
    kwargs = {"minute": None, "language": "zh-hans"}
    base = respcache.make_key(parts["path"], parts["query"], parts["media_type"], parts["version"], **kwargs)
    for name in ("path", "query", "media_type", "version"):
        parts[name] = changed.get(name, parts[name])
    kwargs.update({k: v for k, v in changed.items() if k in kwargs})
    key = respcache.make_key(parts["path"], parts["query"], parts["media_type"], parts["version"], **kwargs)
    assert key != base
    assert key.startswith(respcache.PREFIX) and len(key) < 64  # a bounded key whatever the query's length


def test_the_minute_after_is_another_key():
    args = (BASE + "stats", "hours=24", "application/json", "v1")
    assert respcache.make_key(*args, minute=MINUTE) != respcache.make_key(*args, minute=MINUTE + 1)


# -- what is kept, and where ----------------------------------------------------------------------------


@pytest.fixture
def shared():
    """A cache object with Django's interface standing in for Redis (tests/test_redis_cache.py has the real one)."""
    cache.clear()
    return cache


def test_a_200_is_kept_with_its_body_type_and_the_headers_of_the_answer_only(shared):
    headers = {"ETag": 'W/"1"', "Last-Modified": "x", "X-Liqsite-Revision": "r", "Vary": "Accept", "Allow": "GET"}
    local = respcache.LocalCopies()
    assert respcache.store("k", 200, b'{"a":1}', "application/json", headers, local, shared)
    expected = respcache.Entry(
        b'{"a":1}', "application/json", (("ETag", 'W/"1"'), ("Last-Modified", "x"), ("X-Liqsite-Revision", "r"))
    )
    assert respcache.lookup("k", local) == expected
    assert respcache.lookup("k", respcache.LocalCopies(), shared) == expected  # another process, from the shared cache


def test_an_entry_read_from_the_shared_cache_is_copied_for_the_next_request(shared):
    respcache.store("k", 200, b"{}", "application/json", {}, respcache.LocalCopies(), shared)
    here = respcache.LocalCopies()
    assert respcache.lookup("k", here, shared) is not None
    shared.clear()
    assert respcache.lookup("k", here, shared) is not None


@pytest.mark.parametrize(
    ("status", "size"), [(400, 10), (404, 10), (429, 10), (500, 10), (200, respcache.MAX_BYTES + 1)]
)
def test_errors_and_oversized_bodies_are_never_kept(shared, status, size):
    local = respcache.LocalCopies()
    assert not respcache.store("k", status, b"x" * size, "application/json", {}, local, shared)
    assert respcache.lookup("k", local, shared) is None


def test_a_value_of_another_shape_under_the_key_is_a_miss(shared):
    shared.set("k", {"not": "an entry"})
    assert respcache.lookup("k", respcache.LocalCopies(), shared) is None


def test_local_copies_are_bounded_in_entries_and_bytes_least_recently_used_first():
    local = respcache.LocalCopies(max_entries=3, max_bytes=100)
    entry = lambda size: respcache.Entry(b"x" * size, "application/json", ())  # noqa: E731
    for key in "abc":
        local.put(key, entry(10))
    assert local.get("a") is not None  # now the most recently used
    local.put("d", entry(10))
    assert [k for k in "abcd" if local.get(k)] == ["a", "c", "d"]
    local.put("e", entry(90))  # 120 bytes in all: the least recently used go until 100 hold
    assert [k for k in "acde" if local.get(k)] == ["d", "e"]
    local.put("f", entry(101))  # alone above the bound: not kept
    assert local.get("f") is None


def test_local_copies_expire(monkeypatch):
    local = respcache.LocalCopies()
    monkeypatch.setattr(respcache, "TTL", -1)
    local.put("k", respcache.Entry(b"{}", "application/json", ()))
    assert local.get("k") is None


class BrokenCache:
    """A cache whose every call fails, as a client of an unreachable server does."""

    def get(self, key, default=None):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:9. Connection refused.")

    def set(self, key, value, timeout=None):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:9. Connection refused.")


def test_a_failing_shared_cache_is_a_logged_miss_never_an_error(caplog):
    local = respcache.LocalCopies()
    with caplog.at_level(logging.WARNING, logger="liquidation.respcache"):
        assert respcache.lookup("k", local, BrokenCache()) is None
        assert respcache.store("k", 200, b"{}", "application/json", {}, local, BrokenCache())  # this process has it
    assert len(caplog.records) == 2 and "ConnectionError" in caplog.text
    assert respcache.lookup("k", local, BrokenCache()) is not None


# -- the views ---------------------------------------------------------------------------------------


def test_history_is_computed_once_then_answered_from_the_cache(client, seeded):
    first = client.get(BASE + "history", {"limit": 60})
    second = client.get(BASE + "history", {"limit": 60})
    assert first.status_code == second.status_code == 200
    assert (first[HEADER], second[HEADER]) == ("miss", "hit")
    assert second.content == first.content and second.json()["count"] == 60
    for name in ("Content-Type", "ETag", "Last-Modified", "X-Liqsite-Revision", "Vary"):
        assert second[name] == first[name], name
    assert client.get(BASE + "history?interval=1m&limit=60")[HEADER] == "miss"  # another query
    assert client.get(BASE + "history?limit=60&interval=1m")[HEADER] == "hit"  # the same, reordered


def test_an_append_changes_the_version_so_the_next_answer_is_computed(client, seeded):
    assert client.get(BASE + "history", {"limit": 5})[HEADER] == "miss"
    assert client.get(BASE + "history", {"limit": 5})[HEADER] == "hit"
    with time_machine.travel(NOW + 60, tick=False):
        seeded.append(record(MINUTE + 1, 999))
        fresh = client.get(BASE + "history", {"limit": 5, "end_time": NOW + 60})
        again = client.get(BASE + "history", {"limit": 5, "end_time": NOW + 60})
    assert (fresh[HEADER], again[HEADER]) == ("miss", "hit")
    assert fresh.json()["results"][-1]["hour_1_amount"] == 1099


def test_an_answer_that_follows_the_clock_is_kept_for_its_minute_only(client, seeded, clock):
    first = client.get(BASE + "history", {"limit": 5})
    assert first[HEADER] == "miss"
    clock.move_to(NOW + 29)  # second 59 of the same minute
    assert client.get(BASE + "history", {"limit": 5})[HEADER] == "hit"
    clock.move_to(NOW + 90)  # a minute later, no record since: the trailing gap has grown
    late = client.get(BASE + "history", {"limit": 5})
    assert late[HEADER] == "miss" and late["ETag"] != first["ETag"]
    assert first.json()["gaps"] == [] and late.json()["gaps"] == [[(MINUTE + 1) * 60, (MINUTE + 1) * 60]]


def test_an_answer_about_the_past_outlives_its_minute(client, seeded, clock):
    params = {"start_time": NOW - 3600, "end_time": NOW - 600}
    assert client.get(BASE + "history", params)[HEADER] == "miss"
    clock.move_to(NOW + 60)
    assert client.get(BASE + "history", params)[HEADER] == "hit"


def test_a_hit_says_how_long_to_keep_it_from_now_not_from_when_it_was_kept(client, seeded, clock):
    params = {"start_time": NOW - 3600, "end_time": NOW - 600}
    assert "max-age=30" in client.get(BASE + "history", params)["Cache-Control"]  # second 30
    clock.move_to(NOW + 20)
    hit = client.get(BASE + "history", params)
    assert hit[HEADER] == "hit" and hit["Cache-Control"] == "public, max-age=10"


def test_a_conditional_get_is_still_answered_304(client, seeded):
    first = client.get(BASE + "history", {"limit": 60})
    etag = first["ETag"]
    for _ in range(2):  # before and after the entry exists
        not_modified = client.get(BASE + "history", {"limit": 60}, HTTP_IF_NONE_MATCH=etag)
        assert not_modified.status_code == 304 and not not_modified.content
        assert not_modified["ETag"] == etag and HEADER not in not_modified
    assert client.get(BASE + "history", {"limit": 60}, HTTP_IF_NONE_MATCH='W/"other"')[HEADER] == "hit"


def test_the_browsable_api_is_never_cached_nor_served_from_the_cache(seeded):
    browser = APIClient(HTTP_ACCEPT="text/html")
    for _ in range(2):
        page = browser.get(BASE + "history", {"limit": 5})
        assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
        assert HEADER not in page
    assert APIClient(HTTP_ACCEPT="application/json").get(BASE + "history", {"limit": 5})[HEADER] == "miss"
    anything = APIClient(HTTP_ACCEPT="*/*").get(BASE + "history", {"limit": 5, "format": "json"})
    assert anything[HEADER] == "miss"  # ?format= is another query


def test_an_indent_asked_in_the_media_type_is_kept_apart(seeded):
    indented = APIClient(HTTP_ACCEPT="application/json; indent=4").get(BASE + "history", {"limit": 5})
    compact = APIClient(HTTP_ACCEPT="application/json").get(BASE + "history", {"limit": 5})
    assert indented[HEADER] == compact[HEADER] == "miss"
    assert b"\n    " in indented.content and b"\n" not in compact.content


def test_a_bad_request_is_never_cached(client, seeded):
    for _ in range(2):
        bad = client.get(BASE + "history", {"limit": 0})
        assert bad.status_code == 400 and HEADER not in bad
    assert not any(client.get(BASE + "history", {"limit": 0}).has_header(h) for h in (HEADER, "ETag"))


def test_a_cached_answer_still_costs_its_throttle_units(client, seeded, settings):
    settings.LIQUIDATION_API_RATE = "3/min"
    seen = [client.get(BASE + "history", {"limit": 60}) for _ in range(4)]
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert [r[HEADER] for r in seen[:3]] == ["miss", "hit", "hit"]
    assert HEADER not in seen[3] and "Retry-After" in seen[3]


@pytest.mark.parametrize(("path", "params"), [("stats", {"hours": 2}), ("panic-band", {})])
def test_stats_and_the_panic_band_are_cached_for_their_minute(client, seeded, clock, path, params):
    first = client.get(BASE + path, params)
    second = client.get(BASE + path, params)
    assert (first[HEADER], second[HEADER]) == ("miss", "hit") and first.content == second.content
    clock.move_to(NOW + 30)
    assert client.get(BASE + path, params)[HEADER] == "miss"


def test_without_redis_answers_stay_out_of_the_cache_that_holds_the_throttle_counts(client, seeded, settings):
    settings.LIQUIDATION_API_RATE = "100/min"
    assert [client.get(BASE + "history", {"limit": n})[HEADER] for n in (5, 5, 6)] == ["miss", "hit", "miss"]
    keys = list(cache._cache)  # local memory: culled when full, so answers there could evict a client's count
    assert len(keys) == 1 and "throttle" in keys[0]


def test_latest_is_not_cached(client, seeded):
    assert HEADER not in client.get(BASE + "latest")  # its age moves every second, and it is cheap


def test_turned_off_every_answer_is_computed(client, seeded, settings):
    settings.LIQUIDATION_RESPONSE_CACHE = False
    for _ in range(2):
        assert HEADER not in client.get(BASE + "history", {"limit": 5})


# -- the depth views -------------------------------------------------------------------------------------


@pytest.fixture
def folded(liq_settings):
    """An hour of liquidations on two venues, folded once; ``fold_more()`` adds a minute and folds again."""
    folder = liq_settings.LIQUIDATION_EVENTS_DIR
    events = EventStore(folder, load_keys=False)
    buckets = BucketStore(folder / "buckets")
    rows = [
        {
            "exchange": "okx" if i % 2 else "binance",
            "symbol": "BTCUSDT",
            "ts_ms": (NOW - 3600 + i * 60) * 1000 + 5,
            "side": "long" if i % 3 else "short",
            "qty": 1.0,
            "price": 10.0,
            "usd": 1000.0 + i,
        }
        for i in range(60)
    ]
    events.append(rows)
    buckets.fold(events, {"binance": NOW - 9000, "okx": NOW - 9000}, NOW)

    def fold_more() -> None:
        events.append([{**rows[-1], "ts_ms": NOW * 1000 + 7, "usd": 5000.0}])
        buckets.fold(events, {"binance": NOW - 9000, "okx": NOW - 9000}, NOW + 1)

    return fold_more


@pytest.mark.parametrize(
    ("path", "params"),
    [("summary", {"window": "4h"}), ("bars", {"step": "15m", "by": "exchange"}), ("tape", {"limit": 10})],
)
def test_depth_answers_are_cached_until_the_next_fold(client, folded, path, params):
    first = client.get(BASE + path, params)
    second = client.get(BASE + path, params)
    assert first.status_code == 200 and first.json()["available"] is True
    assert (first[HEADER], second[HEADER]) == ("miss", "hit")
    assert second.content == first.content and second["ETag"] == first["ETag"]
    assert client.get(BASE + path, params, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    folded()
    after = client.get(BASE + path, params)
    assert after[HEADER] == "miss" and after["ETag"] != first["ETag"] and after.content != first.content


def test_depth_without_buckets_is_not_cached(client, liq_settings):
    for _ in range(2):
        body = client.get(BASE + "summary")
        assert body.json()["available"] is False and HEADER not in body
