"""Headers, docs, schema and health endpoints of the API."""

from __future__ import annotations

import json

from rest_framework.test import APIClient

from liquidation.records import build_record
from tests.api.common import BASE, NOW, get

# -- headers, docs, schema, health ---------------------------------------------------------------------


def test_security_headers_and_api_csp(client, seeded):
    r = get(client, "latest")
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Referrer-Policy"] == "same-origin"
    assert r["Cross-Origin-Opener-Policy"] == "same-origin"
    csp = r["Content-Security-Policy"]
    assert "script-src 'self';" in csp + ";"
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "style-src 'self' 'unsafe-inline'" in csp


def test_browsable_api_has_no_inline_script(seeded):
    html = APIClient(HTTP_ACCEPT="text/html").get(BASE + "history", {"limit": 2}).content.decode()
    import re

    inline = [s for s in re.findall(r"<script([^>]*)>", html) if "src=" not in s and "application/json" not in s]
    assert inline == []


def test_format_json_query_parameter(seeded):
    r = APIClient(HTTP_ACCEPT="text/html").get(BASE + "latest", {"format": "json"})
    assert r["Content-Type"] == "application/json"


def test_schema_documents_every_endpoint(client):
    r = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    schema = json.loads(r.content)
    paths = schema["paths"]
    for p in ("history", "latest", "stats", "export.csv", "export.jsonl"):
        assert f"/api/liquidation-1h/{p}" in paths
    params = {p["name"] for p in paths["/api/liquidation-1h/history"]["get"]["parameters"]}
    assert {"limit", "start_time", "end_time", "interval"} <= params
    assert "text/csv" in paths["/api/liquidation-1h/export.csv"]["get"]["responses"]["200"]["content"]
    assert "400" in paths["/api/liquidation-1h/history"]["get"]["responses"]
    assert "万 USD" in json.dumps(schema, ensure_ascii=False)


def test_docs_page_loads_swagger_from_local_static_files(client):
    r = client.get("/api/docs/", HTTP_ACCEPT="text/html")
    assert r.status_code == 200
    html = r.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "<script>" not in html
    js = client.get("/api/docs/?script=", HTTP_ACCEPT="text/html")
    assert js.status_code == 200
    assert "SwaggerUIBundle" in js.content.decode()


def test_cors_is_off_by_default_and_opens_to_listed_origins(client, seeded, settings):
    r = client.get(BASE + "latest", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in r
    settings.CORS_ALLOWED_ORIGINS = ["https://dash.example"]
    r = client.get(BASE + "latest", HTTP_ORIGIN="https://dash.example")
    assert r["Access-Control-Allow-Origin"] == "https://dash.example"


def test_healthz_ok_stale_and_empty(client, liq_settings, store):
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "no-data"
    assert "no data" in r.json()["reason"]
    store.append(
        build_record(NOW - 30, {"hour_1_amount": 1, "panic_index": 0, "hour_24_amount": 1, "total_position": 1})
    )
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["last_record_age_seconds"] == 30
    assert client.head("/healthz").status_code == 200  # uptime monitors often use HEAD
    liq_settings.LIQUIDATION_STALE_SECONDS = 20
    r = client.get("/healthz")
    assert r.status_code == 503
    assert "30 s old" in r.json()["reason"]


def test_collector_status_reports_last_run_and_streams(client, liq_settings):
    r = client.get(BASE + "status")
    assert r.status_code == 200
    assert r.json() == {"last_run": None, "streams": None}
    liq_settings.LIQUIDATION_LAST_RUN_FILE.write_text(
        '{"outcome": "error", "source": "exchanges", "error": "no exchange reachable: see https://u:p@h/x",'
        ' "error_class": "no-exchange-reachable"}'
    )
    events = liq_settings.LIQUIDATION_EVENTS_DIR
    events.mkdir(parents=True)
    (events / "status.json").write_text(
        '{"venues": {"binance": {"connected": true, "last_error": "fstream: ConnectionError: wss://h/ws?k=1"}}}'
    )
    r = client.get(BASE + "status")
    body = r.json()
    assert body["last_run"]["error_class"] == "no-exchange-reachable"
    assert body["last_run"]["source"] == "exchanges"
    assert "error" not in body["last_run"] and "detail" not in body["last_run"]  # operator detail stays private
    assert body["streams"]["venues"]["binance"]["connected"] is True
    assert body["streams"]["venues"]["binance"]["last_error"] == "fstream: ConnectionError: <url>"
    assert b"://" not in r.content
