"""Reading a JSONL file by byte offsets: line framing, bad-line accounting, binary search.

Framing. A line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (a file saved by an editor with CR line
ends still reads); empty lines are ignored, a whitespace-only line is a bad ("blank") line, and the
bytes after the last line end (a write in progress, or torn) are never a line. A line longer than
``MAX_LINE_BYTES`` is skipped as a bad line without being copied or parsed: a reader steps over it
at ``memchr`` speed, so one huge line costs a scan of its bytes, never a quadratic re-copy.

Cost. Every reader counts what it read (``ReadReport.bytes_read``) and how many lines it parsed
(``ReadReport.parsed``), so tests can assert that a read costs what it returns plus a bounded
amount of skipping, independent of the file's size.

Django-free.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .durable import end_of_last_line as end_of_complete_lines
from .records import MAX_LINE_BYTES, RecordError, parse_line

logger = logging.getLogger("liquidation.store")

__all__ = ["LineCursor", "ReadReport", "end_of_complete_lines", "lines_backward", "lines_forward", "valid"]

BLOCK = 64 * 1024
READ_CHUNK = 1 << 20
FIRST_CHUNK = 16 * 1024  # small first: a 1 h window is ~15 KB; reads double up to READ_CHUNK
PROBE = 1024
TOO_LONG = f"line over the {MAX_LINE_BYTES}-byte limit"
UNTERMINATED = "unterminated last line (a write in progress or a torn write)"


@dataclass
class ReadReport:
    """What one read skipped (count, the first one's 1-based line number when known, and why) and
    what it cost (bytes read, lines parsed)."""

    skipped: int = 0
    first_line: int | None = None
    first_reason: str = ""
    bytes_read: int = 0
    parsed: int = 0
    duplicates: int = 0
    keep: bool = False  # keep every skipped line's (number, reason) in ``skips`` (verify, import)
    skips: list[tuple[int | None, str]] = field(default_factory=list)

    def skip(self, line_no: int | None, reason: str) -> None:
        self.skipped += 1
        if self.keep:
            self.skips.append((line_no, reason))
        if self.first_reason == "":
            self.first_line, self.first_reason = line_no, reason

    def warn(self, path: Path, where: str = "") -> None:
        if self.skipped:
            at = f"line {self.first_line}" if self.first_line else where or "near the end"
            logger.warning("%s: skipped %d bad line(s); first at %s: %s", path, self.skipped, at, self.first_reason)


def _normalize(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in data else data


def next_end(data: bytes, start: int = 0) -> int:
    """Index of the first line end (``\\n`` or ``\\r``) at or after ``start``, -1 when none."""
    n = data.find(b"\n", start)
    r = data.find(b"\r", start, n if n >= 0 else len(data))
    return r if r >= 0 else n


def lines_forward(
    fd: int, offset: int, size: int, report: ReadReport, *, line_no: int | None = None
) -> Iterator[tuple[int | None, bytes]]:
    """(line number or None, line) for the complete lines from ``offset`` (a line start) to ``size``.

    Line numbers are counted from ``line_no`` when given (pass 1 when reading from the start)."""
    pos, carry, step, skipping = offset, b"", FIRST_CHUNK, False
    while pos < size:
        chunk = os.pread(fd, min(step, size - pos), pos)
        if not chunk:
            break
        report.bytes_read += len(chunk)
        pos += len(chunk)
        step = min(step * 2, READ_CHUNK)
        data, hold = carry + chunk, b""
        if data.endswith(b"\r") and pos < size:
            data, hold = data[:-1], b"\r"  # it may be the first half of a \r\n split by the read
        pieces = _normalize(data).split(b"\n")
        carry = pieces.pop()
        for piece in pieces:
            if skipping:
                skipping = False
                report.skip(line_no, TOO_LONG)
            elif piece:
                if len(piece) > MAX_LINE_BYTES:
                    report.skip(line_no, TOO_LONG)
                elif piece.strip():
                    yield line_no, piece
                else:
                    report.skip(line_no, "blank line")
            if line_no is not None:
                line_no += 1
        if len(carry) > MAX_LINE_BYTES:
            skipping, carry = True, b""
        carry += hold
    if skipping or carry.strip():
        report.skip(line_no, UNTERMINATED)


def lines_backward(fd: int, end: int, report: ReadReport) -> Iterator[bytes]:
    """The complete lines that end at or before ``end`` (a line start, or just past a line end),
    newest first. An over-long line is skipped without being accumulated."""
    pos, tail, skipping, step = end, b"", False, 4096
    while pos > 0:
        start = max(0, pos - step)
        step = min(step * 2, BLOCK)  # small first: latest() and a window's edges need a line or two
        block = os.pread(fd, pos - start, start)
        report.bytes_read += len(block)
        pos = start
        data = block + tail
        if pos > 0:
            i = next_end(data)
            if i < 0:  # no line end in this block: all of it belongs to one line
                tail = b"" if skipping else data
                if len(tail) > MAX_LINE_BYTES:
                    skipping, tail = True, b""
                continue
            head, rest = data[:i], data[i:]
        else:
            head, rest = b"", data
        pieces = _normalize(rest).split(b"\n")
        for k, piece in enumerate(reversed(pieces)):
            if k == 0 and skipping:
                skipping = False
                report.skip(None, TOO_LONG)
            elif len(piece) > MAX_LINE_BYTES:
                report.skip(None, TOO_LONG)
            elif piece.strip():
                yield piece
            elif piece:
                report.skip(None, "blank line")
        tail = head
    if skipping:
        report.skip(None, TOO_LONG)


def valid(lines: Iterator[bytes], report: ReadReport) -> Iterator[dict[str, Any]]:
    """The records among ``lines``; each line that is not one is skipped and counted in ``report``."""
    for line in lines:
        report.parsed += 1
        try:
            yield parse_line(line)
        except RecordError as e:
            report.skip(None, str(e))


class LineCursor:
    """Finds line starts and parses single lines at byte offsets, for the binary search.

    Remembers the over-long lines it has stepped over, so probes landing inside the same huge line
    do not scan it again: the skipping a search does is bounded by the size of the junk, once.
    """

    def __init__(self, fd: int, size: int, report: ReadReport) -> None:
        self.fd, self.size, self.report = fd, size, report
        self.spans: list[tuple[int, int]] = []  # [from, line end): no line end in between

    def _read(self, length: int, offset: int) -> bytes:
        data = os.pread(self.fd, min(length, self.size - offset), offset)
        self.report.bytes_read += len(data)
        return data

    def end_after(self, pos: int) -> int:
        """Offset of the first line end at or after ``pos``; ``size`` when there is none."""
        for frm, to in self.spans:
            if frm <= pos < to:
                return to
        at = pos
        step = PROBE
        while at < self.size:
            data = self._read(step, at)
            if not data:
                break
            i = next_end(data)
            if i >= 0:
                if at + i - pos > MAX_LINE_BYTES:
                    self.spans.append((pos, at + i))
                return at + i
            at += len(data)
            step = min(step * 4, READ_CHUNK)
        self.spans.append((pos, self.size))
        return self.size

    def start_after_end(self, end: int) -> int:
        """The start of the line after the line end at ``end`` (``\\r\\n`` counts as one)."""
        if end >= self.size:
            return self.size
        pair = self._read(2, end)
        return end + (2 if pair == b"\r\n" else 1)

    def line_at(self, start: int) -> tuple[bytes | None, int]:
        """(the line starting at ``start`` or None when it is over-long or unterminated, next line start)."""
        end = self.end_after(start)
        if end >= self.size:
            return None, self.size
        nxt = self.start_after_end(end)
        if end - start > MAX_LINE_BYTES:
            return None, nxt
        return self._read(end - start, start), nxt

    def record_at(self, start: int) -> tuple[dict[str, Any] | None, int]:
        """(the valid record on the line at ``start`` or None, next line start)."""
        line, nxt = self.line_at(start)
        if line is None or not line.strip():
            return None, nxt
        self.report.parsed += 1
        try:
            return parse_line(line), nxt
        except RecordError:
            return None, nxt

    def first_record_from(self, start: int, hi: int) -> tuple[int, dict[str, Any], int] | None:
        """(line start, record, next line start) of the first valid record on a line starting in
        [start, hi)."""
        while start < hi:
            record, nxt = self.record_at(start)
            if record is not None:
                return start, record, nxt
            if nxt <= start:
                return None
            start = nxt
        return None

    def seek(self, target: int, slack: int = 8 * 1024) -> int:
        """A line start such that, in a sorted file, every record before it is older than ``target``.

        Binary search over byte offsets: from a probe point, resynchronise on the next line end,
        read the first valid record there (bad lines stepped over) and compare. O(log(size)) small
        reads, plus at most one scan of each over-long line."""
        lo, hi = 0, self.size
        while hi - lo > slack:
            mid = (lo + hi) // 2
            found = self.first_record_from(self.start_after_end(self.end_after(mid)), hi)
            if found is None or found[1]["timestamp"] >= target:
                hi = mid
            else:
                lo = found[0]
        return lo

    def seek_exact(self, target: int) -> int:
        """The start of the first line whose valid record is at or after ``target`` (``size`` if
        none): ``seek`` and then at most its slack read forward."""
        found = self.first_record_from(self.seek(target), self.size)
        while found is not None and found[1]["timestamp"] < target:
            found = self.first_record_from(found[2], self.size)
        return self.size if found is None else found[0]
