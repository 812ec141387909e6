"""PostgreSQL and process tools for bench/store_backends_bench.py: a durable throwaway server, psql, CPU time
of a process tree, the gunicorn master of a site, a JSON GET."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.pgserver import PgServer, _bin, pg_server


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # as tests/pgserver.py does


def psql(server: PgServer, database: str, sql: str) -> str:
    command = [_bin("psql"), "-h", server.host, "-p", str(server.port), "-U", "liqsite", "-d", database]
    return subprocess.run([*command, "-tAqc", sql], check=True, capture_output=True, text=True).stdout.strip()


@contextmanager
def durable_pg() -> Iterator[PgServer]:
    """``tests/pgserver.py``'s server, restarted with its test-only ``fsync=off`` and ``full_page_writes=off``
    dropped (PostgreSQL's defaults: a commit returns once its WAL is on disk)."""
    with pg_server() as server:
        options = f"-h {server.host} -p {server.port} -k {server.directory}"
        data, log = server.directory / "data", server.directory / "server.log"
        subprocess.run(
            [*_as_postgres(), _bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "restart"],
            check=True,
            capture_output=True,
        )
        yield server


# -- CPU time of a process tree (robust to a busy neighbour, unlike req/s) ----------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def tree_cpu(root: int) -> float:
    """CPU seconds used by ``root`` and all its descendants, living or reaped (a parent's cutime and
    cstime hold its reaped children's): gunicorn's master and workers, PostgreSQL's postmaster and backends."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            f = _stat(pid)
        except OSError:
            continue
        # utime, stime (fields 14, 15), plus cutime, cstime (16, 17) of the root only: a living child's
        # reaped children are counted in it, and the walk reaches every living descendant itself.
        total += int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if pid == root else 0)
        todo.extend(children.get(pid, []))
    return total / TICK


def gunicorn_master(base: str) -> int:
    """The pid of the gunicorn master serving ``base`` (its workers are its children)."""
    bind = base.removeprefix("http://")
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
                parent = int(_stat(int(entry.name))[1])
            except (OSError, ValueError, IndexError):
                continue
            if b"gunicorn" in b" ".join(args) and bind.encode() in args:
                found.append((int(entry.name), parent))
    pids = {pid for pid, _ in found}
    return next(pid for pid, parent in found if parent not in pids)


def get(base: str, path: str) -> tuple[dict, dict[str, str]]:
    request = urllib.request.Request(base + path, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read()), dict(response.headers)
