"""Alerts: firing, hysteresis, cooldown, recovery, restarts, every channel's request and signature
(checked by a local server the way each real service checks it), and a dead channel never breaking
a collection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from liquidation.alerts import AlertConfig, Rule, evaluate, message, run_alerts
from liquidation.channels import DingTalk, Feishu, Telegram, Webhook, WeCom
from liquidation.records import build_record
from tests.upstream_server import Reply

NOW = int(time.time()) // 60 * 60
DING_SECRET = "SECdingtalk-test-secret"
FEISHU_SECRET = "feishu-test-secret"
HOOK_SECRET = "webhook-secret"
TG_TOKEN = "123456:ABC-test"


def rec(ts: int, h1: float, panic: float = 0.05) -> dict:
    return build_record(ts, {"hour_1_amount": h1, "panic_index": panic, "hour_24_amount": 9000, "total_position": 1000})


def config(tmp_path, rules, channels=()) -> AlertConfig:
    return AlertConfig(
        rules=list(rules), channels=list(channels), state_file=tmp_path / "alerts.json", site_url="https://liq.example"
    )


H1 = Rule("h1", "h1_threshold", fire=10000, clear=8000, cooldown=600)


def test_fires_once_then_stays_quiet_until_it_clears_then_recovers(tmp_path, store):
    cfg = config(tmp_path, [H1])
    store.append(rec(NOW - 180, 5000))
    assert evaluate(cfg, store, NOW - 180) == []
    store.append(rec(NOW - 120, 12000))
    fired = evaluate(cfg, store, NOW - 120)
    assert [(e.kind, e.value) for e in fired] == [("fired", 12000)]
    store.append(rec(NOW - 60, 9000))  # below fire, above clear: hysteresis, still firing, quiet
    assert evaluate(cfg, store, NOW - 60) == []
    store.append(rec(NOW, 7000))
    assert [e.kind for e in evaluate(cfg, store, NOW)] == ["recovered"]


def test_cooldown_keeps_a_quick_second_firing_quiet_and_its_recovery_too(tmp_path, store):
    cfg = config(tmp_path, [H1])
    for i, (h1, want) in enumerate([(12000, ["fired"]), (7000, ["recovered"]), (12000, []), (7000, []), (12000, [])]):
        store.append(rec(NOW - 3000 + 60 * i, h1))
        assert [e.kind for e in evaluate(cfg, store, NOW - 3000 + 60 * i)] == want, i
    store.append(rec(NOW, 7000))
    evaluate(cfg, store, NOW)
    store.append(rec(NOW + 60, 13000))  # 600 s after the first firing: allowed again
    assert [e.kind for e in evaluate(cfg, store, NOW + 60)] == ["fired"]


def test_a_restart_neither_sends_again_nor_forgets(tmp_path, store):
    store.append(rec(NOW - 60, 12000))
    assert len(evaluate(config(tmp_path, [H1]), store, NOW - 60)) == 1
    assert evaluate(config(tmp_path, [H1]), store, NOW - 60) == []  # a new process, the same state file
    store.append(rec(NOW, 1000))
    assert [e.kind for e in evaluate(config(tmp_path, [H1]), store, NOW)] == ["recovered"]


def test_spike_against_the_trailing_median_and_panic_and_no_data(tmp_path, store):
    for i in range(120):
        store.append(rec(NOW - 7200 + 60 * i, 1000 + (i % 3)))
    store.append(rec(NOW, 5000, panic=0.3))
    rules = [
        Rule("spike", "spike", fire=3, clear=1.5, hours=2),
        Rule("panic", "panic_threshold", fire=0.2, clear=0.15),
        Rule("stale", "no_data", fire=180, clear=180),
    ]
    events = evaluate(config(tmp_path, rules), store, NOW + 30)
    assert sorted(e.rule.name for e in events) == ["panic", "spike"]
    spike = next(e for e in events if e.rule.name == "spike")
    assert spike.value == pytest.approx(5000 / 1001)
    later = evaluate(config(tmp_path, rules), store, NOW + 600)
    assert [(e.rule.name, e.kind) for e in later] == [("stale", "fired")]


def test_the_message_is_chinese_with_amounts_as_on_the_page(tmp_path, store):
    store.append(rec(NOW, 13600))
    cfg = config(tmp_path, [H1, Rule("panic", "panic_threshold", fire=0.04, clear=0.03)])
    text = message(cfg, evaluate(cfg, store, NOW), NOW)
    assert text.splitlines()[0] == "💥 爆仓告警 (liqsite)"
    assert "⚠️ 1小时爆仓金额 $1.36亿，达到阈值 $1.00亿 [h1]" in text
    assert "恐慌指数 0.05，达到阈值 0.04 [panic]" in text
    assert "（北京时间）" in text
    assert text.endswith("查看：https://liq.example/panic")
    english = AlertConfig(cfg.rules, [], tmp_path / "x.json", lang="en")
    assert "1h liquidations $136.00M, at or above $100.00M" in message(english, evaluate(english, store, NOW), NOW)


# -- channels against local servers that check what the real services check ---------------------------


@pytest.fixture
def services(upstream):
    def dingtalk(query, body):
        ts, sign = int(query["timestamp"][0]), query["sign"][0]
        string = f"{ts}\n{DING_SECRET}".encode()
        want = base64.b64encode(hmac.new(DING_SECRET.encode(), string, hashlib.sha256).digest()).decode()
        if abs(time.time() * 1000 - ts) > 3600_000 or sign != want:  # parse_qs already URL-decoded it
            return Reply(200, b'{"errcode": 310000, "errmsg": "sign not match"}')
        msg = json.loads(body)
        ok = msg["msgtype"] == "text" and msg["text"]["content"]
        return Reply(200, b'{"errcode": 0, "errmsg": "ok"}' if ok else b'{"errcode": 40035, "errmsg": "bad"}')

    def feishu(query, body):
        msg = json.loads(body)
        key = f"{msg['timestamp']}\n{FEISHU_SECRET}".encode()
        want = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        if msg.get("sign") != want or abs(time.time() - int(msg["timestamp"])) > 3600:
            return Reply(
                200, json.dumps({"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}).encode()
            )
        ok = msg["msg_type"] == "text" and msg["content"]["text"]
        return Reply(200, b'{"code": 0, "msg": "success", "data": {}}' if ok else b'{"code": 9499, "msg": "bad"}')

    def telegram(query, body):
        msg = json.loads(body)
        if msg.get("chat_id") != "-1001" or not msg.get("text"):
            return Reply(400, b'{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}')
        return Reply(200, b'{"ok": true, "result": {"message_id": 7}}')

    def wecom(query, body):
        msg = json.loads(body)
        if query.get("key") != ["wecom-key"] or msg["msgtype"] != "text":
            return Reply(200, b'{"errcode": 93000, "errmsg": "invalid webhook url"}')
        return Reply(200, b'{"errcode": 0, "errmsg": "ok"}')

    def webhook(query, body):
        return Reply(204, b"")

    upstream.route_fn("/robot/send", dingtalk)
    upstream.route_fn("/open-apis/bot/v2/hook/abc", feishu)
    upstream.route_fn(f"/bot{TG_TOKEN}/sendMessage", telegram)
    upstream.route_fn("/cgi-bin/webhook/send", wecom)
    upstream.route_fn("/hook", webhook)
    return upstream


@pytest.fixture
def channels(services):
    u = services.url
    return [
        DingTalk(u("/robot/send?access_token=tok"), DING_SECRET),
        Feishu(u("/open-apis/bot/v2/hook/abc"), FEISHU_SECRET),
        Telegram(u(f"/bot{TG_TOKEN}/sendMessage"), chat_id="-1001"),
        WeCom(u("/cgi-bin/webhook/send?key=wecom-key")),
        Webhook(u("/hook"), HOOK_SECRET),
    ]


def test_every_channel_is_accepted_with_its_signature(tmp_path, store, services, channels):
    store.append(rec(NOW, 12000))
    outcome = run_alerts(config(tmp_path, [H1], channels), store, NOW)
    assert outcome["events"] == 1
    assert outcome["sent"] == {c.name: "ok" for c in channels}
    hook = next(r for r in services.requests if r.path == "/hook")
    want = "sha256=" + hmac.new(HOOK_SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["X-Liqsite-Signature"] == want
    assert "1小时爆仓金额 $1.20亿" in json.loads(hook.body)["text"]
    state = json.loads((tmp_path / "alerts.json").read_text())
    assert state["outbox"] == {c.name: [] for c in channels}
    assert state["sends"]["ok"]["dingtalk"] == 1


def test_a_wrong_secret_is_refused_as_the_service_would_and_retried_next_time(tmp_path, store, services, channels):
    bad = [DingTalk(channels[0].url, "SECwrong"), Feishu(channels[1].url, "wrong")]
    store.append(rec(NOW, 12000))
    outcome = run_alerts(config(tmp_path, [H1], bad), store, NOW)
    assert "sign not match" in outcome["sent"]["dingtalk"]
    assert "19021" in outcome["sent"]["feishu"]
    state = json.loads((tmp_path / "alerts.json").read_text())
    assert [item["attempts"] for item in state["outbox"]["dingtalk"]] == [1]
    fixed = config(tmp_path, [H1], channels[:2])
    again = run_alerts(fixed, store, NOW + 60)  # no new event: the queued message goes out now
    assert again["events"] == 0
    assert again["sent"] == {"dingtalk": "ok", "feishu": "ok"}


def test_several_alerts_in_one_minute_are_one_message_per_channel(tmp_path, store, services, channels):
    store.append(rec(NOW, 12000, panic=0.5))
    rules = [H1, Rule("panic", "panic_threshold", fire=0.2, clear=0.1)]
    run_alerts(config(tmp_path, rules, channels[4:]), store, NOW)
    hooks = [r for r in services.requests if r.path == "/hook"]
    assert len(hooks) == 1
    text = json.loads(hooks[0].body)["text"]
    assert "[h1]" in text
    assert "[panic]" in text


def test_a_dead_channel_cannot_break_or_delay_a_collection(liq_settings, store, upstream, fixture_path):
    url = upstream.route("/api/panic/latest", Reply.file(fixture_path("upstream/panic-api/latest-flat.json")))
    liq_settings.LIQUIDATION_SOURCE_URL = url
    liq_settings.ALERT_H1_THRESHOLD = 100.0  # 397.14 fires
    liq_settings.ALERT_WEBHOOK_URL = "http://127.0.0.1:9/hook"  # nothing listens
    liq_settings.LIQUIDATION_ALERT_STATE_FILE = liq_settings.LIQUIDATION_LAST_RUN_FILE.with_name("alerts.json")
    started = time.monotonic()
    call_command("collect_liquidation", stdout=StringIO(), stderr=StringIO())
    assert time.monotonic() - started < 5
    assert store.count() == 1
    state = json.loads(liq_settings.LIQUIDATION_ALERT_STATE_FILE.read_text())
    assert len(state["outbox"]["webhook"]) == 1  # kept for the next minute
    assert state["sends"] == {"error": {"webhook": 1}}


def test_retries_are_bounded(tmp_path, store):
    dead = [Webhook("http://127.0.0.1:9/x")]
    store.append(rec(NOW, 12000))
    cfg = config(tmp_path, [H1], dead)
    for i in range(8):
        run_alerts(cfg, store, NOW + 60 * i)
    state = json.loads((tmp_path / "alerts.json").read_text())
    assert state["outbox"]["webhook"] == []
    assert state["sends"]["error"]["webhook"] == 5


def test_test_alert_command_reports_each_channel(liq_settings, services):
    liq_settings.ALERT_DINGTALK_WEBHOOK = services.url("/robot/send?access_token=tok")
    liq_settings.ALERT_DINGTALK_SECRET = DING_SECRET
    liq_settings.ALERT_FEISHU_WEBHOOK = services.url("/open-apis/bot/v2/hook/abc")
    liq_settings.ALERT_FEISHU_SECRET = FEISHU_SECRET
    liq_settings.ALERT_TELEGRAM_BOT_TOKEN = TG_TOKEN
    liq_settings.ALERT_TELEGRAM_CHAT_ID = "-1001"
    liq_settings.ALERT_TELEGRAM_API_URL = services.url("")
    liq_settings.ALERT_WECOM_WEBHOOK = services.url("/cgi-bin/webhook/send?key=wecom-key")
    liq_settings.ALERT_WEBHOOK_URL = services.url("/hook")
    out, err = StringIO(), StringIO()
    call_command("test_alert", stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["webhook", "telegram", "dingtalk", "feishu", "wecom"]
    assert all(line.endswith(": ok") for line in lines), lines
    assert TG_TOKEN not in out.getvalue() and "wecom-key" not in out.getvalue()  # each URL redacted
    assert err.getvalue().count("deprecated:") == 1 and "ALERT_URLS" in err.getvalue()
    liq_settings.ALERT_WECOM_WEBHOOK = services.url("/cgi-bin/webhook/send?key=wrong")
    with pytest.raises(CommandError, match="1 of 1 channel"):
        call_command("test_alert", "--channel", "wecom", stdout=StringIO())


def test_test_alert_without_channels_says_what_to_set(liq_settings):
    with pytest.raises(CommandError, match="ALERT_URLS"):
        call_command("test_alert", stdout=StringIO())


def test_dingtalk_signature_matches_the_documented_recipe():
    from liquidation.channels import dingtalk_sign, feishu_sign

    ts, secret = 1700000000000, "SECabc"
    expected = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest())
    assert dingtalk_sign(secret, ts) == urllib.parse.quote_plus(expected)
    key = f"{1700000000}\n{secret}".encode()
    assert feishu_sign(secret, 1700000000) == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def test_a_second_firing_inside_the_cooldown_is_announced_once_the_cooldown_is_over(tmp_path, store):
    cfg = config(tmp_path, [H1])
    store.append(rec(NOW - 300, 12000))
    assert [e.kind for e in evaluate(cfg, store, NOW - 300)] == ["fired"]
    store.append(rec(NOW - 240, 7000))
    assert [e.kind for e in evaluate(cfg, store, NOW - 240)] == ["recovered"]
    store.append(rec(NOW - 180, 12000))  # again, inside the 600 s cooldown: quiet for now
    assert evaluate(cfg, store, NOW - 180) == []
    store.append(rec(NOW + 300, 15000))  # still high once the cooldown is over: announced
    assert [e.kind for e in evaluate(cfg, store, NOW + 300)] == ["fired"]


def test_a_broken_alert_setting_does_not_fail_the_collection(liq_settings, store, upstream, fixture_path):
    liq_settings.LIQUIDATION_SOURCE_URL = upstream.route(
        "/p", Reply.file(fixture_path("upstream/panic-api/latest-flat.json"))
    )
    liq_settings.ALERT_RULES_FILE = liq_settings.LIQUIDATION_LAST_RUN_FILE.with_name("missing-rules.json")
    liq_settings.ALERT_WEBHOOK_URL = "http://127.0.0.1:9/hook"
    call_command("collect_liquidation", stdout=StringIO(), stderr=StringIO())  # no exception: exit 0
    assert store.count() == 1


@pytest.mark.slow
def test_a_webhook_that_trickles_cannot_hold_the_collector(tmp_path, store, upstream):
    url = upstream.route("/slow", Reply(200, b"x" * 200, drip=1.0))
    store.append(rec(NOW, 12000))
    started = time.monotonic()
    outcome = run_alerts(config(tmp_path, [H1], [Webhook(url)]), store, NOW, budget=5)
    assert time.monotonic() - started < 15
    assert outcome["sent"]["webhook"] != "ok"
