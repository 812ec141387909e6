"""Compressed answers (django-compression-middleware): the same bytes once decoded, Vary, conditional
GETs and streamed exports. Static files (WhiteNoise, precompressed at collectstatic) are tested
against the real site in tests/browser/test_static_files.py."""

from __future__ import annotations

import gzip

import brotli
import pytest
import zstandard
from django.test import Client
from rest_framework.test import APIClient

from tests.api.common import BASE

ENCODINGS = ["gzip", "br", "zstd"]


def decode(encoding: str, body: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        return brotli.decompress(body)
    return zstandard.ZstdDecompressor().decompressobj().decompress(body)


def accepting(encoding: str) -> APIClient:
    return APIClient(HTTP_ACCEPT="application/json", HTTP_ACCEPT_ENCODING=encoding)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_history_decodes_to_the_same_json_as_the_identity_answer(seeded, encoding):
    plain = accepting("identity").get(BASE + "history")
    packed = accepting(encoding).get(BASE + "history")
    assert "Content-Encoding" not in plain
    assert packed["Content-Encoding"] == encoding
    assert int(packed["Content-Length"]) == len(packed.content)
    assert decode(encoding, packed.content) == plain.content
    assert len(packed.content) * 4 < len(plain.content)
    assert {"Accept", "Accept-Encoding"} <= {v.strip() for v in packed["Vary"].split(",")}
    assert packed["ETag"] == plain["ETag"]  # the view's weak ETag, not rewritten


@pytest.mark.parametrize(
    ("accept_encoding", "chosen"),
    [
        ("gzip, deflate, br", "br"),  # brotli before gzip
        ("gzip, deflate, br, zstd", "zstd"),  # what Chromium sends
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),  # refused explicitly
        ("identity", None),
        ("", None),
    ],
)
def test_the_encoding_follows_accept_encoding(seeded, accept_encoding, chosen):
    r = accepting(accept_encoding).get(BASE + "history")
    assert r.get("Content-Encoding") == chosen


@pytest.mark.parametrize("path", ["history", "stats", "export.csv", "export.jsonl", "latest"])
def test_a_compressed_answers_etag_gets_a_304(seeded, path):
    first = accepting("gzip, br").get(BASE + path)
    assert first.status_code == 200
    etag = first["ETag"]
    assert etag.startswith('W/"')
    again = accepting("gzip, br").get(BASE + path, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    # A cache that kept the compressed copy revalidates it for an identity client too (weak comparison).
    assert accepting("identity").get(BASE + path, HTTP_IF_NONE_MATCH=etag).status_code == 304


@pytest.mark.parametrize("path", ["export.csv", "export.jsonl"])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_exports_stay_streamed_when_compressed(seeded, path, encoding):
    plain = accepting("identity").get(BASE + path, {"limit": 10000})
    packed = accepting(encoding).get(BASE + path, {"limit": 10000})
    assert packed.streaming
    assert "Content-Length" not in packed
    assert packed["Content-Encoding"] == encoding
    assert "attachment" in packed["Content-Disposition"]
    assert decode(encoding, b"".join(packed.streaming_content)) == b"".join(plain.streaming_content)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_page_and_the_browsable_api_are_compressed(seeded, encoding):
    page = Client(HTTP_ACCEPT_ENCODING=encoding).get("/panic")
    assert page["Content-Encoding"] == encoding
    assert b"<html" in decode(encoding, page.content)
    html = APIClient(HTTP_ACCEPT="text/html", HTTP_ACCEPT_ENCODING=encoding).get(BASE + "history")
    assert html["Content-Encoding"] == encoding
    assert b"<html" in decode(encoding, html.content)


def test_small_answers_are_left_alone(seeded):
    r = accepting("br").get(BASE + "history", {"limit": 1})
    assert len(r.content) < 500
    assert "Content-Encoding" not in r
