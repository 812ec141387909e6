"""The per-minute response cache: rendered answers of the costly read-only API views (history, stats,
panic-band, summary, bars, tape), kept in Django's default cache. With ``REDIS_URL`` that is Redis, so
one worker's answer serves every worker and node; without it, each process's memory.

Views consult it from their handler, after DRF's ``initial()`` has run the throttle (a cached answer
costs a client what a computed one does) and after the conditional GET (a client holding the current
ETag still gets its 304). Only 200 answers in a cacheable format (``FORMATS``: JSON, never the browsable
HTML) of at most ``MAX_BYTES`` are kept: the body as rendered, its content type and the headers that
belong to the answer (``KEPT_HEADERS``). Every answer the cache was asked for says ``X-Liqsite-Cache:
hit`` or ``miss``.

The key (``make_key``) is a hash of:

- the path and the query string, normalized (parameters sorted, percent-encoding made canonical), so
  ``?a=1&b=2`` and ``?b=2&a=1`` share an entry;
- the media type DRF accepted (``application/json``, or ``application/json; indent=4``, which changes
  the body) and the active language;
- the data version: a token of everything the answer was computed from that changes on every append
  (``store.version()`` for the records; the committed fold's seq, and the day's event file size for the
  tape, for the depth views), so an append is never answered from before it;
- the Unix minute, for answers that move with the clock (a window ending now, an age): such an entry
  is never served after its minute. Within it the answer is the one computed first (e.g. a stats
  ``end`` of that second), as a 304 would say too: the ETags of these views change once a minute.

Entries live ``TTL`` seconds; an entry whose version or minute has moved on is never asked for again
and expires. A cache that fails (Redis unreachable) is logged and the answer computed: the cache is
never the reason for an error. Django-free: the cache is any object with Django's ``get``/``set``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

logger = logging.getLogger(__name__)

#: The response header saying whether the answer came from the cache.
HEADER = "X-Liqsite-Cache"
#: Headers kept with the body; the rest (Vary, CSP, Content-Length, compression) are made per response.
KEPT_HEADERS = ("ETag", "Last-Modified", "X-Liqsite-Revision", "Cache-Control")
#: Renderer formats whose answers are cached (DRF's browsable API, "api", renders per request).
FORMATS = frozenset({"json"})
#: Seconds an entry lives: its minute, and the next one for answers that do not follow the clock.
TTL = 120
#: Larger bodies are computed every time (30 days of whole records is megabytes: a local-memory cache
#: would hold a copy per worker).
MAX_BYTES = 2 * 1024 * 1024
#: Bump when the entry's shape changes, so old entries in a shared cache are never read.
PREFIX = "resp:1:"


class Cache(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def set(self, key: str, value: Any, timeout: int | None = ...) -> None: ...


@dataclass(frozen=True)
class Entry:
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...]


def normalized_query(query_string: str) -> str:
    """``query_string`` with its parameters decoded, sorted and encoded again: equal queries, one text."""
    return urlencode(sorted(parse_qsl(query_string, keep_blank_values=True)))


def make_key(
    path: str, query_string: str, media_type: str, version: str, *, minute: int | None = None, language: str = ""
) -> str:
    """The cache key of an answer (see the module docstring); ``minute`` None: the answer does not
    follow the clock."""
    parts = (
        path,
        normalized_query(query_string),
        media_type,
        language,
        version,
        "-" if minute is None else str(minute),
    )
    digest = hashlib.blake2b("\n".join(parts).encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()
    return PREFIX + digest


def lookup(cache: Cache, key: str) -> Entry | None:
    """The entry under ``key``, or None (absent, unreadable, or the cache failed: logged)."""
    try:
        value = cache.get(key)
    except Exception as e:  # a cache outage must not fail the request: the answer is computed instead
        logger.warning("response cache unavailable (%s: %s): answering without it", e.__class__.__name__, e)
        return None
    if not (isinstance(value, tuple) and len(value) == 3 and isinstance(value[0], bytes)):
        return None
    body, content_type, headers = value
    return Entry(body, str(content_type), tuple((str(k), str(v)) for k, v in headers))


def store(cache: Cache, key: str, status: int, body: bytes, content_type: str, headers: Mapping[str, str]) -> bool:
    """Keep a rendered answer under ``key`` when it may be kept (a 200 of at most MAX_BYTES); whether it was."""
    if status != 200 or len(body) > MAX_BYTES:
        return False
    kept = tuple((name, headers[name]) for name in KEPT_HEADERS if name in headers)
    try:
        cache.set(key, (bytes(body), content_type, kept), TTL)
    except Exception as e:
        logger.warning("response cache unavailable (%s: %s): answer not kept", e.__class__.__name__, e)
        return False
    return True
