"""The per-minute response cache: rendered answers of the costly read-only API views (history, stats,
panic-band, summary, bars, tape).

Where: with ``REDIS_URL``, in Django's default cache, Redis, so one worker's answer serves every worker
and node; each process also keeps copies of the entries it used last (``LocalCopies``, in front: a key
names its content, so a copy is never stale, and a repeated request costs no round trip and no transfer
of the body). Without Redis, in those per-process copies only, bounded in bytes, and not in the local
memory cache, which holds the throttle's counts: answers must never crowd a client's count out of it.

Views look an answer up right after DRF's ``initial()`` has negotiated the format and run the throttle
(a cached answer costs a client what a computed one does), and before validating the query or reading
any data: the entry is a 200 to this very query. A client holding the entry's ETag gets a 304. Only
200 answers in a cacheable format (``FORMATS``: JSON, never the browsable HTML) of at most
``MAX_BYTES`` are kept: the body as rendered, its content type and the headers that belong to the
answer (``KEPT_HEADERS``). Every answer the cache was asked for says ``X-Liqsite-Cache: hit`` or
``miss``.

The key (``make_key``) is a hash of:

- the path and the query string, normalized (parameters sorted, percent-encoding made canonical), so
  ``?a=1&b=2`` and ``?b=2&a=1`` share an entry;
- the media type DRF accepted (``application/json``, or ``application/json; indent=4``, which changes
  the body) and the active language;
- the data version: a token of everything the answer is made of that changes on every write
  (``store.version()`` for the records; the committed fold's seq, and the day's event file size for the
  tape, for the depth views), read before the data, so an answer is never kept under a newer version
  than its data and an append is never answered from before it;
- the Unix minute, for answers that move with the clock (a window ending now, an age): such an entry
  is never served after its minute. Within it the answer is the one computed first (a stats ``end`` of
  that second; a window whose ``start_time`` reaches the 31-day cap during the minute), as a 304 would
  say too: the ETags of these views change once a minute.

Entries live ``TTL`` seconds; an entry whose version or minute has moved on is never asked for again
and expires. A shared cache that fails (Redis unreachable) is logged and the answer computed: the
response cache is never the reason for an error. Django-free: the shared cache is any object with
Django's ``get``/``set``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
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


class LocalCopies:
    """This process's copies of the entries it read or kept last, at most ``max_entries`` holding
    ``max_bytes`` of bodies in all, each for ``TTL`` seconds at most; least recently used go first.
    Thread-safe."""

    def __init__(self, max_entries: int = 64, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._data: OrderedDict[str, tuple[float, Entry]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Entry | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return None
            if found[0] < time.monotonic():
                self._drop(key)
                return None
            self._data.move_to_end(key)
            return found[1]

    def put(self, key: str, entry: Entry) -> None:
        with self._lock:
            if key in self._data:
                self._drop(key)
            self._data[key] = (time.monotonic() + TTL, entry)
            self._bytes += len(entry.body)
            while self._data and (len(self._data) > self.max_entries or self._bytes > self.max_bytes):
                self._drop(next(iter(self._data)))

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def _drop(self, key: str) -> None:
        self._bytes -= len(self._data.pop(key)[1].body)


#: This process's answers: 16 MB at most (24 h of legacy records is about 270 KB of JSON).
LOCAL = LocalCopies()


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


def lookup(key: str, local: LocalCopies, shared: Cache | None = None) -> Entry | None:
    """The entry under ``key``: this process's copy, else the shared cache's (then copied), else None
    (absent, unreadable, or the shared cache failed: logged)."""
    if (entry := local.get(key)) is not None or shared is None:
        return entry
    try:
        value = shared.get(key)
    except Exception as e:  # a cache outage must not fail the request: the answer is computed instead
        logger.warning("response cache unavailable (%s: %s): answering without it", e.__class__.__name__, e)
        return None
    if not (isinstance(value, tuple) and len(value) == 3 and isinstance(value[0], bytes)):
        return None
    body, content_type, headers = value
    entry = Entry(body, str(content_type), tuple((str(k), str(v)) for k, v in headers))
    local.put(key, entry)
    return entry


def store(
    key: str,
    status: int,
    body: bytes,
    content_type: str,
    headers: Mapping[str, str],
    local: LocalCopies,
    shared: Cache | None = None,
) -> bool:
    """Keep a rendered answer under ``key`` when it may be kept (a 200 of at most MAX_BYTES), here and in
    the shared cache; whether it was kept."""
    if status != 200 or len(body) > MAX_BYTES:
        return False
    entry = Entry(bytes(body), content_type, tuple((name, headers[name]) for name in KEPT_HEADERS if name in headers))
    local.put(key, entry)
    if shared is not None:
        try:
            shared.set(key, (entry.body, entry.content_type, entry.headers), TTL)
        except Exception as e:
            logger.warning(
                "response cache unavailable (%s: %s): answer kept in this process only", e.__class__.__name__, e
            )
    return True
