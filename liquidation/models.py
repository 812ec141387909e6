"""Tables of the PostgreSQL store (``LIQUIDATION_STORE=postgresql``; see ``pgstore``). Only that backend
reads or writes them; the JSONL store never touches the database.

A record is kept as its exact JSON line (``line``), so values keep their JSON types and order (a legacy
``12010`` stays ``12010``, ``12010.0`` stays ``12010.0``) and a round trip through the database gives the
same bytes; ``minute`` (Unix minutes, the primary key) makes one record per minute a constraint of the
database, which is what lets any number of collectors on any number of machines append at once.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now


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


class Event(models.Model):
    """One liquidation as the keyless source stores it (``events`` normalises it). ``key`` is the natural
    key (``events.event_key`` as JSON): unique, so a listener and a poller on two machines that both see an
    order store it once. ``stored_at`` is the database's clock, shared by every machine: the fold reads the
    minutes of the events stored since the previous fold by it. Columns beside ``line`` are the tape's
    filters."""

    id = models.BigAutoField(primary_key=True)
    key = models.TextField(unique=True, help_text="The natural key as a JSON array")
    ts_ms = models.BigIntegerField(help_text="Unix ms of the liquidation")
    exchange = models.CharField(max_length=32)
    side = models.CharField(max_length=8)
    coin = models.CharField(max_length=64)
    usd = models.FloatField(null=True, help_text="Notional in USD when countable, else null")
    line = models.TextField(help_text="The normalised event as its JSON line (no newline)")
    stored_at = models.DateTimeField(db_default=Now(), help_text="The database's time of the insert")

    class Meta:
        db_table = "liquidation_event"
        indexes = [
            models.Index(fields=["ts_ms"], name="liquidation_event_ts"),
            models.Index(fields=["stored_at"], name="liquidation_event_stored"),
        ]

    def __str__(self) -> str:
        return f"event {self.key}"


class Bucket(models.Model):
    """One minute's bucket (``buckets``): the venue cells ``x`` and coin cells ``c`` as JSON, recomputed
    whole from the minute's events by every fold that sees a new event in it (so two collectors folding at
    once write the same thing), and ``live``, the venues complete for the minute (null: no coverage written
    yet). ``ver`` changes on every write: readers keep parsed minutes until it does. ``n`` and ``upto`` say
    which events the cells hold (count, newest id): a fold skips a minute whose events still match them."""

    minute = models.BigIntegerField(primary_key=True, help_text="Unix s of the minute's start")
    x = models.TextField(default="{}")
    c = models.TextField(default="{}")
    live = models.TextField(null=True)
    ver = models.BigIntegerField(help_text="time.time_ns() of the last write")
    n = models.BigIntegerField(default=0, help_text="Events the cells were folded from")
    upto = models.BigIntegerField(default=0, help_text="The newest event id among them")

    class Meta:
        db_table = "liquidation_bucket"

    def __str__(self) -> str:
        return f"bucket {self.minute}"
