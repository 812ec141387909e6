"""Durable file primitives shared by every store file: a sidecar lock, whole-line fsynced appends,
torn-tail recovery and directory syncs.

- ``FileLock``: an exclusive ``fcntl.flock`` on a sidecar ``<file>.lock`` that is never replaced or
  deleted (so it stays valid across ``os.replace`` rewrites) and dies with its process.
- ``append_durably``: under the lock, cut a torn tail aside, let the caller refuse the write, then
  one ``os.write`` of whole lines on an ``O_APPEND`` descriptor and ``os.fdatasync``; a short or
  failed write is truncated away, an fsync error is never retried.

Django-free.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger("liquidation.store")


class StoreError(Exception):
    """The store could not do what was asked; nothing was written."""


def append_durably(
    path: Path, data: bytes, *, lock_timeout: float = 10.0, check: Callable[[int], None] | None = None
) -> None:
    """Append ``data`` (whole lines) to ``path`` under the sidecar lock ``<path>.lock``.

    Creates the file and its folders if needed; cuts off a torn tail first; then calls ``check``
    with the open descriptor (it may raise to refuse the write); then writes ``data`` with one
    ``os.write`` and ``os.fdatasync``s it. Raises StoreError on any I/O failure, leaving the file as
    it was (a short or failed write is truncated away).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(path.with_name(path.name + ".lock"), lock_timeout):
            created = not path.exists()
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                cut_torn_tail(fd, path)
                if check is not None:
                    check(fd)
                _write_whole(fd, data, path)
            finally:
                os.close(fd)
            if created:
                fsync_dir(path.parent)
    except OSError as e:  # a folder or lock that cannot be created, a failed truncate: one error type
        raise StoreError(f"appending to {path} failed: {e.strerror or e}") from e


def _write_whole(fd: int, buf: bytes, path: Path) -> None:
    size_before = os.fstat(fd).st_size
    try:
        written = os.write(fd, buf)
    except OSError as e:
        _truncate_quietly(fd, size_before)
        raise StoreError(f"write to {path} failed: {e.strerror or e}") from e
    if written != len(buf):
        _truncate_quietly(fd, size_before)
        raise StoreError(f"short write to {path} ({written} of {len(buf)} bytes); undone")
    try:
        os.fdatasync(fd)
    except OSError as e:
        # Do not retry: after a failed fsync the kernel may have dropped the dirty pages and
        # a second fsync would report success for data that is gone. Take the data back out, so
        # that a later run does not find it and take it for written (a "duplicate minute").
        _truncate_quietly(fd, size_before)
        raise StoreError(
            f"fsync of {path} failed ({e.strerror or e}); the data is not known to be on disk. "
            "Check the disk and the kernel log before trusting this file."
        ) from e


def cut_torn_tail(fd: int, path: Path) -> None:
    """If the file does not end in a line end (``\\n``, or ``\\r`` in a file an editor saved with
    CR line ends), move the fragment to ``<path>.torn-<unix time>`` and
    truncate to the last complete line. Call under the lock."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) in (b"\n", b"\r"):
        return
    keep = end_of_last_line(fd, size)
    fragment = _pread_all(fd, keep, size - keep)
    aside = torn_path(path)
    with open(aside, "wb") as f:
        f.write(fragment)
        f.flush()
        os.fsync(f.fileno())
    os.ftruncate(fd, keep)
    os.fsync(fd)
    fsync_dir(path.parent)
    logger.warning(
        "%s: cut off a torn last line (%d bytes, a writer died mid-write); fragment kept in %s",
        path,
        len(fragment),
        aside,
    )


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Delete temp files a killed rewrite of ``path`` left behind (call under the lock)."""
    removed = []
    for tmp in path.parent.glob(f".{path.name}.rewrite-*.tmp"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def backup_file(path: Path, backup: Path) -> None:
    try:
        os.link(path, backup)
    except OSError:
        shutil.copy2(path, backup)
    fsync_dir(backup.parent)


def torn_path(path: Path) -> Path:
    base = path.with_name(f"{path.name}.torn-{int(time.time())}")
    candidate, n = base, 1
    while candidate.exists():
        candidate = base.with_name(f"{base.name}.{n}")
        n += 1
    return candidate


class FileLock:
    """An exclusive ``flock`` on a sidecar file, waited for up to ``timeout`` seconds."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path, self.timeout, self.fd = path, timeout, -1

    def __enter__(self) -> FileLock:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise StoreError(f"cannot open the lock file {self.path}: {e.strerror or e}") from e
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(self.fd)
                    raise StoreError(f"cannot lock {self.path}: {e.strerror}") from e
            if time.monotonic() >= deadline:
                os.close(self.fd)
                raise StoreError(
                    f"{self.path} has been locked by another process for {self.timeout:.0f} s; "
                    "is a maintenance command running? Nothing was written."
                )
            time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the descriptor releases the flock


def end_of_last_line(fd: int, size: int) -> int:
    """The offset just past the last line end (``\\n`` or ``\\r``) in the file (0 when there is none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - 64 * 1024)
        block = os.pread(fd, pos - start, start)
        idx = max(block.rfind(b"\n"), block.rfind(b"\r"))
        if idx >= 0:
            return start + idx + 1
        pos = start
    return 0


def _pread_all(fd: int, offset: int, length: int) -> bytes:
    parts, done = [], 0
    while done < length:
        part = os.pread(fd, length - done, offset + done)
        if not part:
            break
        parts.append(part)
        done += len(part)
    return b"".join(parts)


def _truncate_quietly(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
    except OSError:
        logger.exception("could not undo a failed write by truncating back to %d bytes", size)


def fsync_dir(path: Path) -> None:
    """Make a created, renamed or truncated entry in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
