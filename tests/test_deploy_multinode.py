"""deploy/multi-node/ on loopback: the units' own ExecStart commands and the example's env file, pointed at a
throwaway PostgreSQL and Redis, a venue REST server and a websocket server: two web nodes, two collectors,
two listeners. Then what the README promises of it."""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT, free_port, subprocess_env
from tests.streamtools import BINANCE_PATH, binance_frame
from tests.upstream_server import wait_for

DEPLOY = PROJECT / "deploy"
UNITS = {
    "web": DEPLOY / "multi-node" / "liqsite-web.service",
    "collector": DEPLOY / "liqsite-collector.service",
    "listener": DEPLOY / "liqsite-streams.service",
}
FRAMES = 400


def exec_start(unit: Path, port: int | None = None) -> list[str]:
    """The unit's ExecStart as argv, run from this checkout instead of /opt/liqsite (and on ``port``)."""
    line = next(x for x in unit.read_text().splitlines() if x.startswith("ExecStart="))
    argv = shlex.split(line.removeprefix("ExecStart="))
    assert argv[0] == "/opt/liqsite/.venv/bin/python", argv
    argv[0] = sys.executable
    if port is not None:
        argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    return argv


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return dict(pairs)


def get(base: str, path: str) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, headers={"Accept": "application/json", "Host": "liq.example.com"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, {}
    except urllib.error.URLError:
        return 0, {}  # not listening yet


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize("name", sorted(UNITS))
def test_the_units_are_valid_systemd_units(name, tmp_path):
    text = UNITS[name].read_text().replace("/opt/liqsite/.venv/bin/python", sys.executable)
    unit = tmp_path / UNITS[name].name
    unit.write_text(text.replace("/opt/liqsite", str(PROJECT)))
    checked = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert checked.returncode == 0 and not checked.stderr.strip(), checked.stderr


def test_two_web_nodes_two_collectors_two_listeners_share_one_store(
    tmp_path,
    pg_store,
    pg_url,
    redis_url,
    venues,
):
    from tests.ws_server import WsServer

    base_ms = int(time.time() * 1000) - 30_000

    async def feed(conn, n):  # every listener gets the same orders
        for i in range(FRAMES):
            await conn.send(binance_frame("BTCUSDT", "SELL", "0.01", str(90000 + i), base_ms + i))
        await asyncio.sleep(120)

    ws = WsServer().start()
    ws.route(BINANCE_PATH, feed)
    example = env_file(DEPLOY / "multi-node" / "liqsite.env.example")
    assert example["LIQUIDATION_STORE"] == "postgresql" and {"DATABASE_URL", "REDIS_URL"} <= set(example)
    env = subprocess_env(
        tmp_path,
        **{
            **example,
            "DATABASE_URL": pg_url,
            "REDIS_URL": redis_url,
            "DJANGO_HTTPS": "0",  # plain HTTP on loopback; the example's proxy settings stay
            "LIQUIDATION_API_RATE": "40/min",
            "LIQUIDATION_EXCHANGES": "binance,gate",
            "EXCHANGE_BINANCE_WS_URL": ws.url(),
            "EXCHANGE_BINANCE_REST_URL": venues["rest"],
            "EXCHANGE_GATE_REST_URL": venues["rest"],
        },
    )
    children: dict[str, subprocess.Popen] = {}

    def start(name: str, argv: list[str]) -> None:
        log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        children[name] = subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT)

    from liquidation.pgevents import PgEventStore
    from liquidation.pgstore import PgStateStore
    from liquidation.sharedfiles import read_last_run

    events, state = PgEventStore(using=pg_store.using), PgStateStore(using=pg_store.using)
    ports = [free_port(), free_port()]
    try:
        for i in (1, 2):
            start(f"listener-{i}", exec_start(UNITS["listener"]))
        assert wait_for(lambda: events.count() >= FRAMES, timeout=40), events.count()
        assert wait_for(lambda: state.read("streams").get("venues", {}).get("binance", {}).get("connected"), 20)
        for i in (1, 2):
            start(f"collector-{i}", exec_start(UNITS["collector"]))
        for i, port in enumerate(ports, 1):
            start(f"web-{i}", exec_start(UNITS["web"], port))
        webs = [f"http://127.0.0.1:{port}" for port in ports]
        assert wait_for(lambda: all(get(w, "/healthz")[0] == 200 for w in webs), timeout=60)
        assert wait_for(lambda: sum(n for *_, n in (read_last_run(state) or {}).get("counts", [])) >= 2, 30)

        time.sleep(1.5)  # both listeners have flushed and written their status since
        assert events.count() == FRAMES  # two listeners, each order once
        run = read_last_run(state)
        ok = sum(n for outcome, _, n in run["counts"] if outcome == "ok")
        assert pg_store.count() == ok >= 1  # two collectors: one row per minute, whichever wrote it

        latest = [get(w, "/api/liquidation-1h/latest")[1] for w in webs]
        for answer in latest:
            answer.pop("age_seconds")
        assert latest[0] == latest[1] and latest[0]["source"] == "exchanges"
        tape = [get(w, "/api/liquidation-1h/tape?limit=20")[1] for w in webs]
        assert tape[0] == tape[1] and tape[0]["count"] == 20
        assert tape[0]["results"][0]["ts_ms"] == base_ms + FRAMES - 1
        status = get(webs[1], "/api/liquidation-1h/status")[1]
        assert status["last_run"]["outcome"] in ("ok", "duplicate") and "binance" in json.dumps(status)

        codes = [get(webs[i % 2], "/api/liquidation-1h/latest")[0] for i in range(60)]
        assert codes.count(429) >= 15  # 40 a minute for the client, counted across both nodes in Redis
    finally:
        for child in children.values():
            child.send_signal(signal.SIGTERM)
        codes = {name: child.wait(timeout=60) for name, child in children.items()}
        ws.stop()
    logs = {name: (tmp_path / f"{name}.log").read_text()[-2000:] for name in children}
    assert all(code == 0 for name, code in codes.items() if not name.startswith("web")), (codes, logs)
    assert not list((tmp_path / "data").glob("**/*.jsonl"))  # nothing in the files: all in PostgreSQL
