"""Input serializers validate query parameters (a 400 names the parameter); output serializers
document the responses in the OpenAPI schema.
"""

from __future__ import annotations

import time
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .projection import FieldsError, Paths, parse_fields
from .series import AGGREGATES, INTERVALS, TIME_FORMATS_HELP, parse_time

#: The longest window one request may cover. Longer history: ask for it in pieces (or export by month).
MAX_SPAN_DAYS = 31
MAX_SPAN = MAX_SPAN_DAYS * 86400

TIME_HELP = (
    "Unix seconds, Unix milliseconds (any value >= 1e11), ISO 8601 with or without offset "
    "(no offset = Beijing time, UTC+8) or 'YYYY-MM-DD HH:MM[:SS]' (Beijing time). "
    "Between 2009-01-01 and one day from now."
)


@extend_schema_field({"type": "string", "description": TIME_HELP, "example": "2026-01-17 01:17:31"})
class TimeParamField(serializers.Field):
    """A point in time from a query string, as Unix seconds."""

    default_error_messages = {"invalid": TIME_FORMATS_HELP}

    def to_internal_value(self, data: Any) -> int:
        try:
            return parse_time(data, now=time.time())
        except ValueError as e:
            raise serializers.ValidationError(str(e)) from None

    def to_representation(self, value: int) -> int:
        return value


class QuerySerializer(serializers.Serializer):
    """Base for query-string serializers: a parameter given twice is a 400, not a silent pick."""

    def to_internal_value(self, data: Any) -> Any:
        getlist = getattr(data, "getlist", None)
        if getlist is not None:
            repeated = {name: ["given more than once; give it once"] for name in self.fields if len(getlist(name)) > 1}
            if repeated:
                raise serializers.ValidationError(repeated)
        return super().to_internal_value(data)


class WindowQuerySerializer(QuerySerializer):
    limit = serializers.IntegerField(
        min_value=1,
        max_value=43200,
        default=1440,
        help_text=(
            "The most recent N records (or buckets) inside the window; 1440 = 24 h of minutes. A request "
            "costs one unit of the rate limit per day it covers (limit × interval, or start_time to end_time "
            f"when shorter for minutes); with start_time it may cover at most {MAX_SPAN_DAYS} days."
        ),
    )
    start_time = TimeParamField(required=False, help_text="Window start, inclusive. " + TIME_HELP)
    end_time = TimeParamField(required=False, help_text="Window end, inclusive. " + TIME_HELP)
    interval = serializers.ChoiceField(
        choices=list(INTERVALS),
        default="1m",
        help_text=(
            "Bucket width. Above 1m each bucket is folded by agg and carries max_hour_1_amount (its peak "
            "hour_1_amount), count (its records) and agg; timestamp and datetime are its last record's."
        ),
    )
    agg = serializers.ChoiceField(
        choices=list(AGGREGATES),
        default="max",
        help_text=(
            "How a bucket (interval above 1m) folds its records' numbers: max = each numeric top-level field "
            "(hour_1_amount, panic_index, hour_24_amount, total_position, hour_1_long, …) is its own maximum "
            "over the bucket, so a one-minute peak survives; mean = the mean, rounded to 6 decimals; last = "
            "the last record's values. timestamp, datetime, source_time and nested or non-numeric fields "
            "(by_exchange, coverage, prices, source, lower_bound) are always the last record's. Ignored for 1m."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start_time"), attrs.get("end_time")
        if start is not None and end is not None and start > end:
            raise serializers.ValidationError({"start_time": ["must not be after end_time"]})
        # Explicit windows are capped; limit-only answers stay as they always were (their cost is
        # weighed by the throttle instead, at most one minute's whole budget).
        if start is not None and window_span(attrs, time.time()) > MAX_SPAN:
            raise serializers.ValidationError(
                {
                    "start_time": [
                        f"a request may cover at most {MAX_SPAN_DAYS} days; ask for a shorter window "
                        "(several requests for longer history)"
                    ]
                }
            )
        return attrs


def window_span(params: dict[str, Any], now: float) -> int:
    """Seconds of minutes a validated window request makes the server read: ``limit`` records or
    buckets of ``interval`` back from the end, and no more than ``start_time`` to ``end_time`` (or
    now). Minute records are read backwards and stop at ``limit``; bucketed reads fold the whole
    window, so for them the window counts whole."""
    interval = params.get("interval", "1m")
    by_limit = int(params.get("limit", 1440)) * INTERVALS[interval]
    start = params.get("start_time")
    if start is None:
        return by_limit
    end = params.get("end_time")
    by_window = max(0, int(end if end is not None else now) - start)
    return min(by_limit, by_window) if interval == "1m" else by_window


class HistoryQuerySerializer(WindowQuerySerializer):
    fields = serializers.CharField(
        required=False,
        max_length=2000,
        help_text=(
            "Only these parts of each record, comma-separated: top-level fields (hour_1_amount) or a field "
            "inside each value of a mapping (by_exchange.hour_1); timestamp is always kept. Default: everything."
        ),
    )

    def validate_fields(self, value: str) -> Paths:
        try:
            return parse_fields(value)
        except FieldsError as e:
            raise serializers.ValidationError(str(e)) from e


class StatsQuerySerializer(QuerySerializer):
    hours = serializers.IntegerField(
        min_value=1,
        max_value=720,
        default=24,
        help_text="Window length in hours, ending now; costs one unit of the rate limit per 24 hours.",
    )


# -- output (for the schema) ----------------------------------------------------------------------


class ExchangeFiguresSerializer(serializers.Serializer):
    hour_1 = serializers.FloatField(required=False, help_text="万 USD")
    hour_24 = serializers.FloatField(required=False, help_text="万 USD")
    hour_1_long = serializers.FloatField(required=False, help_text="万 USD")
    hour_1_short = serializers.FloatField(required=False, help_text="万 USD")
    hour_24_long = serializers.FloatField(required=False, help_text="万 USD")
    hour_24_short = serializers.FloatField(required=False, help_text="万 USD")
    open_interest = serializers.FloatField(required=False, help_text="亿 USD")


class RecordSerializer(serializers.Serializer):
    """One minute's record. Unknown stored fields are passed through as they are."""

    timestamp = serializers.IntegerField(help_text="Unix seconds (UTC), time of collection")
    datetime = serializers.CharField(help_text="Beijing time (UTC+8), 'YYYY-MM-DD HH:MM:SS', legacy field")
    time = serializers.DateTimeField(help_text="ISO 8601 with +08:00")
    hour_1_amount = serializers.FloatField(help_text="Liquidations in the trailing hour, 万 USD (10,000 USD)")
    panic_index = serializers.FloatField(help_text="Panic index as the source gives it")
    hour_24_amount = serializers.FloatField(help_text="Liquidations in the trailing 24 hours, 万 USD")
    total_position = serializers.FloatField(help_text="Total open interest, 亿 USD (100,000,000 USD)")
    source = serializers.CharField(required=False, help_text="panic-api | coinglass | exchanges")
    source_time = serializers.IntegerField(required=False, help_text="The upstream's own time, Unix seconds")
    hour_1_long = serializers.FloatField(required=False, help_text="Long positions liquidated in 1 h, 万 USD")
    hour_1_short = serializers.FloatField(required=False, help_text="Short positions liquidated in 1 h, 万 USD")
    hour_24_long = serializers.FloatField(required=False, help_text="万 USD")
    hour_24_short = serializers.FloatField(required=False, help_text="万 USD")
    by_exchange = serializers.DictField(child=ExchangeFiguresSerializer(), required=False)
    coverage = serializers.DictField(required=False, help_text="Which venues a keyless total covers")
    lower_bound = serializers.BooleanField(required=False, help_text="True when the total is a floor")
    prices = serializers.DictField(
        child=serializers.FloatField(),
        required=False,
        help_text="Keyless source: mark prices of BTC and ETH in USD, the median of the venues' main contracts",
    )
    max_hour_1_amount = serializers.FloatField(required=False, help_text="With interval > 1m: the bucket's peak")
    count = serializers.IntegerField(required=False, help_text="With interval > 1m: the records in the bucket")
    agg = serializers.ChoiceField(
        choices=list(AGGREGATES),
        required=False,
        help_text="With interval > 1m: how the bucket's numeric fields were folded (max, mean or last)",
    )


class HistoryRecordSerializer(RecordSerializer):
    """A record in a history answer: every field of Record, or only those ``fields`` asked for (the
    timestamp always)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.required = name == "timestamp"


class HistoryResponseSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    start = serializers.IntegerField(allow_null=True, help_text="Requested start_time, Unix seconds")
    end = serializers.IntegerField(allow_null=True, help_text="Requested end_time, Unix seconds")
    interval = serializers.ChoiceField(choices=list(INTERVALS))
    agg = serializers.ChoiceField(choices=list(AGGREGATES), help_text="The agg asked for (used above 1m only)")
    gaps = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2),
        help_text=(
            "Missing minutes of the asked range as [from, to] (Unix seconds of the first and the last missing "
            "minute's start, inclusive). The range runs from start_time (without it: the first record, or "
            "the first bucket's start) to end_time or now; minutes after now, and the current minute until "
            "it has a record, are never gaps. When limit cut a 1m answer short, from its first record."
        ),
    )
    results = HistoryRecordSerializer(many=True, help_text="Oldest first")


class LatestResponseSerializer(RecordSerializer):
    age_seconds = serializers.IntegerField(
        help_text="Seconds since the record was collected; negative when it is dated after the server's clock"
    )
    stale = serializers.BooleanField(
        help_text="Older than LIQUIDATION_STALE_SECONDS, or dated more than a minute after the server's clock"
    )
    future = serializers.BooleanField(help_text="Dated more than a minute after the server's clock (a clock jump)")


class SummarySerializer(serializers.Serializer):
    min = serializers.FloatField(allow_null=True)
    min_at = serializers.IntegerField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    max_at = serializers.IntegerField(allow_null=True)
    avg = serializers.FloatField(allow_null=True)


class AmountSummarySerializer(SummarySerializer):
    stddev = serializers.FloatField(allow_null=True, help_text="Population standard deviation")
    latest = serializers.FloatField(allow_null=True)


class StatsResponseSerializer(serializers.Serializer):
    hours = serializers.IntegerField()
    start = serializers.IntegerField(help_text="First minute of the window, Unix seconds")
    end = serializers.IntegerField(help_text="Now, Unix seconds")
    count = serializers.IntegerField()
    expected = serializers.IntegerField(help_text="Minutes in the window")
    coverage = serializers.FloatField(help_text="count / expected")
    hour_1_amount = AmountSummarySerializer(help_text="万 USD")
    latest = RecordSerializer(allow_null=True)
    change_1h = serializers.FloatField(allow_null=True, help_text="Latest minus 60 minutes earlier, 万 USD")
    panic_index = SummarySerializer()
    missing_minutes = serializers.IntegerField()
    gaps = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2),
        help_text="Missing minutes as [from, to] ranges (Unix seconds of each minute's start, inclusive)",
    )


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


#: The 400 body: every bad parameter with what is wrong and what is accepted.
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {"start_time": [TIME_FORMATS_HELP]},
}
