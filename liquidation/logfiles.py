"""Logging for long-running commands: console level from ``-v``, plus a log file while they run."""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_CONSOLE_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG, 3: logging.DEBUG}
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATEFMT = "%Y-%m-%d %H:%M:%S%z"


@contextmanager
def command_logging(verbosity: int, log_file: Path) -> Iterator[None]:
    """Set the console level of the ``liquidation`` loggers from ``verbosity`` and add ``log_file``.

    The file handler is a WatchedFileHandler: it reopens the file when logrotate moves it, and
    appends are safe from several processes (cron runs and a loop may overlap).
    """
    root = logging.getLogger("liquidation")
    level = _CONSOLE_LEVELS.get(verbosity, logging.DEBUG)
    for handler in root.handlers:
        handler.setLevel(level)
    old_level = root.level
    root.setLevel(min(level, logging.INFO))
    file_handler: logging.Handler | None = None
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.WatchedFileHandler(log_file, encoding="utf-8")
    except OSError as e:
        root.warning("not logging to %s: %s", log_file, e)
    if file_handler is not None:
        file_handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
        file_handler.setLevel(min(level, logging.INFO))
        root.addHandler(file_handler)
    try:
        yield
    finally:
        if file_handler is not None:
            root.removeHandler(file_handler)
            file_handler.close()
        root.setLevel(old_level)
