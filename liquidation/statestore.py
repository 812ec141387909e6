"""Small shared state: what one process writes and others read (the collector's last run, the listener's
status). One interface, two backends: JSON files beside the data (the embedded default; each name is one
file, replaced atomically, read-modify-write under a sidecar lock) and PostgreSQL (``pgstore.PgStateStore``:
one row per name, updated in a transaction with the row locked), chosen by ``conf.state_store()`` with the
records store. Values are JSON objects; a missing or unreadable one reads as ``{}``.

Functions that used to take a file path take a ``StateStore`` or a path (``as_state``), so a single file
still works where a test or a tool has one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .durable import FileLock
from .sharedfiles import read_json_object, write_json_atomic

Change = Callable[[dict[str, Any]], dict[str, Any]]


@runtime_checkable
class StateStore(Protocol):
    def read(self, name: str) -> dict[str, Any]:
        """The value of ``name``, or {} when there is none (or it is unreadable)."""

    def write(self, name: str, value: dict[str, Any]) -> None:
        """Replace ``name`` whole (readers see the old value or the new one, never a mix)."""

    def update(self, name: str, change: Change) -> None:
        """Replace ``name`` with ``change(current)``, with no other writer in between. When ``change``
        raises, nothing is written and the exception propagates."""

    def locked(self, name: str) -> AbstractContextManager[dict[str, Any]]:
        """``with store.locked(name) as value:`` change ``value`` in place; it is saved when the block ends
        without an exception, and no other writer of ``name`` runs in between (keep the block short)."""

    def stamp(self, name: str) -> Any:
        """A cheap token that changes whenever ``name`` is written (None: never written), so readers can
        keep a parsed value until it does."""


class FileStateStore:
    """Each name one JSON file: the one ``paths`` gives it, else ``<folder>/<name>.json``."""

    def __init__(
        self, paths: Mapping[str, str | os.PathLike[str]], folder: str | os.PathLike[str] | None = None
    ) -> None:
        self.paths = {name: Path(path) for name, path in paths.items()}
        self.folder = Path(folder) if folder is not None else None

    def __repr__(self) -> str:
        return f"FileStateStore({sorted(self.paths)}, folder={self.folder})"

    def path(self, name: str) -> Path:
        if name in self.paths:
            return self.paths[name]
        if self.folder is None:
            raise KeyError(f"state {name!r} has no file here: name it in paths, or give a folder")
        return self.folder / f"{name}.json"

    def read(self, name: str) -> dict[str, Any]:
        return read_json_object(self.path(name))

    def write(self, name: str, value: dict[str, Any]) -> None:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, value)

    def stamp(self, name: str) -> Any:
        try:
            st = os.stat(self.path(name))
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def update(self, name: str, change: Change) -> None:
        update_locked(self, name, change)

    @contextmanager
    def locked(self, name: str) -> Iterator[dict[str, Any]]:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(path.with_name(path.name + ".lock"), 10.0):
            value = read_json_object(path)
            yield value
            write_json_atomic(path, value)


def update_locked(store: StateStore, name: str, change: Change) -> None:
    """``StateStore.update`` for any store with ``locked``: ``change`` of the current value replaces it,
    inside the lock (nothing is written when ``change`` raises)."""
    with store.locked(name) as value:
        new = change(dict(value))
        value.clear()
        value.update(new)


def as_state(where: StateStore | str | os.PathLike[str], name: str) -> StateStore:
    """``where`` itself when it is a state store, else a store holding ``name`` in that one file."""
    if isinstance(where, (str, os.PathLike)):
        return FileStateStore({name: where})
    return where
