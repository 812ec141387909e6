"""Secrets stay secret: with every credential the project knows configured and every upstream and
alert service failing, no log line, command output or public answer carries any of them."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from liquidation.http import public_error, redact_text, redact_url
from liquidation.logfiles import RedactSecrets
from tests.upstream_server import Reply

SECRETS = {
    "source_token": "SRCTOKEN-4f9a2c",
    "source_password": "PASSWORD-9b1e77",
    "telegram": "987654:TGSECRET-aa11bb22",
    "feishu_hook": "FEISHU-HOOK-7c6d5e",
    "wecom_key": "WECOM-KEY-3e2d1c",
    "dingtalk_token": "DING-TOKEN-0f9e8d",
    "dingtalk_secret": "SECding-5a4b3c",
    "feishu_secret": "feishu-sign-6d7e8f",
    "webhook_secret": "hook-hmac-1a2b3c",
    "metrics_token": "METRICS-TOKEN-2b3c4d",
    "coinglass": "cg-api-key-8e9f0a",
}


@pytest.fixture
def everything_configured_and_failing(liq_settings, upstream, tmp_path):
    s = liq_settings
    port = upstream.port
    upstream.route("/api/panic/latest", Reply(302, headers={"Location": f"http://127.0.0.1:{port}/x?token=abc"}))
    s.LIQUIDATION_SOURCE_URL = (
        f"http://user:{SECRETS['source_password']}@127.0.0.1:{port}/api/panic/latest?token={SECRETS['source_token']}"
    )
    upstream.route(f"/bot{SECRETS['telegram']}/sendMessage", Reply(500, body=b'{"ok": false}'))
    s.ALERT_TELEGRAM_API_URL = f"http://127.0.0.1:{port}"
    s.ALERT_TELEGRAM_BOT_TOKEN = SECRETS["telegram"]
    s.ALERT_TELEGRAM_CHAT_ID = "42"
    upstream.route(f"/open-apis/bot/v2/hook/{SECRETS['feishu_hook']}", Reply(200, body=b'{"code": 19021}'))
    s.ALERT_FEISHU_WEBHOOK = f"http://127.0.0.1:{port}/open-apis/bot/v2/hook/{SECRETS['feishu_hook']}"
    s.ALERT_FEISHU_SECRET = SECRETS["feishu_secret"]
    upstream.route("/cgi-bin/webhook/send", Reply(200, body=b'{"errcode": 93000}'))
    s.ALERT_WECOM_WEBHOOK = f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key={SECRETS['wecom_key']}"
    upstream.route("/robot/send", Reply(302, headers={"Location": "http://[::1/x"}))
    s.ALERT_DINGTALK_WEBHOOK = f"http://127.0.0.1:{port}/robot/send?access_token={SECRETS['dingtalk_token']}"
    s.ALERT_DINGTALK_SECRET = SECRETS["dingtalk_secret"]
    s.ALERT_WEBHOOK_URL = "http://127.0.0.1:9/hook"  # refused
    s.ALERT_WEBHOOK_SECRET = SECRETS["webhook_secret"]
    s.LIQUIDATION_METRICS_TOKEN = SECRETS["metrics_token"]
    s.LIQUIDATION_ALERT_STATE_FILE = tmp_path / "alerts.json"
    s.LIQUIDATION_API_RATE = None
    return s


def test_no_log_line_output_or_public_answer_carries_a_configured_secret(everything_configured_and_failing, caplog):
    s = everything_configured_and_failing
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for logger in ("liquidation", "django.request"):
            logging.getLogger(logger).addHandler(caplog.handler)
        try:
            out, err = StringIO(), StringIO()
            with pytest.raises(CommandError) as e:
                call_command("collect_liquidation", stdout=out, stderr=err)
            seen += [str(e.value), out.getvalue(), err.getvalue()]
            out = StringIO()
            with pytest.raises(CommandError) as e:
                call_command("test_alert", stdout=out, stderr=StringIO())
            seen += [str(e.value), out.getvalue()]
            assert out.getvalue().count("FAILED") == 5  # every channel tried, every one failed
            client = APIClient()
            for url in (
                "/healthz",
                "/api/liquidation-1h/status?format=json",
                "/api/liquidation-1h/latest?format=json",
                "/api/liquidation-1h/history?format=json",
                "/metrics",
            ):
                seen.append(client.get(url).content.decode())
            authorized = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {SECRETS['metrics_token']}")
            assert authorized.status_code == 200
            assert b"liqsite_source_info" in authorized.content  # the redacted URL, behind the token
            seen.append(authorized.content.decode())
        finally:
            for logger in ("liquidation", "django.request"):
                logging.getLogger(logger).removeHandler(caplog.handler)
    seen += [r.getMessage() for r in caplog.records]
    seen += [caplog.text]
    for path in (s.LOG_DIR / "collector.log", s.LIQUIDATION_LAST_RUN_FILE, s.LIQUIDATION_ALERT_STATE_FILE):
        if path.exists():
            seen.append(path.read_text())
    text = "\n".join(seen)
    assert "collect outcome=error" in text and "alert to" in text  # the failures were logged
    leaked = [name for name, secret in SECRETS.items() if secret in text]
    assert leaked == []


@pytest.mark.parametrize(
    "url, secret",
    [
        ("https://api.telegram.org/bot123456:AAH-x_y/sendMessage", "123456:AAH-x_y"),
        ("https://open.feishu.cn/open-apis/bot/v2/hook/0a1b-2c3d", "0a1b-2c3d"),
        ("https://open.larksuite.com/open-apis/bot/v2/hook/0a1b-2c3d?x=1", "0a1b-2c3d"),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wk-123", "wk-123"),
        ("https://oapi.dingtalk.com/robot/send?access_token=dt-1&timestamp=1&sign=s1g", "dt-1"),
        ("https://oapi.dingtalk.com/robot/send?access_token=dt-1&timestamp=1&sign=s1g", "s1g"),
        ("https://discord.com/api/webhooks/1234/tok-en", "tok-en"),
        ("https://hooks.slack.com/services/T000/B000/XXXXsecret", "XXXXsecret"),
        ("https://user:pw-secret@example.com/x", "pw-secret"),
        ("https://x.example/a?apiKey=k1&client_secret=k2&password=k3&jwt=k4&session=k5", "k1"),
        ("https://x.example/a?apiKey=k1&client_secret=k2&password=k3&jwt=k4&session=k5", "k5"),
        ("https://x.example/a?X-Amz-Credential=c1&X-Amz-Signature=c2", "c1"),
        ("https://x.example/v1/9f8e7d6c5b4a39281706f5e4d3c2b1a0/data", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
        ("https://x.example/a#access_token=frag", "frag"),
    ],
)
def test_redaction_covers_every_credential_shape(url, secret):
    assert secret not in redact_url(url)
    assert secret not in redact_text(f"failed: {url} (Caused by x)")
    assert "://" not in public_error(f"failed: {url}")


def test_exchange_urls_stay_readable_after_redaction():
    url = "https://fapi.binance.com/fapi/v1/openInterest?symbol=BTCUSDT"
    assert redact_url(url) == url


def test_the_log_filter_scrubs_configured_secrets_and_urls_in_tracebacks():
    f = RedactSecrets(["plain-secret-value"])
    try:
        raise ValueError("bad https://h/x?token=t0k3n and plain-secret-value")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "saw %s", ("plain-secret-value",), sys.exc_info())
    f.filter(record)
    rendered = logging.Formatter().format(record)
    assert "plain-secret-value" not in rendered and "t0k3n" not in rendered
    assert "saw ***" in rendered
