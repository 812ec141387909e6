"""A small in-process cache of store reads, keyed on the file's identity (device, inode, size, mtime) and
the query, so it never serves a stale answer: any append or rewrite changes the key."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class _LRU:
    """A small in-process cache of read results, keyed on the file's identity and the query."""

    def __init__(self, size: int, max_records: int) -> None:
        self.size, self.max_records = size, max_records
        self.data: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> list[Any] | None:
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key: tuple[Any, ...], value: list[Any]) -> None:
        if len(value) > self.max_records:
            return
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            # Bounded by entries and by records held in all: a worker's memory stays small.
            while len(self.data) > self.size or sum(len(v) for v in self.data.values()) > self.max_records * 2:
                self.data.popitem(last=False)


#: The process-wide cache of store reads: 64 answers, at most 10,000 records held in all.
CACHE = _LRU(size=64, max_records=5000)
