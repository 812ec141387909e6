"""``DATABASES`` for settings.py: PostgreSQL from ``DATABASE_URL`` (the store's with
``LIQUIDATION_STORE=postgresql``), else an in-memory SQLite database that nothing uses (the JSONL store
keeps everything in files; Django wants a default database to exist). Checked at start-up: a bad URL or a
PostgreSQL store without one stops with ImproperlyConfigured naming the variable."""

from __future__ import annotations

from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured


def databases(database_url: str, store: str) -> dict[str, Any]:
    if not database_url:
        if store == "postgresql":
            raise ImproperlyConfigured("LIQUIDATION_STORE=postgresql needs DATABASE_URL (postgres://user:pass@host/db)")
        return {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    try:
        database = dj_database_url.parse(database_url, conn_max_age=60, conn_health_checks=True)
    except (ValueError, KeyError) as e:
        raise ImproperlyConfigured(f"DATABASE_URL: not a database URL ({e}); e.g. postgres://user:pass@host/db") from e
    if database["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL: only postgres:// (or postgresql://) URLs are supported")
    return {"default": database}
