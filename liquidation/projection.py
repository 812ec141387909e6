"""``fields=``: the parts of each record a client asks for, so a chart that draws five numbers does not
download every venue's figures and the coverage of every minute (a keyless record is 1.7 KB of JSON; the
/panic page's 24 h series needs about a quarter of it). Django-free.

A path is a top-level field (``hour_1_amount``) or a field inside each value of a mapping field
(``by_exchange.hour_1``: every venue, only its ``hour_1``). ``timestamp`` is always kept. Fields a record
does not have are left out, not invented.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MAX_PATHS = 30
_PATH = re.compile(r"^[a-z][a-z0-9_]{0,63}(\.[a-z][a-z0-9_]{0,63})?$")

Paths = dict[str, set[str] | None]  # top-level name -> the sub-fields kept in each value (None: all)


class FieldsError(ValueError):
    """A ``fields`` value that is not a list of paths; the message says what is accepted."""


def parse_fields(text: str) -> Paths:
    """``"a,b.c,b.d"`` -> ``{"timestamp": None, "a": None, "b": {"c", "d"}}``."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise FieldsError("give at least one field name, comma-separated (hour_1_amount,panic_index)")
    if len(names) > MAX_PATHS:
        raise FieldsError(f"at most {MAX_PATHS} fields")
    paths: Paths = {"timestamp": None}
    for name in names:
        if not _PATH.match(name):
            raise FieldsError(f"{name[:70]!r} is not a field name: lower-case letters, digits, _ and one dot")
        top, _, sub = name.partition(".")
        if not sub or paths.get(top, set()) is None:
            paths[top] = None  # the whole field (wins over any of its parts)
        else:
            paths.setdefault(top, set()).add(sub)  # type: ignore[union-attr]
    return paths


def project(record: Mapping[str, Any], paths: Paths) -> dict[str, Any]:
    """The parts of ``record`` named by ``paths``, in the record's own order."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        if name not in paths:
            continue
        subs = paths[name]
        if subs is None or not isinstance(value, Mapping):
            out[name] = value
            continue
        out[name] = {
            key: {k: v for k, v in inner.items() if k in subs} if isinstance(inner, Mapping) else inner
            for key, inner in value.items()
        }
    return out
