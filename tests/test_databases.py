"""liqsite.databases: DATABASE_URL into DATABASES, checked at start-up."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from liqsite.databases import databases


def test_no_url_is_an_in_memory_database_and_no_file():
    assert databases("", "jsonl")["default"] == {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}


def test_a_postgres_url_becomes_djangos_database():
    db = databases("postgres://liq:secret@db.internal:5433/liqsite", "postgresql")["default"]
    assert (db["ENGINE"], db["HOST"], db["PORT"], db["NAME"], db["USER"]) == (
        "django.db.backends.postgresql",
        "db.internal",
        5433,
        "liqsite",
        "liq",
    )


@pytest.mark.parametrize(
    ("url", "store", "says"),
    [
        ("", "postgresql", "LIQUIDATION_STORE=postgresql needs DATABASE_URL"),
        ("mysql://u:p@h/db", "jsonl", "only postgres://"),
        ("nonsense", "jsonl", "DATABASE_URL"),
    ],
)
def test_what_cannot_work_stops_start_up_naming_the_variable(url, store, says):
    with pytest.raises(ImproperlyConfigured, match=says):
        databases(url, store)
