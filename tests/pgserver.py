"""A throwaway PostgreSQL server on 127.0.0.1 for the tests: ``initdb`` into a temporary directory, ``pg_ctl``
start on a free port, trust authentication for one user, stopped and deleted at the end. Debian's
``postgresql`` package provides the binaries (scripts/test installs it). PostgreSQL refuses to run as
root, so under root the server runs as the package's ``postgres`` user (``runuser``).

pytest-postgresql does the same for a non-root user, but has no way to drop root, which is what CI and
this machine run as; this module is the few lines that add it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

USER = "liqsite"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise RuntimeError(f"{name} is missing: apt-get install postgresql (./scripts/test does it)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    host: str
    port: int
    directory: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgres://{USER}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        subprocess.run(
            [
                _bin("psql"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                "postgres",
                "-qc",
                f'CREATE DATABASE "{name}"',
            ],
            check=True,
            capture_output=True,
        )
        return self.url(name)


@contextmanager
def pg_server() -> Iterator[PgServer]:
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    directory = Path(tempfile.mkdtemp(prefix="liqsite-pg-"))
    data = directory / "data"
    if as_root:
        shutil.chown(directory, "postgres")
    port = _free_port()
    log = directory / "server.log"
    subprocess.run(
        [*prefix, _bin("initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-h 127.0.0.1 -p {port} -k {directory} -c fsync=off -c full_page_writes=off"
    subprocess.run(
        [*prefix, _bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        server = PgServer("127.0.0.1", port, directory)
        deadline = time.monotonic() + 20
        while subprocess.run([_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield server
    finally:
        subprocess.run([*prefix, _bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)
