"""Minute buckets in PostgreSQL (``LIQUIDATION_STORE=postgresql``): what ``bucketstore``/``bucketread`` do
with fold logs and day files, for any number of collectors on any number of machines.

A fold recomputes, whole, the bucket of every minute that received an event since the previous fold
(the events' ``stored_at`` is the database's clock, shared by all machines; ``MARGIN`` seconds are read
again so an insert whose transaction was still open is not missed), then writes the coverage of the minutes
closed since. A bucket is a pure function of its minute's events, so two collectors folding at once write
the same row, and one that wrote from an older snapshot is corrected by the next fold: no leader, no lock.

``PgBucketReader`` answers like ``bucketread.BucketReader`` (``minutes``, ``total``, ``day_total``), keeping
parsed minutes per process until their ``ver`` changes, hour totals until one of their minutes does, and day
totals until the day's row count or newest ``ver`` does.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from django.db import DatabaseError, connections
from django.db.models import Count, F, Max

from . import buckets
from .bucketlines import day_start
from .bucketstore import COVER_BACK, FoldResult, Mark
from .models import Bucket, Event
from .statestore import StateStore
from .store import StoreError

FOLDS = "folds"  # the state row of the newest fold: seq, since (database clock), covered, live
MARGIN = 120  # seconds of inserts read again by each fold (a transaction open across the previous fold)
SPAN = 3 * 3600  # a refold reads the events of at most this many seconds at once
HOUR = 3600
Loaded = tuple[int, dict[str, buckets.Line]]  # a minute's ver and its lines by table
MAX_MINUTES = 20_000  # parsed minutes kept per process (two weeks)
SEQ_TTL = 1.0  # seconds a reader trusts the committed fold count it read
_FOLDED_HERE = [0]  # writes to the buckets by this process: a reader here trusts nothing older
SPAN_BACK = 2 * 86400 + 3600  # a read within this much of now loads all of it (a 24 h window and the one before)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class PgBucketStore:
    """Buckets in the database of alias ``using``; fold state in ``state`` (a ``pgstore.PgStateStore``)."""

    def __init__(self, state: StateStore, using: str = "default") -> None:
        self.state, self.using = state, using
        self.key = f"pg:{using}"

    def _rows(self):
        return Bucket.objects.using(self.using)

    def mark(self) -> Mark | None:
        """The newest committed fold as the file store gives it (``seq``, ``at``, ``covered``), or None."""
        state = self.state.read(FOLDS)
        covered = state.get("covered") if isinstance(state.get("covered"), int) else None
        at = state.get("at") if isinstance(state.get("at"), int) else 0
        return Mark(seq=state["seq"], at=at, covered=covered) if isinstance(state.get("seq"), int) else None

    def committed(self) -> int:
        """How many folds have been committed (0: none yet, the store keeps no buckets)."""
        mark = self.mark()
        return mark.seq if mark else 0

    def identity(self) -> str:
        """Names this store in ETags (a rebuilt file store may reuse numbers; a table keeps counting)."""
        return self.key

    def new_reader(self) -> PgBucketReader:
        return PgBucketReader(self)

    def _db_ver(self) -> int:
        """A bucket's version: the database's clock in µs, one clock for every collector, so a rewrite
        always moves a minute's ``ver`` and a day's newest ``ver`` forward."""
        return int(self._db_now() * 1_000_000)

    def _db_now(self) -> float:
        with connections[self.using].cursor() as cursor:
            cursor.execute("SELECT extract(epoch FROM clock_timestamp())")
            return float(cursor.fetchone()[0])

    def fold(self, events: Any, live: Mapping[str, int], now: float) -> FoldResult:
        """Recompute the minutes of the events stored since the last fold, write the coverage of the minutes
        closed since (``live``: venue → complete since, Unix s), commit. ``events`` is accepted for the file
        store's signature (the events are in the same database). Raises ``StoreError``."""
        try:
            started = self._db_now()
            mark = self.state.read(FOLDS)
            rows = Event.objects.using(self.using)
            since = mark.get("since")
            if isinstance(since, (int, float)):
                rows = rows.filter(stored_at__gte=datetime.fromtimestamp(since - MARGIN, UTC))
            minutes = sorted(
                m * 60 for m in rows.annotate(m=F("ts_ms") / 60_000).values_list("m", flat=True).distinct()
            )
            read = self._refold(minutes)
            covered = self._cover(mark, live, now)
        except DatabaseError as e:
            raise StoreError(f"PostgreSQL buckets: {e.__class__.__name__}: {e}") from e
        now_m = int(now) // 60 * 60

        def commit(current: dict[str, Any]) -> dict[str, Any]:
            seq = current.get("seq") if isinstance(current.get("seq"), int) else 0
            previous = current.get("since") if isinstance(current.get("since"), (int, float)) else started
            old = current.get("covered") if isinstance(current.get("covered"), int) else now_m - 60
            done = {"seq": seq + 1, "since": max(started, previous), "covered": max(now_m - 60, old)}
            return {**done, "at": int(now), "live": dict(live)}

        self.state.update(FOLDS, commit)
        _FOLDED_HERE[0] += 1
        return FoldResult(seq=self.committed(), events=read, minutes=len(minutes) + covered)

    def _refold(self, minutes: list[int], *, changed_only: bool = True) -> int:
        """Rewrite the cells of ``minutes`` from their events, a span of at most ``SPAN`` at a time; with
        ``changed_only``, only the minutes whose event count or newest event id differ from what their
        bucket was folded from (one grouped index scan tells), so refolding recent minutes costs little."""
        read = 0
        i = 0
        while i < len(minutes):
            chunk = [minutes[i]]
            while i + len(chunk) < len(minutes) and minutes[i + len(chunk)] - chunk[0] < SPAN:
                chunk.append(minutes[i + len(chunk)])
            i += len(chunk)
            span = Event.objects.using(self.using).filter(ts_ms__gte=chunk[0] * 1000, ts_ms__lt=(chunk[-1] + 60) * 1000)
            stats = {
                m * 60: (n, upto)
                for m, n, upto in span.annotate(m=F("ts_ms") / 60_000)
                .values("m")
                .annotate(n=Count("id"), upto=Max("id"))
                .values_list("m", "n", "upto")
            }
            if changed_only:
                done = dict(
                    (m, (n, upto))
                    for m, n, upto in self._rows().filter(minute__in=chunk).values_list("minute", "n", "upto")
                )
                chunk = [m for m in chunk if stats.get(m, (0, 0)) != done.get(m)]
                if not chunk:
                    continue
            wanted = set(chunk)
            pairs = []
            span = Event.objects.using(self.using).filter(ts_ms__gte=chunk[0] * 1000, ts_ms__lt=(chunk[-1] + 60) * 1000)
            for row_id, line in span.order_by("ts_ms", "id").values_list("id", "line").iterator(chunk_size=5000):
                event = json.loads(line)
                if buckets.minute_of_ms(event["ts_ms"]) in wanted:
                    pairs.append((row_id, event))
            read += len(pairs)
            folded = buckets.fold(pairs)
            ver = self._db_ver()
            _FOLDED_HERE[0] += 1
            cells = {m: folded.get(m, {}) for m in chunk}  # a minute whose events were deleted is a zero
            fresh = [
                Bucket(minute=m, x=_dumps(b.get("x", {})), c=_dumps(b.get("c", {})), ver=ver, n=n, upto=upto)
                for m, b in cells.items()
                for n, upto in [stats.get(m, (0, 0))]
            ]
            fields = ["x", "c", "ver", "n", "upto"]
            self._rows().bulk_create(
                fresh, batch_size=1000, update_conflicts=True, unique_fields=["minute"], update_fields=fields
            )
        return read

    def _cover(self, mark: Mapping[str, Any], live: Mapping[str, int], now: float) -> int:
        """Write ``live`` (the venues complete for the whole minute) for the minutes closed since the last
        fold, where no fold wrote it yet. Returns how many minutes got coverage."""
        now_m = int(now) // 60 * 60
        covered = mark.get("covered")
        first = covered + 60 if isinstance(covered, int) else now_m - COVER_BACK
        by_names: dict[str, list[int]] = {}
        for m in range(max(first, now_m - COVER_BACK), now_m, 60):
            names = sorted(v for v, since in live.items() if since <= m)
            if names:
                by_names.setdefault(_dumps(names), []).append(m)
        ver = self._db_ver()
        for names, ms in by_names.items():
            self._rows().bulk_create([Bucket(minute=m, live=names, ver=ver) for m in ms], ignore_conflicts=True)
            self._rows().filter(minute__in=ms, live__isnull=True).update(live=names, ver=ver)
        return sum(len(ms) for ms in by_names.values())

    def coverage(self, start: int, end: int) -> dict[int, list[str]]:
        """The minutes in ``[start, end]`` that have a bucket, and their live venues ([]: none written)."""
        rows = self._rows().filter(minute__gte=start, minute__lte=end)
        return {m: json.loads(live) if live else [] for m, live in rows.values_list("minute", "live")}

    def import_coverage(self, live: Mapping[int, list[str]]) -> None:
        """Set the coverage of minutes that have none yet (``migrate_store``: the files' coverage), count a
        fold (readers see the buckets as available) and move ``covered`` past them (the next fold writes the
        coverage of later minutes only: an older minute without any was a gap, and stays one)."""
        by_names: dict[str, list[int]] = {}
        for m, names in live.items():
            if names:
                by_names.setdefault(_dumps(sorted(names)), []).append(m)
        try:
            ver = self._db_ver()
            for names, ms in by_names.items():
                for i in range(0, len(ms), 2000):
                    part = ms[i : i + 2000]
                    self._rows().bulk_create(
                        [Bucket(minute=m, live=names, ver=ver) for m in part], ignore_conflicts=True
                    )
                    self._rows().filter(minute__in=part, live__isnull=True).update(live=names, ver=ver)
            started = self._db_now()
        except DatabaseError as e:
            raise StoreError(f"PostgreSQL buckets: {e.__class__.__name__}: {e}") from e
        newest = max((m for m, names in live.items() if names), default=None)

        def commit(c: dict[str, Any]) -> dict[str, Any]:
            known = [x for x in (c.get("covered"), newest) if isinstance(x, int)]
            since = c.get("since", started)
            return {**c, "seq": (c.get("seq") or 0) + 1, "since": since, "covered": max(known) if known else None}

        self.state.update(FOLDS, commit)

    def rebuild(self, events: Any, since: date | None = None, progress: Callable[[str], Any] = print) -> str:
        """Recompute every minute with events (from ``since``), day by day; coverage is kept."""
        rows = Event.objects.using(self.using)
        if since is not None:
            rows = rows.filter(ts_ms__gte=day_start(since) * 1000)
        try:
            started = self._db_now()  # every event stored before this is refolded below
            minutes = sorted(
                m * 60 for m in rows.annotate(m=F("ts_ms") / 60_000).values_list("m", flat=True).distinct()
            )
            days: dict[date, list[int]] = {}
            for m in minutes:
                days.setdefault(datetime.fromtimestamp(m, UTC).date(), []).append(m)
            for i, (day, ms) in enumerate(sorted(days.items()), 1):
                n = self._refold(ms, changed_only=False)
                progress(f"{day}: {n:,} events → {len(ms):,} minutes ({i}/{len(days)})")
        except DatabaseError as e:
            raise StoreError(f"PostgreSQL buckets: {e.__class__.__name__}: {e}") from e

        def commit(c: dict[str, Any]) -> dict[str, Any]:  # readers elsewhere read again; later folds start here
            since = max(started, c["since"]) if isinstance(c.get("since"), (int, float)) else started
            return {**c, "seq": (c.get("seq") or 0) + 1, "since": since}

        self.state.update(FOLDS, commit)
        return f"rebuilt {len(days)} day(s)"


class PgBucketReader:
    """``bucketread.BucketReader``'s answers from the ``liquidation_bucket`` table, cached per process."""

    def __init__(self, store: PgBucketStore) -> None:
        self.store = store
        self._lock = threading.RLock()
        self._minutes: OrderedDict[int, tuple[int, dict[str, buckets.Line]]] = OrderedDict()
        self._hours: dict[tuple[str, int], tuple[tuple[int, ...], buckets.Line]] = {}
        self._days: dict[tuple[str, date], tuple[tuple[int, int], buckets.Line]] = {}
        self._seq: tuple[float, int, int] = (-1.0, 0, 0)  # (monotonic time read, committed fold, _FOLDED_HERE)
        self._span: tuple[int, int, tuple[int, int], dict[int, tuple[int, dict[str, buckets.Line]]]] | None = None

    def committed(self) -> int:
        """The committed fold count, read at most once a ``SEQ_TTL`` (a 288-bar answer asks for it 576
        times; a fold lands once a minute), or at once after a fold or rebuild in this process (the
        collector reads the totals it just folded)."""
        with self._lock:
            read_at, seq, here = self._seq
        if time.monotonic() - read_at < SEQ_TTL and here == _FOLDED_HERE[0]:
            return seq
        here = _FOLDED_HERE[0]
        seq = self.store.committed()
        with self._lock:
            self._seq = (time.monotonic(), seq, here)
        return seq

    def available(self) -> bool:
        return self.committed() > 0

    def _load(self, lo: int, hi: int) -> dict[int, tuple[int, dict[str, buckets.Line]]]:
        """The minutes in ``[lo, hi]`` as ``{minute: (ver, {"venues": line, "coins": line})}``.

        Buckets change only in a fold, so the span read last (at least the last ``SPAN_BACK`` seconds, which
        windows and bars ending now ask for step after step) answers without a query until the committed
        fold count moves; else the versions come from one index scan and only minutes not cached at their
        version are parsed."""
        seq = (self.committed(), _FOLDED_HERE[0])
        with self._lock:
            span = self._span
        if span is not None and span[2] == seq and span[0] <= lo and hi <= span[1]:
            rows = span[3]
            return {m: rows[m] for m in range(-(-lo // 60) * 60, hi + 1, 60) if m in rows}
        now_m = int(time.time()) // 60 * 60
        if lo >= now_m - SPAN_BACK:
            lo, hi = now_m - SPAN_BACK, max(hi, now_m + 60)
        loaded = self._query(lo, hi)
        with self._lock:
            self._span = (lo, hi, seq, loaded)
        return loaded

    def _query(self, lo: int, hi: int) -> dict[int, tuple[int, dict[str, buckets.Line]]]:
        rows = self.store._rows().filter(minute__gte=lo, minute__lte=hi)
        vers = dict(rows.values_list("minute", "ver"))
        with self._lock:  # what this call answers with: nothing another thread's eviction can take away
            out = {m: self._minutes[m] for m, v in vers.items() if m in self._minutes and self._minutes[m][0] == v}
        stale = [m for m in vers if m not in out]
        for i in range(0, len(stale), 2000):
            part = self.store._rows().filter(minute__in=stale[i : i + 2000])
            for m, ver, x, c, live in part.values_list("minute", "ver", "x", "c", "live"):
                names = json.loads(live) if live else []
                coins = json.loads(c)
                views = {"venues": {"live": names, "x": json.loads(x), "c": {}}}
                if coins:  # as in the files: a minute has a coin line only when it has coin cells
                    views["coins"] = {"live": [], "x": {}, "c": coins}
                out[m] = (ver, views)
        with self._lock:
            for m, item in out.items():
                self._minutes[m] = item
                self._minutes.move_to_end(m)
            while len(self._minutes) > MAX_MINUTES:
                self._minutes.popitem(last=False)
        return out

    def minutes(self, table: str, start: int, end: int) -> dict[int, buckets.Line]:
        """The buckets of the minutes starting in ``[start, end]`` (Unix s), by minute."""
        loaded = self._load(start, end).items()
        return {m: views[table] for m, (_, views) in loaded if start <= m <= end and table in views}

    def total(self, table: str, start: int, end: int) -> buckets.Line:
        """The sum of the minutes starting in ``[start, end]``: whole hours from the cache, edges by minute."""
        lo, hi = -(-start // 60) * 60, end // 60 * 60
        if hi < lo:
            return buckets.empty_total()
        return self._sum(table, lo, hi, self._load(lo, hi))

    def _sum(
        self, table: str, lo: int, hi: int, loaded: Mapping[int, tuple[int, dict[str, buckets.Line]]]
    ) -> buckets.Line:
        total = buckets.empty_total()
        hour = lo // HOUR * HOUR
        while hour <= hi:
            ms = range(max(hour, lo), min(hour + HOUR - 60, hi) + 60, 60)
            if hour >= lo and hour + HOUR - 60 <= hi:
                buckets.accumulate(total, self._hour(table, hour, loaded))
            else:
                for m in ms:
                    if table in loaded.get(m, (0, {}))[1]:
                        buckets.accumulate(total, loaded[m][1][table])
            hour += HOUR
        return total

    def _hour(self, table: str, hour: int, loaded: Mapping[int, tuple[int, dict[str, buckets.Line]]]) -> buckets.Line:
        sig = tuple(loaded[m][0] if m in loaded else 0 for m in range(hour, hour + HOUR, 60))
        with self._lock:
            cached = self._hours.get((table, hour))
            if cached is None or cached[0] != sig:
                got = buckets.empty_total()
                for m in range(hour, hour + HOUR, 60):
                    if table in loaded.get(m, (0, {}))[1]:
                        buckets.accumulate(got, loaded[m][1][table])
                cached = self._hours[(table, hour)] = (sig, got)
            return cached[1]

    def day_total(self, table: str, day: date) -> buckets.Line:
        """One whole UTC day's total, kept until the day's row count or newest ``ver`` changes (a year of
        daily bars costs one small query per day once the days are cached)."""
        start = day_start(day)
        day_rows = self.store._rows().filter(minute__gte=start, minute__lt=start + 86400)
        sig = day_rows.aggregate(n=Count("minute"), v=Max("ver"))
        stamp = (sig["n"], sig["v"] or 0)
        with self._lock:
            cached = self._days.get((table, day))
            if cached is not None and cached[0] == stamp:
                return cached[1]
        # Summed from rows read now, not from the span (which waits for the fold count): the total and its
        # stamp are never of two different moments for long (a change in between moves the stamp again).
        got = self._sum(table, start, start + 86340, self._query(start, start + 86340))
        with self._lock:
            self._days[(table, day)] = (stamp, got)
        return got

    def warm(self, now: float) -> None:
        """Read both tables' last two days, as ``BucketReader.warm`` does."""
        if self.available():
            end = int(now)
            for table in ("venues", "coins"):
                self.total(table, end - 2 * 86400, end)
