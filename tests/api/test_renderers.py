"""JSON for machines is compact; the browsable API indents it for people."""

from __future__ import annotations

import html
import json

import pytest
from rest_framework.test import APIClient

from tests.api.common import BASE

#: What Chromium sends when it navigates to a URL.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def test_the_browsable_api_indents_json_by_two_spaces(seeded):
    page = APIClient(HTTP_ACCEPT=BROWSER_ACCEPT).get(BASE + "history", {"limit": 2})
    assert page["Content-Type"].startswith("text/html")
    text = html.unescape(page.content.decode())
    assert '{\n  "count": 2,\n  "start": null,\n' in text
    assert '\n  "results": [\n    {\n      "timestamp": ' in text


@pytest.mark.parametrize(
    ("headers", "params"),
    [({"HTTP_ACCEPT": "application/json"}, {}), ({"HTTP_ACCEPT": BROWSER_ACCEPT}, {"format": "json"}), ({}, {})],
)
def test_machines_get_compact_json(seeded, headers, params):
    r = APIClient(**headers).get(BASE + "history", {"limit": 2, **params})
    assert r["Content-Type"] == "application/json"
    assert b"\n" not in r.content
    assert r.content.startswith(b'{"count":2,"start":null,')
    assert json.loads(r.content)["count"] == 2


def test_an_indent_asked_in_the_media_type_is_honoured(seeded):
    r = APIClient(HTTP_ACCEPT="application/json; indent=4").get(BASE + "history", {"limit": 2})
    assert r.content.startswith(b'{\n    "count": 2,')
