"""Shared fixtures: fixture files, a temporary store, fast HTTP settings, a loopback upstream."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import override_settings
from pytest_redis import factories

from liquidation.http import HttpPolicy
from liquidation.store import JsonlStore
from tests.upstream_server import UpstreamServer
from tests.ws_server import WsServer

FIXTURES = Path(__file__).parent / "fixtures"
#: Port 9 (discard) on loopback: nothing listens, so a connection is refused at once.
CLOSED_URL = "http://127.0.0.1:9"
CLOSED_WS_URL = "ws://127.0.0.1:9"
PROJECT = Path(__file__).resolve().parent.parent

#: Small limits so failure tests take well under a second or two each.
FAST_POLICY = HttpPolicy(
    connect_timeout=1.0,
    read_timeout=1.0,
    retries=2,
    backoff=0.01,
    retry_after_max=1.0,
    deadline=2.5,
    max_bytes=64 * 1024,
)


@pytest.fixture(scope="session", autouse=True)
def _plain_static_storage() -> Iterator[None]:
    """In-process tests render templates without running collectstatic, so ``{% static %}`` cannot
    look names up in a manifest: they get Django's plain storage (unhashed URLs). The hashed,
    precompressed storage is tested against a real collectstatic (tests/browser, tests/api/test_compression.py)."""
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):
        yield


@pytest.fixture
def fixture_path() -> callable:
    def get(name: str) -> Path:
        path = FIXTURES / name
        assert path.is_file(), f"missing fixture {path}"
        return path

    return get


@pytest.fixture
def fixture_bytes(fixture_path: callable) -> callable:
    return lambda name: fixture_path(name).read_bytes()


@pytest.fixture
def store(tmp_path: Path) -> JsonlStore:
    return JsonlStore(tmp_path / "liquidation_1h" / "liquidation_1h.jsonl")


#: Characters that must be percent-encoded in a URL: the password travels through the URL as operators write it.
REDIS_PASSWORD = "s3cr:et@pa/ss"
redis_server = factories.redis_proc(port=None, password=REDIS_PASSWORD)  # a throwaway redis-server per session


@pytest.fixture
def redis_url(redis_server) -> Iterator[str]:
    """The throwaway server's URL, emptied before the test (no counts or answers of another test)."""
    import redis

    client = redis.Redis(host=redis_server.host, port=redis_server.port, password=REDIS_PASSWORD)
    client.flushall()
    client.close()
    yield f"redis://:{quote(REDIS_PASSWORD, safe='')}@{redis_server.host}:{redis_server.port}/0"


@pytest.fixture
def venues(upstream, fixture_path) -> dict[str, str]:
    """Every venue's REST API on the loopback server (tests/exchangetools.py): ``{"rest": base URL}``."""
    from tests.exchangetools import serve_venues

    return serve_venues(upstream, fixture_path)


@pytest.fixture
def ws() -> Iterator[WsServer]:
    """A websocket server on loopback (tests/ws_server.py): route paths to handlers that play a venue."""
    server = WsServer().start()
    yield server
    server.stop()


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer().start()
    yield server
    server.stop()


@pytest.fixture
def liq_settings(settings, tmp_path: Path, store: JsonlStore):
    """Point the project's settings at temporary files and fast HTTP limits."""
    settings.LIQUIDATION_DATA_FILE = store.path
    settings.LIQUIDATION_LAST_RUN_FILE = tmp_path / "last_run.json"
    settings.LOG_DIR = tmp_path / "logs"
    settings.LIQUIDATION_SOURCE = ""
    settings.LIQUIDATION_SOURCE_URL = ""
    settings.COINGLASS_API_KEY = ""
    settings.LIQUIDATION_HTTP_CONNECT_TIMEOUT = FAST_POLICY.connect_timeout
    settings.LIQUIDATION_HTTP_READ_TIMEOUT = FAST_POLICY.read_timeout
    settings.LIQUIDATION_HTTP_RETRIES = FAST_POLICY.retries
    settings.LIQUIDATION_HTTP_BACKOFF = FAST_POLICY.backoff
    settings.LIQUIDATION_HTTP_RETRY_AFTER_MAX = FAST_POLICY.retry_after_max
    settings.LIQUIDATION_HTTP_DEADLINE = FAST_POLICY.deadline
    settings.LIQUIDATION_HTTP_MAX_BYTES = FAST_POLICY.max_bytes
    settings.LIQUIDATION_EVENTS_DIR = tmp_path / "events"
    settings.EXCHANGE_URLS = closed_exchange_urls()  # never the real exchanges
    settings.FEAR_GREED_URL = ""  # never alternative.me; tests/test_feargreed.py turns it on
    settings.FEAR_GREED_FILE = tmp_path / "fear_greed.json"
    return settings


def closed_exchange_urls() -> dict[str, str]:
    """Every venue's every endpoint (from the registry) pointed at a closed loopback port."""
    from liquidation.venues import VENUES

    return {
        f"EXCHANGE_{v.name.upper()}_{kind.upper()}_URL": CLOSED_URL.replace("http", "ws")
        if kind == "ws"
        else CLOSED_URL
        for v in VENUES
        for kind in v.endpoints
    }


def free_port() -> int:
    """A TCP port free on loopback right now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def minute_start_clock() -> float:
    """A time two seconds into the current minute: a test that needs all of its steps in one minute runs
    its clocks from there (``child_clock`` for children, time-machine in process) instead of sleeping."""
    return int(time.time()) // 60 * 60 + 2.0


def child_clock(start: float) -> list[str]:
    """An argv prefix running a child with its clock starting at ``start`` and advancing (libfaketime, the
    Debian ``faketime`` package ``scripts/test`` installs)."""
    stamp = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return ["env", "TZ=UTC", "faketime", "-f", f"@{stamp}"]


def subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment for running manage.py in a child process against temporary files only."""
    http_file = tmp_path / "http.json"  # quick to give up: a test upstream answers at once or never
    if not http_file.exists():
        http_file.write_text(json.dumps({"retries": 1, "backoff": 0.01, "deadline": 5}))
    env_file = tmp_path / "test.env"
    if not env_file.exists():
        env_file.write_text("# isolates child processes from the developer's own .env\n")
    env = {
        "LIQSITE_ENV_FILE": str(env_file),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "liqsite.settings",
        "DJANGO_SECRET_KEY": "test-" + "k" * 60,
        "LIQSITE_DATA_DIR": str(tmp_path / "data"),
        "LIQSITE_LOG_DIR": str(tmp_path / "logs"),
        "LIQUIDATION_DATA_FILE": str(tmp_path / "data" / "liquidation_1h.jsonl"),
        "LIQUIDATION_HTTP_FILE": str(http_file),
        "LIQUIDATION_EVENTS_DIR": str(tmp_path / "data" / "events"),
        **closed_exchange_urls(),
        "FEAR_GREED_URL": "off",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra)
    return env


MANAGE = [sys.executable, str(PROJECT / "manage.py")]


def spawn(argv: list[str], env: dict[str, str], n: int = 2) -> list[subprocess.Popen]:
    """``n`` child processes of ``argv`` at once from the project folder, output captured as text: the
    same command on several machines, here."""
    return [
        subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(n)
    ]


def run_manage(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``manage.py ARGS`` in a child process with ``env``, output captured as text."""
    return subprocess.run([*MANAGE, *args], env=env, capture_output=True, text=True, cwd=PROJECT, timeout=timeout)


# -- PostgreSQL: one throwaway server per session (tests/pgserver.py), the "pg" database alias ------------


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    from tests.pgserver import pg_server

    with pg_server() as server:
        yield server.create_database("liqsite_test")


@pytest.fixture(scope="session")
def pg_alias(pg_url, django_db_setup, django_db_blocker) -> str:
    """The alias "pg": the throwaway server's database, migrated. Added after pytest-django has set up its
    test database (SQLite), so that setup never sees this alias; these tests name their database."""
    import dj_database_url
    from django.conf import settings as django_settings
    from django.core.management import call_command
    from django.db import connections

    config = dj_database_url.parse(pg_url)  # no persistent connection: nothing outlives a test
    connections.settings["pg"] = connections.configure_settings({**django_settings.DATABASES, "pg": config})["pg"]
    with django_db_blocker.unblock():
        call_command("migrate", "liquidation", database="pg", verbosity=0)
    return "pg"


@pytest.fixture
def pg_store(pg_alias, django_db_blocker):
    """An empty PostgreSQL records store, its state, event and bucket tables empty too (database access allowed for the
    test's duration)."""
    from django.db import connections

    from liquidation.models import Bucket, Event, Record, State
    from liquidation.pgstore import PgRecordStore

    with django_db_blocker.unblock():
        for model in (Record, State, Event, Bucket):
            model.objects.using(pg_alias).all().delete()
        yield PgRecordStore(using=pg_alias)
        connections[pg_alias].close()  # or a later request's close_old_connections would touch it


#: Whole modules whose tests take seconds each (child processes killed mid-write, benchmarks, cron runs).
SLOW_MODULES = {"test_bench.py", "test_proofs.py", "test_deploy_multinode.py", "test_crontab.py"}
#: Tests that start real servers or browsers: PostgreSQL, Redis, the site under gunicorn, Chromium.
SLOW_FIXTURES = {"pg_url", "redis_server", "site", "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the slow groups ``slow`` (``scripts/test -m "not slow"`` is the quick loop): browser tests,
    tests on real servers, and the modules above; single slow tests carry the mark themselves."""
    for item in items:
        if (
            "browser" in item.path.parts
            or item.path.name in SLOW_MODULES
            or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
        ):
            item.add_marker(pytest.mark.slow)
