"""Tables of the PostgreSQL store (``LIQUIDATION_STORE=postgresql``; see ``pgstore``). Only that backend
reads or writes them; the JSONL store never touches the database.

A record is kept as its exact JSON line (``line``), so values keep their JSON types and order (a legacy
``12010`` stays ``12010``, ``12010.0`` stays ``12010.0``) and a round trip through the database gives the
same bytes; ``minute`` (Unix minutes, the primary key) makes one record per minute a constraint of the
database, which is what lets any number of collectors on any number of machines append at once.
"""

from __future__ import annotations

from django.db import models


class Record(models.Model):
    minute = models.BigIntegerField(primary_key=True, help_text="Unix minutes of the record's timestamp")
    timestamp = models.BigIntegerField(help_text="Unix seconds (UTC), as in the record")
    line = models.TextField(help_text="The record as its JSON line (no newline), byte for byte")
    stored_at = models.DateTimeField(auto_now_add=True, db_index=True, help_text="When this row was written")

    class Meta:
        db_table = "liquidation_record"
        indexes = [models.Index(fields=["timestamp"], name="liquidation_record_ts")]

    def __str__(self) -> str:
        return f"record {self.timestamp}"


class State(models.Model):
    """Small shared state by name (the collector's last run, the listener's status): a JSON object as text."""

    name = models.CharField(max_length=64, primary_key=True)
    value = models.TextField(help_text="A JSON object")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "liquidation_state"

    def __str__(self) -> str:
        return f"state {self.name}"
