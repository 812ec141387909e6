"""``CACHES`` for settings.py: Django's built-in Redis backend when ``REDIS_URL`` is set, else each
process's local memory.

What lives in the cache: the API's throttle counts, and with Redis the per-minute response cache
(``liquidation/respcache.py``; without Redis each worker keeps its answers apart from the counts). In
local memory every gunicorn worker counts on its own (N workers allow a client N x the rate); in Redis
every worker and node shares the counts and the answers.

The URL is checked here, strictly, so a typo stops start-up with ImproperlyConfigured naming the
variable instead of failing (or silently using database 0) on the first request. Its password is moved
out of ``LOCATION`` into ``OPTIONS["password"]`` (which Django's debug pages hide, as they hide every
setting named like a password), and error messages show the URL redacted.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

from liquidation.redact import redact_url

#: Prefix of every key this site writes (Django adds it): one Redis may serve other applications too.
KEY_PREFIX = "liqsite"
#: Seconds to connect, and to wait for any answer: a Redis that cannot be reached fails a cache call
#: within these (redis-py does not retry on a pool of Django's) instead of holding a worker for the OS's
#: TCP timeout; a refused connection fails at once.
CONNECT_TIMEOUT = 1.0
SOCKET_TIMEOUT = 2.0
#: Check an idle pooled connection before using it again after this many seconds (Redis or a proxy in
#: between may have closed it).
HEALTH_CHECK_INTERVAL = 30

LOCAL_MEMORY = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "liqsite"}}
FORMS = "expected redis://[[user]:password@]host[:port][/db], rediss://… (TLS) or unix:///path/to/redis.sock[?db=N]"


def redis_password(url: str) -> str:
    """The password in ``url``'s userinfo, decoded ("" when there is none, or the URL does not parse)."""
    try:
        return unquote(urlsplit(url).password or "")
    except ValueError:
        return ""


def check_redis_url(url: str, name: str = "REDIS_URL") -> None:
    """Raise ImproperlyConfigured naming ``name`` (and showing the URL without its credentials) unless
    ``url`` is a Redis URL that redis-py reads as written."""

    def bad(why: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"{name}={redact_url(url)!r}: {why}")

    if re.search(r"[,;\s]", url):
        # Django splits LOCATION on , and ; into a list of servers.
        raise bad("no commas, semicolons or spaces (percent-encode them in a password)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise bad(f"the port is not a number from 1 to 65535; {FORMS}") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise bad(FORMS)
    if parts.fragment:
        raise bad(f"a fragment (#…) means nothing here; {FORMS}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    for key, value in query:
        if key == "db" and not value.isdigit():
            raise bad("db= must be a database number")
        if "password" in key.lower():
            raise bad("put the password before the host (redis://:password@host), not in the query")
    if parts.scheme == "unix":
        if parts.hostname or port or not parts.path.startswith("/"):
            raise bad(f"a socket's absolute path follows unix:// (three slashes); {FORMS}")
        return
    if not parts.hostname:
        raise bad(f"no host; {FORMS}")
    if port == 0:
        raise bad(f"the port is not a number from 1 to 65535; {FORMS}")
    if parts.path not in ("", "/") and not re.fullmatch(r"/[0-9]+", parts.path):
        raise bad(f"the database after the host must be a number, as in /0; {FORMS}")


def caches(redis_url: str) -> dict[str, dict[str, Any]]:
    """``CACHES``: local memory without ``redis_url``, else Django's RedisCache on it (checked first)."""
    if not redis_url:
        return LOCAL_MEMORY
    check_redis_url(redis_url)
    parts = urlsplit(redis_url)
    options: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": SOCKET_TIMEOUT,
        "health_check_interval": HEALTH_CHECK_INTERVAL,
    }
    location = redis_url
    if parts.password is not None:
        options["password"] = unquote(parts.password)
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]
        location = urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host))
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": KEY_PREFIX,
            "OPTIONS": options,
        }
    }
