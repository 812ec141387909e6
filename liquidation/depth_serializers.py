"""Input and output serializers of the depth endpoints (summary, bars, tape): a 400 names the parameter;
the output ones document the answers in the OpenAPI schema."""

from __future__ import annotations

import re
import time
from typing import Any

from rest_framework import serializers

from . import venues
from .coins import coin_of
from .depth import MAX_STEPS, STEPS, WINDOWS
from .records import EARLIEST, MAX_FUTURE
from .serializers import MAX_SPAN_DAYS, TIME_HELP, QuerySerializer, TimeParamField

_COIN = re.compile(r"\A[A-Za-z0-9]{1,24}\Z")
DAY = 86400


class CoinField(serializers.CharField):
    """A coin such as ``BTC``; contract names and multiplier prefixes are normalized (``1000PEPE`` → PEPE)."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        if not _COIN.match(text):
            raise serializers.ValidationError("expected a coin such as BTC, ETH or PEPE (letters and digits)")
        # All lower case ("1000pepe", "btc"): read as upper case; mixed case keeps the venue's own prefix
        # ("kPEPE" is PEPE on the venue that writes a thousand as k).
        return coin_of(text if any(ch.isupper() for ch in text) else text.upper())


def _exchange() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=venues.names(), required=False, help_text="Only this exchange: " + ", ".join(venues.names())
    )


def _coin() -> CoinField:
    return CoinField(required=False, max_length=24, help_text="Only this coin (BTC, ETH, PEPE…)")


class SummaryQuerySerializer(QuerySerializer):
    window = serializers.ChoiceField(choices=list(WINDOWS), default="24h", help_text="The window ending now")
    exchange = _exchange()
    coin = _coin()


class BarsQuerySerializer(QuerySerializer):
    start_time = TimeParamField(required=False, help_text="First step, inclusive (default: end - 24 h). " + TIME_HELP)
    end_time = TimeParamField(required=False, help_text="Last step, inclusive (default: now). " + TIME_HELP)
    step = serializers.ChoiceField(choices=list(STEPS), default="5m", help_text=f"Bar width; at most {MAX_STEPS} bars")
    by = serializers.ChoiceField(
        choices=["side", "exchange", "coin"], default="side", help_text="Split: long/short, per exchange, top coins"
    )
    exchange = _exchange()
    coin = _coin()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time())
        end = attrs.get("end_time", now)
        start = attrs.get("start_time", end - DAY + 1)
        if start > end:
            raise serializers.ValidationError({"start_time": ["must not be after end_time"]})
        seconds = STEPS[attrs["step"]]
        steps = (end // seconds - start // seconds) + 1
        if steps > MAX_STEPS:
            raise serializers.ValidationError(
                {"step": [f"{steps} bars of {attrs['step']} from start_time to end_time; at most {MAX_STEPS}"]}
            )
        if attrs["step"] != "1d" and end - start > MAX_SPAN_DAYS * DAY:
            raise serializers.ValidationError(
                {"step": [f"bars narrower than 1d may cover at most {MAX_SPAN_DAYS} days; use step=1d"]}
            )
        return {**attrs, "start_time": start, "end_time": end}


class TapeQuerySerializer(QuerySerializer):
    min_usd = serializers.FloatField(min_value=0, max_value=1e10, default=0.0, help_text="Smallest order, USD")
    exchange = _exchange()
    coin = _coin()
    side = serializers.ChoiceField(
        choices=["long", "short"], required=False, help_text="Side of the liquidated position"
    )
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50, help_text="At most 500")
    before = serializers.IntegerField(
        required=False,
        min_value=EARLIEST * 1000,
        help_text="Only events before this Unix-milliseconds time (page backwards with next_before)",
    )
    after = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="Only events after this Unix-milliseconds time (a live tape asks for what is new since its "
        "newest row)",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        ceiling = int((time.time() + MAX_FUTURE) * 1000)
        if attrs.get("before", 0) > ceiling:
            raise serializers.ValidationError({"before": ["must not be more than one day from now (Unix ms)"]})
        return {**attrs, "before": attrs.get("before", ceiling)}


# -- output (for the schema) ----------------------------------------------------------------------


class TotalsSerializer(serializers.Serializer):
    total_usd = serializers.FloatField()
    long_usd = serializers.FloatField(help_text="Long positions liquidated, USD")
    short_usd = serializers.FloatField(help_text="Short positions liquidated, USD")
    count = serializers.IntegerField(help_text="Orders")


class LargestSerializer(serializers.Serializer):
    usd = serializers.FloatField()
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    side = serializers.ChoiceField(choices=["long", "short"])
    ts_ms = serializers.IntegerField()


class ExchangeRowSerializer(TotalsSerializer):
    exchange = serializers.CharField()
    share = serializers.FloatField(help_text="Of the window's total, 0..1")


class CoinRowSerializer(TotalsSerializer):
    coin = serializers.CharField()


class PreviousSerializer(TotalsSerializer):
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    minutes = serializers.IntegerField(help_text="Minutes with a bucket in the previous window")


class CoverageSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(help_text="Minutes with a bucket (the rest are gaps)")
    expected = serializers.IntegerField(help_text="Closed minutes in the window (the current one is still filling)")
    complete = serializers.BooleanField()
    venues = serializers.DictField(child=serializers.FloatField(), help_text="Share of minutes each venue was live")


class UnavailableSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="False: this server keeps no minute buckets")
    detail = serializers.CharField()


class SummaryResponseSerializer(TotalsSerializer):
    available = serializers.BooleanField()
    window = serializers.ChoiceField(choices=list(WINDOWS))
    start = serializers.IntegerField(help_text="First minute, Unix s")
    end = serializers.IntegerField(help_text="Now, Unix s")
    exchange = serializers.CharField(allow_null=True)
    coin = serializers.CharField(allow_null=True)
    largest = LargestSerializer(allow_null=True)
    by_exchange = ExchangeRowSerializer(many=True)
    by_coin = CoinRowSerializer(many=True, help_text="Top 20 coins")
    previous = PreviousSerializer(help_text="The window of equal length before")
    change_pct = serializers.FloatField(allow_null=True, help_text="total_usd against previous, percent")
    coverage = CoverageSerializer()


class SeriesSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="long/short, an exchange, a coin or 'other'")
    values = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(allow_null=True), min_length=2, max_length=2),
        help_text="[[ts_ms, usd or null], …]; null = no bucket in that step (a gap)",
    )


class BarsResponseSerializer(serializers.Serializer):
    available = serializers.BooleanField()
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    step = serializers.ChoiceField(choices=list(STEPS))
    by = serializers.CharField()
    exchange = serializers.CharField(allow_null=True)
    coin = serializers.CharField(allow_null=True)
    series = SeriesSerializer(many=True)
    minutes = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2),
        help_text="[[ts_ms, minutes with a bucket], …] per step",
    )


class TapeEventSerializer(serializers.Serializer):
    ts_ms = serializers.IntegerField()
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    coin = serializers.CharField()
    side = serializers.ChoiceField(choices=["long", "short"])
    price = serializers.FloatField()
    qty = serializers.FloatField()
    usd = serializers.FloatField()


class TapeResponseSerializer(serializers.Serializer):
    available = serializers.BooleanField()
    count = serializers.IntegerField()
    next_before = serializers.IntegerField(allow_null=True, help_text="Pass as before= for the next page")
    results = TapeEventSerializer(many=True, help_text="Newest first")
