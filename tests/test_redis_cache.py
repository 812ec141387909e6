"""REDIS_URL: Django's built-in RedisCache as the shared cache, checked at start-up; and, against a real
throwaway redis-server on loopback (pytest-redis, stopped at the end of the session), two web processes
sharing one Redis share their throttle counts and the per-minute response cache."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
import time_machine
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from liqsite.caches import CONNECT_TIMEOUT, KEY_PREFIX, SOCKET_TIMEOUT, caches, check_redis_url
from liquidation.records import build_record, to_line
from liquidation.store import JsonlStore
from tests.conftest import PROJECT, child_clock, free_port, minute_start_clock, run_manage, subprocess_env
from tests.conftest import REDIS_PASSWORD as PASSWORD

HEADER = "X-Liqsite-Cache"
BASE = "/api/liquidation-1h/"


# -- the setting ---------------------------------------------------------------------------------------


def test_without_redis_url_the_cache_is_each_process_memory():
    assert caches("")["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_the_password_goes_to_options_and_the_location_keeps_the_rest():
    got = caches("redis://:p%40ss%3Aword@cache.internal:6380/3")["default"]
    assert got["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert got["LOCATION"] == "redis://cache.internal:6380/3"
    assert got["KEY_PREFIX"] == KEY_PREFIX
    assert got["OPTIONS"]["password"] == "p@ss:word"
    assert got["OPTIONS"]["socket_connect_timeout"] == CONNECT_TIMEOUT
    assert got["OPTIONS"]["socket_timeout"] == SOCKET_TIMEOUT
    named = caches("rediss://app:pw@cache.internal/0")["default"]
    assert named["LOCATION"] == "rediss://app@cache.internal/0" and named["OPTIONS"]["password"] == "pw"


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://127.0.0.1",
        "redis://[::1]:6379/15",
        "rediss://cache.example.com:6380/0?ssl_cert_reqs=required",
        "unix:///run/redis/redis.sock",
        "unix:///run/redis/redis.sock?db=2",
        "unix://:pw@/run/redis/redis.sock",
    ],
)
def test_the_forms_operators_write_are_accepted(url):
    check_redis_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "127.0.0.1:6379",
        "http://:hunter2@127.0.0.1:6379/0",
        "redis://:hunter2@127.0.0.1:port/0",
        "redis://:hunter2@127.0.0.1:99999/0",
        "redis://:hunter2@127.0.0.1:0/0",
        "redis://:hunter2@/0",
        "redis://:hunter2@127.0.0.1:6379/zero",
        "redis://:hunter2@127.0.0.1:6379/0/1",
        "redis://:hunter2@127.0.0.1:6379/0?db=one",
        "redis://127.0.0.1:6379/0?password=hunter2",
        "redis://:hunter2@10.0.0.1:6379/0,redis://10.0.0.2:6379/0",
        "redis://:hunter2@127.0.0.1:6379/0#x",
        "unix://:hunter2@localhost/run/redis.sock",
        "unix://:hunter2@relative.sock",
    ],
)
def test_a_malformed_url_is_refused_naming_the_variable_never_showing_the_password(url):
    with pytest.raises(ImproperlyConfigured, match=r"\AREDIS_URL=") as e:
        caches(url)
    assert "hunter2" not in str(e.value)


def test_start_up_fails_on_a_malformed_url_and_says_why(tmp_path):
    env = subprocess_env(tmp_path, REDIS_URL="redis://:hunter2@127.0.0.1:63 79/0")
    out = run_manage(env, "check")
    assert out.returncode != 0
    assert "ImproperlyConfigured: REDIS_URL=" in out.stderr and "no commas, semicolons or spaces" in out.stderr
    assert "hunter2" not in out.stderr + out.stdout


def test_the_password_is_kept_out_of_log_lines(tmp_path):
    env = subprocess_env(tmp_path, REDIS_URL="redis://:hunter2@127.0.0.1:6379/0")
    code = (
        "import logging; from django.conf import settings as s; "
        "print(s.CACHES['default']['LOCATION']); logging.getLogger('liquidation').warning('auth hunter2 refused')"
    )
    out = run_manage(env, "shell", "-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "redis://127.0.0.1:6379/0"
    assert "refused" in out.stderr and "hunter2" not in out.stderr


# -- one process, a real Redis ------------------------------------------------------------------------------


def test_answers_and_throttle_counts_land_in_redis_under_the_sites_prefix(settings, redis_url, liq_settings, store):
    settings.CACHES = caches(redis_url)
    settings.LIQUIDATION_API_RATE = "10/min"
    settings.LIQUIDATION_RESPONSE_CACHE = True
    now = int(time.time())
    store.append(
        build_record(
            now // 60 * 60 - 58, {"hour_1_amount": 1, "panic_index": 0.1, "hour_24_amount": 2, "total_position": 3}
        )
    )
    client = APIClient(HTTP_ACCEPT="application/json")
    params = {"start_time": now - 3600, "end_time": now // 60 * 60 - 1}
    assert [client.get(BASE + "history", params)[HEADER] for _ in range(2)] == ["miss", "hit"]
    keys = redis.Redis.from_url(redis_url).keys("*")
    assert {k.split(b":")[0] for k in keys} == {KEY_PREFIX.encode()}
    assert any(b":resp:" in k for k in keys) and any(b"throttle_liquidation-api_127.0.0.1" in k for k in keys)


def test_an_unreachable_redis_costs_the_answer_its_cache_not_the_answer(settings, liq_settings, store, caplog):
    settings.CACHES = caches(f"redis://:{quote(PASSWORD, safe='')}@127.0.0.1:9/0")  # nothing listens on port 9
    settings.LIQUIDATION_API_RATE = None  # the throttle needs its counts: with it on, the request fails
    settings.LIQUIDATION_RESPONSE_CACHE = True
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="liquidation.respcache"):
        answer = APIClient(HTTP_ACCEPT="application/json").get(BASE + "history", {"limit": 5})
    assert answer.status_code == 200 and answer[HEADER] == "miss"
    assert time.monotonic() - started < 2 * CONNECT_TIMEOUT  # refused at once, no retries with back-off
    assert "response cache unavailable" in caplog.text and PASSWORD not in caplog.text


# -- two web processes, one Redis ---------------------------------------------------------------------------


@dataclass
class Web:
    urls: tuple[str, str]
    data: Path
    start: float  # where the servers' clocks started (tests.conftest.child_clock)

    def get(self, which: int, path: str) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(self.urls[which] + path, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()


@contextmanager
def gunicorn(env: dict[str, str], clock_start: float | None = None) -> Iterator[str]:
    """One gunicorn process with one worker on a free loopback port (its clock from ``clock_start``, when
    given): its URL once it answers."""
    port = free_port()
    clock = child_clock(clock_start) if clock_start is not None else []
    command = [*clock, sys.executable, "-m", "gunicorn", "liqsite.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
    server = subprocess.Popen([*command, "--log-level", "warning"], cwd=PROJECT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=2)  # not throttled: costs no client units
                break
            except urllib.error.HTTPError:
                break  # a 503 (stale data) is an answer
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("gunicorn did not start")
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def minute_records(first: int, last: int) -> list[dict]:
    return [
        build_record(
            m * 60 + 2,
            {"hour_1_amount": 100 + m % 50, "panic_index": 0.05, "hour_24_amount": 9000, "total_position": 1},
        )
        for m in range(first, last + 1)
    ]


@pytest.fixture
def web(tmp_path, redis_url) -> Iterator[Web]:
    """Two gunicorn processes, one worker each, on one data file and one Redis, at 5 requests a minute."""
    data = tmp_path / "data" / "liquidation_1h.jsonl"
    data.parent.mkdir(parents=True)
    now_minute = int(time.time()) // 60
    data.write_bytes(b"".join(to_line(r) for r in minute_records(now_minute - 180, now_minute - 2)))
    env = subprocess_env(tmp_path, LIQUIDATION_DATA_FILE=str(data), REDIS_URL=redis_url, LIQUIDATION_API_RATE="5/min")
    start = minute_start_clock()  # answers that follow the clock: every step of a test in one minute
    with ExitStack() as stack:
        urls = (stack.enter_context(gunicorn(env, start)), stack.enter_context(gunicorn(env, start)))
        yield Web(urls, data, start)


def past_window() -> str:
    """A window that ended minutes ago: its answer does not follow the clock (one entry, whatever the minute)."""
    now = int(time.time())
    return f"{BASE}history?start_time={now - 7200}&end_time={now // 60 * 60 - 600}"


def test_two_processes_share_the_throttle_counts_and_cached_answers_still_count(web):
    path = past_window()
    seen = [web.get(i % 2, path) for i in range(7)]  # alternating between the two processes
    assert [status for status, _, _ in seen] == [200] * 5 + [429] * 2
    # One process computed the answer; the other four were hits, and each still cost its unit.
    assert [headers.get(HEADER) for _, headers, _ in seen[:5]] == ["miss", "hit", "hit", "hit", "hit"]
    assert len({body for _, _, body in seen[:5]}) == 1 and json.loads(seen[0][2])["count"] > 100
    assert int(seen[5][1]["Retry-After"]) > 0
    for which in (0, 1):  # the limit is the client's on every process, whatever path it asks
        assert web.get(which, f"{BASE}stats?hours=1")[0] == 429


def test_a_miss_on_one_process_is_a_hit_on_the_other_with_the_same_answer(web):
    path = past_window()
    status_a, a, body_a = web.get(0, path)
    status_b, b, body_b = web.get(1, path)
    assert status_a == status_b == 200
    assert (a[HEADER], b[HEADER]) == ("miss", "hit")
    assert body_b == body_a
    for name in ("Content-Type", "ETag", "Last-Modified", "X-Liqsite-Revision"):
        assert b[name] == a[name], name


def test_an_append_to_the_data_file_makes_the_next_answer_a_miss(web):
    with time_machine.travel(web.start, tick=True):  # this process's clock, as the servers' (faketime)
        path = f"{BASE}history?limit=5"
        first, second = web.get(0, path), web.get(1, path)
        assert (first[1][HEADER], second[1][HEADER]) == ("miss", "hit")
        newest = int(time.time()) // 60
        JsonlStore(web.data).append(minute_records(newest, newest)[0])  # what the collector does each minute
        after = web.get(1, path)
        assert after[0] == 200 and after[1][HEADER] == "miss"
        assert json.loads(after[2])["results"][-1]["timestamp"] == newest * 60 + 2
        again = web.get(0, path)
        assert again[1][HEADER] == "hit" and again[2] == after[2]
