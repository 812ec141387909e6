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
from collections.abc import Callable, Mapping
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
        """Replace ``name`` with ``change(current)``, with no other writer in between."""


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

    def update(self, name: str, change: Change) -> None:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(path.with_name(path.name + ".lock"), 5.0):
            write_json_atomic(path, change(read_json_object(path)))


def as_state(where: StateStore | str | os.PathLike[str], name: str) -> StateStore:
    """``where`` itself when it is a state store, else a store holding ``name`` in that one file."""
    if isinstance(where, (str, os.PathLike)):
        return FileStateStore({name: where})
    return where
