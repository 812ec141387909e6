"""Alerts through Apprise (ALERT_URLS) against real local endpoints (Apprise's json://, form://, ntfy:// and
gotify:// plugins pointed at a loopback server), the outbox rules with them (one failing URL never
blocks another, secrets never in a reason), the message forms, and the depth rules (a single large order,
one coin's hour) over real minute buckets."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from django.core.exceptions import ImproperlyConfigured

from liqsite.env import alert_urls
from liquidation.alertmessages import message as render
from liquidation.alertrules import Rule, rule_value
from liquidation.alerts import AlertConfig, Event, evaluate, run_alerts
from liquidation.channels import AlertUrlError, AppriseChannel, apprise_channels, split_urls
from liquidation.records import build_record
from tests.buckettools import ALL_LIVE, at, ms, stores
from tests.upstream_server import Reply

NOW = int(time.time()) // 60 * 60
H1 = Rule("h1", "h1_threshold", fire=10000, clear=8000, cooldown=600)


def rec(ts: int, h1: float, by_exchange: dict | None = None) -> dict:
    values = {"hour_1_amount": h1, "panic_index": 0.05, "hour_24_amount": 9000, "total_position": 1000}
    return build_record(ts, values, **({"by_exchange": by_exchange} if by_exchange else {}))


def config(tmp_path, rules, channels, **kw) -> AlertConfig:
    return AlertConfig(rules=list(rules), channels=list(channels), state_file=tmp_path / "alerts.json", **kw)


# -- ALERT_URLS ------------------------------------------------------------------------------------------


def test_urls_split_on_newlines_and_on_commas_before_a_scheme_only():
    value = "json://h/a, ntfy://h/topic\n# a comment\n\nmailto://u:p@example.org?to=a@x.org,b@y.org ,gotify://h/tok"
    assert split_urls(value) == [
        "json://h/a",
        "ntfy://h/topic",
        "mailto://u:p@example.org?to=a@x.org,b@y.org",
        "gotify://h/tok",
    ]


def test_a_file_of_urls_is_read_and_a_missing_one_stops_start_up(tmp_path):
    listed = tmp_path / "alert-urls.txt"
    listed.write_text("json://127.0.0.1/a\n\nform://127.0.0.1/b\n")
    assert alert_urls(f"@{listed}", tmp_path) == ["json://127.0.0.1/a", "form://127.0.0.1/b"]
    assert alert_urls("@alert-urls.txt", tmp_path) == ["json://127.0.0.1/a", "form://127.0.0.1/b"]  # relative
    with pytest.raises(ImproperlyConfigured, match=r"ALERT_URLS=@.*missing\.txt"):
        alert_urls(f"@{tmp_path / 'missing.txt'}", tmp_path)


def test_an_unknown_url_is_named_by_position_and_scheme_never_by_its_secret():
    with pytest.raises(AlertUrlError) as e:
        apprise_channels(["json://127.0.0.1/a", "nosuchservice://token-SECRET123@host"])
    assert "entry 2" in str(e.value) and "nosuchservice://" in str(e.value) and "SECRET123" not in str(e.value)


def test_channel_names_are_stable_and_hold_no_secret():
    a, b = AppriseChannel("gotify://127.0.0.1/TOKENsecret99"), AppriseChannel("gotify://127.0.0.1/TOKENsecret99")
    assert a.name == b.name and a.name.startswith("gotify-") and "TOKENsecret99" not in a.describe()


# -- delivery through Apprise ----------------------------------------------------------------------------


def test_every_kind_of_apprise_url_delivers_the_alert_to_a_local_endpoint(tmp_path, store, upstream):
    for path in ("/json", "/form", "/", "/message"):
        upstream.route(path, Reply(200, b"{}"), Reply(200, b"{}"))
    host = f"127.0.0.1:{upstream.port}"
    urls = [f"json://{host}/json", f"form://{host}/form", f"ntfy://{host}/liq", f"gotify://{host}/AppTokenXYZ"]
    store.append(rec(NOW - 3600, 8000))
    store.append(rec(NOW, 12000, {"okx": {"hour_1": 0.9}, "binance": {"hour_1": 0.3}}))
    outcome = run_alerts(config(tmp_path, [H1], apprise_channels(urls), lang="en"), store, NOW)
    assert outcome["events"] == 1 and set(outcome["sent"].values()) == {"ok"}, outcome
    seen = {r.path: r for r in upstream.requests}
    posted = json.loads(seen["/json"].body)
    assert posted["title"] == "💥 Liquidation alert (liqsite)"
    assert "1h liquidations $120.00M, at or above $100.00M [h1]" in posted["message"]
    assert "By exchange: okx 75% · binance 25%" in posted["message"]
    assert "1h liquidations $120.00M, +50.0% on an hour before" in posted["message"]
    assert "💥" not in posted["message"].split("\n")[0]  # the title is not repeated as the body's first line
    form = urllib.parse.parse_qs(seen["/form"].body.decode())
    assert "at or above" in form["message"][0]
    ntfy = json.loads(seen["/"].body)  # ntfy: a JSON publish to the server's root, naming the topic
    assert ntfy["topic"] == "liq" and "at or above" in ntfy["message"]
    assert "at or above" in json.loads(seen["/message"].body)["message"]  # gotify
    assert seen["/message"].headers.get("X-Gotify-Key") == "AppTokenXYZ" or "AppTokenXYZ" in str(seen["/message"].query)


@pytest.mark.slow
def test_a_failing_url_is_its_own_failure_and_its_secret_stays_out_of_the_reason(tmp_path, store, upstream):
    upstream.route("/ok", *[Reply(200, b"{}")] * 3)
    upstream.route("/refuses", *[Reply(500, b"{}")] * 3)
    upstream.route("/slow", Reply(200, b"{}", delay=30))
    host = f"127.0.0.1:{upstream.port}"
    dead = AppriseChannel("json://admin:Pw0rdSecret@127.0.0.1:9/x")
    refusing, good = AppriseChannel(f"json://{host}/refuses"), AppriseChannel(f"json://{host}/ok")
    slow = AppriseChannel(f"json://{host}/slow")  # answers after 30 s: our 5 s read timeout ends it
    cfg = config(tmp_path, [H1], [dead, refusing, slow, good])
    store.append(rec(NOW, 12000))
    started = time.monotonic()
    outcome = run_alerts(cfg, store, NOW, budget=20)
    assert time.monotonic() - started < 15
    assert outcome["sent"][good.name] == "ok"
    assert outcome["sent"][dead.name] != "ok" and "Pw0rdSecret" not in outcome["sent"][dead.name]
    assert outcome["sent"][refusing.name] != "ok" and outcome["sent"][slow.name] != "ok"
    state = json.loads((tmp_path / "alerts.json").read_text())
    assert state["outbox"][good.name] == []  # delivered
    assert [i["attempts"] for i in state["outbox"][dead.name]] == [1]  # kept for the next evaluation
    assert state["sends"]["ok"][good.name] == 1 and state["sends"]["error"][refusing.name] == 1


@pytest.mark.slow
def test_a_long_queue_on_a_slow_channel_stops_at_the_budget_and_keeps_its_order(tmp_path, store, upstream):
    upstream.route("/slow", *[Reply(200, b"{}", delay=30)] * 5)
    slow = AppriseChannel(f"json://127.0.0.1:{upstream.port}/slow")  # each send ends at our 5 s read timeout
    cfg = config(tmp_path, [H1], [slow])
    (tmp_path / "alerts.json").write_text(
        json.dumps({"outbox": {slow.name: [{"title": "t", "text": f"queued {i}", "attempts": 0} for i in range(4)]}})
    )
    started = time.monotonic()
    outcome = run_alerts(cfg, store, NOW, budget=3)
    assert time.monotonic() - started < 12  # one send (≤ 5 s plus its deadline's grace), then the budget stops it
    queue = json.loads((tmp_path / "alerts.json").read_text())["outbox"][slow.name]
    assert [i["text"] for i in queue] == ["queued 1", "queued 2", "queued 3", "queued 0"] and outcome["sent"][slow.name]


def test_markdown_services_get_markdown_and_the_rest_plain_text():
    events = [Event(H1, "fired", 12000)]
    msg = render(events, NOW, lang="zh-hans", site_url="https://liq.example")
    telegram = AppriseChannel("tgram://123456789:AAHsecretToken/-1001").render(msg)
    plain = AppriseChannel("json://127.0.0.1/x").render(msg)
    assert telegram["format"] == "markdown" and telegram["text"].startswith("### 💥 爆仓告警")
    assert "[查看面板](https://liq.example/panic)" in telegram["text"]
    assert plain["format"] == "text" and "1小时爆仓金额" in plain["text"] and "###" not in plain["text"]


# -- depth rules -----------------------------------------------------------------------------------------


def _ev(ts_ms: int, usd: float, symbol: str = "BTCUSDT", side: str = "long") -> dict:
    return {"exchange": "binance", "symbol": symbol, "ts_ms": ts_ms, "side": side, "qty": 1.0, "price": usd, "usd": usd}


def test_a_large_order_and_a_hot_coin_fire_with_what_they_are_of(tmp_path, store):
    events, buckets = stores(tmp_path / "events")
    events.append([_ev(ms(11, 30), 300_000.0, "ETHUSDT"), _ev(ms(12, 1), 2_500_000.0, "SOLUSDT", "short")])
    events.append([_ev(ms(11, 40 + i), 400_000.0, "1000PEPEUSDT") for i in range(10)])
    buckets.fold(events, ALL_LIVE, at(12, 3))
    reader = buckets.new_reader()
    order = Rule("whale", "order_usd", fire=1_000_000, clear=500_000, cooldown=60)
    coin = Rule("coin", "coin_h1_usd", fire=3_000_000, clear=2_000_000, cooldown=60)
    assert rule_value(order, store, at(12, 3), lambda: reader).detail == "binance SOLUSDT short"
    cfg = config(tmp_path, [order, coin], [], depth=lambda: reader, lang="en")
    fired = evaluate(cfg, store, at(12, 3))
    assert [(e.rule.name, e.value, e.detail) for e in fired] == [
        ("whale", 2_500_000.0, "binance SOLUSDT short"),
        ("coin", 4_000_000.0, "PEPE"),
    ]
    text = render(fired, at(12, 3), lang="en", site_url="https://liq.example").text
    assert "Single liquidation (binance SOLUSDT short) $2.50M, at or above $1.00M [whale]" in text
    assert "One coin's 1h liquidations (PEPE) $4.00M" in text
    assert rule_value(coin, store, at(12, 3, 40), lambda: reader).value == 4_000_000.0  # whatever the second
    assert [e.kind for e in evaluate(cfg, store, at(12, 9))] == ["recovered"]  # the order left the 5-minute window
    assert rule_value(order, store, at(12, 3), None) is None  # no buckets (another source): no value, no alert


def test_deprecated_variables_are_named_in_one_line_with_what_replaces_them(liq_settings):
    from liquidation.conf import legacy_alert_variables

    assert legacy_alert_variables() is None
    liq_settings.ALERT_RULE_VARIABLES_SET = ["ALERT_H1_THRESHOLD"]
    liq_settings.ALERT_DINGTALK_WEBHOOK = "https://oapi.dingtalk.com/robot/send?access_token=t"
    liq_settings.ALERT_WEBHOOK_URL, liq_settings.ALERT_WEBHOOK_SECRET = "https://hooks.example/x", "signed"
    line = legacy_alert_variables()
    assert line.count("deprecated:") == 1 and "\n" not in line
    assert "ALERT_DINGTALK_* will be removed" in line and "ALERT_URLS" in line
    assert "ALERT_H1_THRESHOLD will be removed" in line and "ALERT_RULES_FILE" in line
    assert "ALERT_WEBHOOK_URL" not in line  # the signed webhook stays: Apprise cannot sign it
