"""Settings come from the environment (and .env), with safe defaults, and fail loudly when malformed."""

from __future__ import annotations

import json
import stat

import pytest

from tests.conftest import run_manage, subprocess_env

SHOW = (
    "from django.conf import settings as s; import json; "
    "print(json.dumps({'debug': s.DEBUG, 'key': s.SECRET_KEY, 'hosts': s.ALLOWED_HOSTS, "
    "'data': str(s.LIQUIDATION_DATA_FILE), 'deadline': s.LIQUIDATION_HTTP_DEADLINE, "
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
        "LIQUIDATION_HTTP_DEADLINE=7\n"
    )
    env["LIQUIDATION_HTTP_DEADLINE"] = "9"
    got = show(env)
    assert got["source_url"] == "http://127.0.0.1:1/from-file"
    assert got["hosts"] == ["a.example", "b.example"]
    assert got["deadline"] == 9.0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJANGO_DEBUG", "maybe"),
        ("LIQUIDATION_HTTP_RETRIES", "three"),
        ("LIQUIDATION_HTTP_DEADLINE", "nan"),
        ("LIQUIDATION_HTTP_DEADLINE", "-1"),
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
