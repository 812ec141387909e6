"""django-crontab: one line per project, and that line works under ``env -i`` as cron runs it.

The crontab program is ``tests/tools/crontab`` (``LIQSITE_CRONTAB``), which keeps the table in a file of the
test's temporary folder: the suite never touches the machine's cron spool, even when killed mid-test.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT, run_manage, subprocess_env
from tests.upstream_server import Reply

COMMENT = f"# liqsite collector {PROJECT}"


CRONTAB = PROJECT / "tests" / "tools" / "crontab"


@pytest.fixture
def table(tmp_path) -> Path:
    """The file the stand-in crontab keeps the table in (none yet)."""
    return tmp_path / "crontab.table"


def crontab_lines(table: Path) -> list[str]:
    out = subprocess.run([str(CRONTAB), "-l"], capture_output=True, text=True, env={"FAKE_CRONTAB_FILE": str(table)})
    return out.stdout.splitlines() if out.returncode == 0 else []


def ours(lines: list[str]) -> list[str]:
    return [line for line in lines if line.endswith(COMMENT)]


def env_for(tmp_path, env_file, table: Path) -> dict[str, str]:
    """Like cron, configured by the env file alone: nothing it sets may come from the shell (but the
    stand-in crontab and its table, which only `manage.py crontab` uses)."""
    env = subprocess_env(tmp_path, LIQSITE_ENV_FILE=str(env_file), LIQSITE_CRONTAB=str(CRONTAB))
    env["FAKE_CRONTAB_FILE"] = str(table)
    for line in env_file.read_text().splitlines():
        env.pop(line.split("=", 1)[0], None)
    for name in ("LIQUIDATION_DATA_FILE", "LIQSITE_LOG_DIR", "LIQSITE_DATA_DIR"):
        env.pop(name, None)
    return env


def manage_crontab(env: dict[str, str], action: str) -> subprocess.CompletedProcess:
    out = run_manage(env, "crontab", action)
    assert out.returncode == 0, out.stderr
    return out


def test_crontab_add_twice_leaves_one_line_that_works_under_env_i(table, tmp_path, upstream, fixture_path):
    url = upstream.route("/api/panic/latest", Reply.file(fixture_path("upstream/panic-api/latest-flat.json")))
    data_file = tmp_path / "cron-data" / "liquidation_1h.jsonl"
    env_file = tmp_path / "cron.env"
    env_file.write_text(
        "\n".join(
            [
                f"LIQUIDATION_SOURCE_URL={url}",
                f"LIQUIDATION_DATA_FILE={data_file}",
                f"LIQUIDATION_LAST_RUN_FILE={tmp_path / 'cron-data' / 'last_run.json'}",
                f"LIQSITE_LOG_DIR={tmp_path / 'cron-logs'}",
                f"LIQSITE_DATA_DIR={tmp_path / 'cron-data'}",
                "DJANGO_SECRET_KEY=" + "cron-test-key-" + "x1y2z3" * 8,
            ]
        )
        + "\n"
    )
    # A line some other program put there must survive add and remove.
    foreign = "17 3 * * * /usr/bin/true # somebody else's job"
    table.write_text(foreign + "\n")

    env = env_for(tmp_path, env_file, table)
    manage_crontab(env, "add")
    manage_crontab(env, "add")
    lines = crontab_lines(table)
    assert len(ours(lines)) == 1, lines
    assert foreign in lines
    line = ours(lines)[0]
    assert line.startswith("* * * * * ")
    assert f"LIQSITE_ENV_FILE={env_file}" in line
    assert f">> {tmp_path / 'cron-logs' / 'cron.log'} 2>&1" in line

    # Run the job's command exactly as cron would: /bin/sh, an empty environment, $HOME elsewhere.
    command = re.match(r"^(?:\S+\s+){5}(.*?)\s*# .*$", line).group(1)
    ran = subprocess.run(["env", "-i", "/bin/sh", "-c", command], cwd="/", capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    records = data_file.read_text().splitlines()
    assert len(records) == 1
    assert json.loads(records[0])["hour_1_amount"] == 397.14
    assert "appended" in (tmp_path / "cron-logs" / "cron.log").read_text()
    last = json.loads((tmp_path / "cron-data" / "last_run.json").read_text())
    assert last["outcome"] == "ok"

    shown = manage_crontab(env, "show")
    assert "collect_liquidation" in shown.stdout

    manage_crontab(env, "remove")
    lines = crontab_lines(table)
    assert ours(lines) == []
    assert foreign in lines


def test_a_failing_cron_run_leaves_a_trace_in_last_run_and_the_log(table, tmp_path, upstream):
    url = upstream.route("/api/panic/latest", Reply(500, b"down"))
    env_file = tmp_path / "cron.env"
    env_file.write_text(
        f"LIQUIDATION_SOURCE_URL={url}\nLIQSITE_DATA_DIR={tmp_path / 'd'}\nLIQSITE_LOG_DIR={tmp_path / 'l'}\n"
        f"LIQUIDATION_HTTP_FILE={tmp_path / 'http.json'}\nDJANGO_SECRET_KEY={'fail-test-key-' + 'a1b2c3' * 8}\n"
    )
    env = env_for(tmp_path, env_file, table)
    manage_crontab(env, "add")
    command = re.match(r"^(?:\S+\s+){5}(.*?)\s*# .*$", ours(crontab_lines(table))[0]).group(1)
    ran = subprocess.run(["env", "-i", "/bin/sh", "-c", command], cwd="/", capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0  # django-crontab's runner always exits 0: hence last_run.json
    last = json.loads((tmp_path / "d" / "last_run.json").read_text())
    assert last["outcome"] == "error"
    assert "HTTP 500" in last["error"]
    assert "HTTP 500" in (tmp_path / "l" / "cron.log").read_text()
    assert not (tmp_path / "d" / "liquidation_1h" / "liquidation_1h.jsonl").exists()
    manage_crontab(env, "remove")
