"""Logging for long-running commands: console level from ``-v``, plus a log file while they run."""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .redact import redact_text

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
        for handler in root.handlers:  # the console's filters (secret scrubbing) apply to the file too
            for f in handler.filters:
                file_handler.addFilter(f)
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


class RedactSecrets(logging.Filter):
    """Scrub every record before any handler writes it: the configured secrets (``secrets``: keys,
    tokens, webhook URLs, as settings lists them) become ``***``, and every URL in the message or
    traceback is redacted (userinfo, credential-like query values, token path segments).

    Defence in depth: code already logs redacted URLs; this catches what a library's message or a
    traceback carries. Secrets shorter than 6 characters are not scrubbed (they would mangle text).
    """

    def __init__(self, secrets: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return redact_text(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the caller's bug; still log something
            message = str(record.msg)
        record.msg, record.args = self.scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True
