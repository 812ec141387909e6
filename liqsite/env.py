"""Typed readers of environment variables, for ``settings.py`` (the only module that passes them the
environment). Each one raises ImproperlyConfigured naming the variable when its value is malformed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Env:
    """The variables of ``environ``; relative paths are taken from ``base_dir``."""

    def __init__(self, environ: Mapping[str, str], base_dir: Path) -> None:
        self.environ, self.base_dir = environ, base_dir

    def str(self, name: str, default: str = "") -> str:
        return self.environ.get(name, default).strip()

    def bool(self, name: str, default: bool = False) -> bool:
        raw = self.environ.get(name)
        if raw is None:
            return default
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name}={raw!r}: expected 1/0 (or true/false, yes/no, on/off)")

    def int(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        raw = self.environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r}: expected a whole number") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise ImproperlyConfigured(f"{name}={value}: must be between {minimum} and {maximum}")
        return value

    def float(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self.environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r}: expected a number") from None
        if not value >= minimum or value == float("inf"):
            raise ImproperlyConfigured(f"{name}={raw!r}: must be a finite number >= {minimum}")
        return value

    def list(self, name: str, default: str = "") -> list[str]:
        return [item.strip() for item in self.environ.get(name, default).split(",") if item.strip()]

    def path(self, name: str, default: Path) -> Path:
        """A path; a relative one is taken relative to the project root, not the working directory
        (cron starts commands in the home directory)."""
        raw = self.environ.get(name, "").strip()
        path = Path(raw).expanduser() if raw else default
        return path if path.is_absolute() else self.base_dir / path

    def urls(self, pattern: re.Pattern[str]) -> dict[str, str]:
        """Every variable whose name matches ``pattern``, each an http(s) or ws(s) URL with a host."""
        out = {}
        for name, raw in self.environ.items():
            if not pattern.match(name) or not raw.strip():
                continue
            value = raw.strip()
            scheme, _, rest = value.partition("://")
            if scheme not in ("http", "https", "ws", "wss") or not rest or rest.startswith("/"):
                raise ImproperlyConfigured(f"{name}={value!r}: expected an http(s):// or ws(s):// URL with a host")
            out[name] = value
        return out

    def choice(self, name: str, choices: tuple[str, ...], default: str = "") -> str:
        value = self.str(name, default)
        if value and value not in choices:
            raise ImproperlyConfigured(f"{name}={value!r}: choose one of {', '.join(choices)}")
        return value


def secret_key_from_file(path: Path) -> str:
    """Read the key kept in ``path``, creating it (mode 0600) with a random key on first start."""
    from django.core.management.utils import get_random_secret_key

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="utf-8").strip()
        if len(key) < 50:
            raise ImproperlyConfigured(f"{path} holds no usable secret key: delete it to have a new one made") from None
        return key
    key = get_random_secret_key()
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    return key


def alert_urls(value: str, base_dir: Path) -> list[str]:
    """ALERT_URLS: Apprise URLs, comma- or newline-separated, or ``@/path/to/file`` (one per line; relative
    to the project folder). An unreadable file stops start-up naming it."""
    from liquidation.channels import split_urls  # the one parser of the list

    if value.startswith("@"):
        path = Path(value[1:]).expanduser()
        path = path if path.is_absolute() else base_dir / path
        try:
            value = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ImproperlyConfigured(f"ALERT_URLS=@{path}: cannot read it ({e.strerror})") from e
    return split_urls(value)


def http_settings(path: Path | None) -> dict[str, float | int]:
    """The collector's HTTP limits: ``liquidation.http.HttpPolicy``'s defaults (the one place they live),
    overridden by the JSON object in ``path`` (LIQUIDATION_HTTP_FILE), e.g. ``{"retries": 1, "deadline":
    20}``. A key that is not a limit, or a value of the wrong type or range, stops start-up naming it."""
    from dataclasses import asdict

    from liquidation.http import HttpPolicy

    values: dict[str, float | int] = asdict(HttpPolicy())
    if path is None:
        return values
    try:
        given = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ImproperlyConfigured(f"LIQUIDATION_HTTP_FILE={path}: not a readable JSON file ({e})") from e
    if not isinstance(given, dict):
        raise ImproperlyConfigured(f"LIQUIDATION_HTTP_FILE={path}: expected a JSON object of limits")
    for key, value in given.items():
        if key not in values:
            raise ImproperlyConfigured(f"LIQUIDATION_HTTP_FILE={path}: unknown key {key!r} ({', '.join(values)})")
        whole = isinstance(values[key], int)
        ok = isinstance(value, int) if whole else isinstance(value, (int, float))
        lowest = {"retries": 0, "max_bytes": 1024, "backoff": 0, "retry_after_max": 0}.get(key, 0.01)
        if isinstance(value, bool) or not ok or value < lowest or (key == "retries" and value > 10):
            kind = "a whole number" if whole else "a number"
            raise ImproperlyConfigured(f"LIQUIDATION_HTTP_FILE={path}: {key} must be {kind} ≥ {lowest}, got {value!r}")
        values[key] = value
    return values
