"""The site under gunicorn on 127.0.0.1 for the HTTP benchmarks: started, waited for, stopped."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(data: Path, *, workers: int = 2, **env_extra: str) -> Iterator[str]:
    """Yield the base URL of the site serving ``data`` (bench settings: throttling as ``env_extra`` says)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.bench_settings",
            "LIQUIDATION_DATA_FILE": str(data),
            "LIQUIDATION_API_RATE": "off",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "LIQSITE_DATA_DIR": tmp,
            "LIQSITE_LOG_DIR": tmp,
            **env_extra,
        }
        command = [sys.executable, "-m", "gunicorn", "liqsite.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers)]
        server = subprocess.Popen([*command, "--log-level", "warning"], cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/bench/constant", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            yield base
        finally:
            server.terminate()
            server.wait(10)


def _die_with_parent() -> None:
    """In the child: SIGTERM when the benchmark dies, even killed (no finally runs then), so no
    redis-server outlives it (Linux's PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


@contextmanager
def redis_server() -> Iterator[tuple[str, int] | None]:
    """A throwaway redis-server on 127.0.0.1 (nothing persisted, in a temporary directory), stopped on
    exit: its URL and pid, or None when redis-server is not installed."""
    executable = shutil.which("redis-server")
    if executable is None:
        yield None
        return
    import redis

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        command = [executable, "--bind", "127.0.0.1", "--port", str(port), "--dir", tmp, "--save", ""]
        server = subprocess.Popen(
            [*command, "--appendonly", "no", "--logfile", str(Path(tmp) / "redis.log")], preexec_fn=_die_with_parent
        )
        url = f"redis://127.0.0.1:{port}/0"
        try:
            for _ in range(100):
                try:
                    redis.Redis.from_url(url, socket_timeout=1).ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            yield url, server.pid
        finally:
            server.terminate()
            server.wait(10)


def report(verdict: list[str], json_path: Path | None, **payload: object) -> None:
    """Print the verdict lines and, with ``json_path``, write them with ``payload`` for bench/run.py."""
    for line in verdict:
        print(line)
    if json_path:
        json_path.write_text(json.dumps({**payload, "targets": verdict}, indent=1))
