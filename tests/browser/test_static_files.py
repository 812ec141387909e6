"""Static files and compressed answers over real HTTP: the site under gunicorn with collected static
files (the ``site`` fixture), read with urllib, which decodes nothing by itself."""

from __future__ import annotations

import gzip
import posixpath
import re
import urllib.error
import urllib.request
from urllib.parse import urljoin, urlsplit

import brotli
import pytest
import zstandard

from tests.browser.conftest import minute_series

HASHED = re.compile(r"\.[0-9a-f]{12}\.[a-z0-9]+$")
FOREVER = "max-age=315360000"
#: Relative specifiers of static imports, re-exports, side-effect imports and dynamic imports.
IMPORTS = re.compile(
    r"""(?:\bimport\s*(?:[\w$*{},\s]+?\s*from\s*)?|\bexport\s*[\w$*{},\s]+?\s*from\s*|\bimport\s*\(\s*)"""
    r"""["'](\.{1,2}/[^"']+)["']"""
)


def fetch(url: str, encoding: str = "identity", **headers: str):
    request = urllib.request.Request(url, headers={"Accept-Encoding": encoding, **headers})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def decode(encoding: str | None, body: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        return brotli.decompress(body)
    if encoding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    assert encoding is None
    return body


def page_assets(site) -> list[str]:
    status, _, body = fetch(site.url + "/panic")
    assert status == 200
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', body.decode())


def test_the_page_names_every_static_file_by_its_content_hash(site):
    assets = page_assets(site)
    assert any(re.fullmatch(r"/static/js/panic\.[0-9a-f]{12}\.js", a) for a in assets)
    assert any(re.fullmatch(r"/static/css/panic\.[0-9a-f]{12}\.css", a) for a in assets)
    assert all(HASHED.search(a) for a in assets), assets


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_hashed_static_files_are_precompressed_and_cached_forever(site, encoding):
    for asset in page_assets(site):
        status, _, plain = fetch(site.url + asset)
        assert status == 200
        status, headers, body = fetch(site.url + asset, encoding)
        assert status == 200
        assert FOREVER in headers["Cache-Control"] and "immutable" in headers["Cache-Control"], asset
        assert "Accept-Encoding" in headers["Vary"]
        if len(plain) > 1024 and not asset.endswith(".svg"):
            assert headers["Content-Encoding"] == encoding, asset
        assert decode(headers.get("Content-Encoding"), body) == plain


def test_module_imports_point_at_hashed_files_all_the_way_down(site):
    """A hashed module importing an unhashed one would pair a cached-forever file with one that changes
    under it: every relative import of every module the page loads names a hashed file that is served."""
    modules = [a for a in page_assets(site) if a.endswith(".js")]
    seen: set[str] = set()
    while modules:
        path = modules.pop()
        if path in seen:
            continue
        seen.add(path)
        status, _, body = fetch(site.url + path)
        assert status == 200, path
        for specifier in IMPORTS.findall(body.decode("utf-8", "replace")):
            target = posixpath.normpath(urlsplit(urljoin(site.url + path, specifier)).path)
            assert HASHED.search(target), f"{path} imports {specifier}: not a hashed name"
            modules.append(target)
    assert any("/echarts.esm.min." in m for m in seen), seen  # the walk did follow the imports


def test_unhashed_names_still_answer_but_are_not_cached_for_long(site):
    status, headers, _ = fetch(site.url + "/static/js/panic.js", "br")
    assert status == 200
    assert FOREVER not in headers["Cache-Control"]
    assert headers["Content-Encoding"] == "br"


@pytest.mark.parametrize("encoding", ["br", "gzip", "zstd"])
def test_api_answers_are_compressed_over_http_and_revalidate(site, encoding):
    site.seed(minute_series(1440))
    url = site.url + "/api/liquidation-1h/history?limit=1440"
    status, _, plain = fetch(url, Accept="application/json")
    assert status == 200
    status, headers, body = fetch(url, encoding, Accept="application/json")
    assert headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in headers["Vary"]
    assert decode(encoding, body) == plain
    assert len(body) * 5 < len(plain)
    status, _, empty = fetch(url, encoding, Accept="application/json", **{"If-None-Match": headers["ETag"]})
    assert (status, empty) == (304, b"")


def test_compressed_exports_are_sent_as_a_stream(site):
    site.seed(minute_series(1440))
    url = site.url + "/api/liquidation-1h/export.csv?limit=1440"
    _, _, plain = fetch(url)
    status, headers, body = fetch(url, "gzip")
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Transfer-Encoding"] == "chunked"  # no Content-Length: never built whole
    assert "Content-Length" not in headers
    assert decode("gzip", body) == plain
