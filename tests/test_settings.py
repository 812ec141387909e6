"""Settings come from the environment (and .env), with safe defaults, and fail loudly when malformed."""

from __future__ import annotations

import json
import stat

import pytest

from tests.conftest import run_manage, subprocess_env

SHOW = (
    "from django.conf import settings as s; import json; "
    "print(json.dumps({'debug': s.DEBUG, 'key': s.SECRET_KEY, 'hosts': s.ALLOWED_HOSTS, "
    "'data': str(s.LIQUIDATION_DATA_FILE), 'stale': s.LIQUIDATION_STALE_SECONDS, "
    "'deadline': s.LIQUIDATION_HTTP_DEADLINE, 'retry_after_max': s.LIQUIDATION_HTTP_RETRY_AFTER_MAX, "
    "'ssl': getattr(s, 'SECURE_SSL_REDIRECT', False), 'source_url': s.LIQUIDATION_SOURCE_URL}))"
)


def show(env: dict[str, str]) -> dict:
    out = run_manage(env, "shell", "-c", SHOW)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_defaults_are_safe(tmp_path):
    env = subprocess_env(tmp_path)
    del env["DJANGO_SECRET_KEY"]
    del env["LIQUIDATION_DATA_FILE"]
    got = show(env)
    assert got["debug"] is False
    assert got["hosts"] == ["127.0.0.1", "localhost"]
    assert got["ssl"] is False
    assert got["data"] == str(tmp_path / "data" / "liquidation_1h" / "liquidation_1h.jsonl")


def test_secret_key_is_generated_once_with_mode_0600_and_reused(tmp_path):
    env = subprocess_env(tmp_path)
    del env["DJANGO_SECRET_KEY"]
    first = show(env)["key"]
    key_file = tmp_path / "data" / ".secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == first
    assert len(first) >= 50
    assert show(env)["key"] == first


def test_env_file_is_read_and_real_environment_wins(tmp_path):
    env = subprocess_env(tmp_path)
    (tmp_path / "test.env").write_text(
        "LIQUIDATION_SOURCE_URL=http://127.0.0.1:1/from-file\nDJANGO_ALLOWED_HOSTS=a.example,b.example\n"
        "LIQUIDATION_STALE_SECONDS=70\n"
    )
    env["LIQUIDATION_STALE_SECONDS"] = "90"
    got = show(env)
    assert got["source_url"] == "http://127.0.0.1:1/from-file"
    assert got["hosts"] == ["a.example", "b.example"]
    assert got["stale"] == 90


def test_http_limits_are_the_policys_defaults_or_the_files(tmp_path):
    from liquidation.http import HttpPolicy

    env = subprocess_env(tmp_path)
    env.pop("LIQUIDATION_HTTP_FILE")
    got = show(env)
    assert (got["deadline"], got["retry_after_max"]) == (HttpPolicy.deadline, HttpPolicy.retry_after_max)
    (tmp_path / "limits.json").write_text('{"deadline": 12.5, "retries": 0}')
    assert show({**env, "LIQUIDATION_HTTP_FILE": str(tmp_path / "limits.json")})["deadline"] == 12.5


@pytest.mark.parametrize(
    ("content", "named"),
    [('{"deadlin": 3}', "unknown key 'deadlin'"), ('{"retries": 2.5}', "retries must be"), ("[1]", "JSON object")],
)
def test_a_malformed_http_file_stops_start_up_naming_the_key(tmp_path, content, named):
    (tmp_path / "limits.json").write_text(content)
    out = run_manage(subprocess_env(tmp_path, LIQUIDATION_HTTP_FILE=str(tmp_path / "limits.json")), "check")
    assert out.returncode != 0 and "LIQUIDATION_HTTP_FILE=" in out.stderr and named in out.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJANGO_DEBUG", "maybe"),
        ("LIQUIDATION_STALE_SECONDS", "three"),
        ("LIQUIDATION_STREAM_SILENCE_SECONDS", "nan"),
        ("LIQUIDATION_STALE_SECONDS", "-1"),
        ("LIQUIDATION_SOURCE", "binance"),
    ],
)
def test_malformed_values_fail_loudly_naming_the_variable(tmp_path, name, value):
    env = subprocess_env(tmp_path, **{name: value})
    out = run_manage(env, "check")
    assert out.returncode != 0
    assert "ImproperlyConfigured" in out.stderr
    assert f"{name}=" in out.stderr


def test_missing_env_file_named_explicitly_is_an_error(tmp_path):
    env = subprocess_env(tmp_path, LIQSITE_ENV_FILE=str(tmp_path / "nope.env"))
    out = run_manage(env, "check")
    assert out.returncode != 0
    assert "LIQSITE_ENV_FILE" in out.stderr


def test_check_deploy_is_clean_over_https_with_a_real_key(tmp_path):
    env = subprocess_env(tmp_path, DJANGO_HTTPS="1")
    del env["DJANGO_SECRET_KEY"]  # the generated one is a real key
    out = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert out.returncode == 0, out.stderr
    assert "no issues" in out.stdout


def test_check_deploy_warns_when_https_is_off(tmp_path):
    env = subprocess_env(tmp_path)
    out = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert out.returncode != 0
    assert "SECURE_SSL_REDIRECT" in out.stderr
