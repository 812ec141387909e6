"""Exports: the window as CSV (for spreadsheets) or JSON Lines (as stored), streamed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.http import HttpResponseBase, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from .. import series
from ..records import to_line
from ..serializers import WindowQuerySerializer
from .base import ERRORS, SeriesAPIView, window


class _FirstRenderer(BaseContentNegotiation):
    """No negotiation: an export streams its one format, and its errors are JSON."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class ExportView(SeriesAPIView):
    """A plain streaming answer in the export's own format; the only renderer is JSON, for errors (a 400
    naming the parameter, a 429), whatever the client's Accept header says."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = _FirstRenderer
    media_type = ""
    filename_ext = ""

    def get(self, request: Request) -> HttpResponseBase:
        p = window(request)
        if (response := self.not_modified(request)) is not None:
            return response
        records = series.select(
            self.store, p.get("start_time"), p.get("end_time"), p["limit"], p["interval"], agg=p["agg"]
        )
        first = records[0]["timestamp"] if records else 0
        last = records[-1]["timestamp"] if records else 0
        response = StreamingHttpResponse(self.stream(records), content_type=f"{self.media_type}; charset=utf-8")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="liquidation_1h_{first}_{last}.{self.filename_ext}"'
        )
        return response

    def stream(self, records: list[dict[str, Any]]) -> Iterator[bytes]:
        raise NotImplementedError


class ExportCSVView(ExportView):
    media_type = "text/csv"
    filename_ext = "csv"

    @extend_schema(
        summary="Export as CSV",
        description=(
            "Same window parameters as history. UTF-8 with a byte-order mark (for Excel); the header row "
            "holds the JSON field names, nested fields flattened with dots (`by_exchange.<venue>.hour_1`); "
            "numbers, booleans and lists are written as JSON."
        ),
        parameters=[WindowQuerySerializer],
        responses={(200, "text/csv"): OpenApiTypes.STR, **ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        return super().get(request)

    def stream(self, records: list[dict[str, Any]]) -> Iterator[bytes]:
        rows = [dict(series.flatten(series.present(r))) for r in records]
        columns: dict[str, None] = {}
        for row in rows:
            columns.update(dict.fromkeys(row))
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(columns)
        yield "\ufeff".encode() + buf.getvalue().encode("utf-8")
        for i in range(0, len(rows), 500):
            buf.seek(0)
            buf.truncate()
            for row in rows[i : i + 500]:
                writer.writerow([series.csv_cell(row.get(c)) for c in columns])
            yield buf.getvalue().encode("utf-8")


class ExportJSONLView(ExportView):
    media_type = "application/x-ndjson"
    filename_ext = "jsonl"

    @extend_schema(
        summary="Export as JSON Lines",
        description="Same window parameters as history. One stored record per line, as in the data file.",
        parameters=[WindowQuerySerializer],
        responses={(200, "application/x-ndjson"): OpenApiTypes.STR, **ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        return super().get(request)

    def stream(self, records: list[dict[str, Any]]) -> Iterator[bytes]:
        for i in range(0, len(records), 500):
            yield b"".join(to_line(r) for r in records[i : i + 500])
