"""The coin a contract is on, the same for every venue: ``BTCUSDT``, ``BTC-USDT-SWAP``, ``BTC_USDT``,
``BTCUSD_PERP``, ``BTCUSDT_260925``, ``BTC`` are all ``BTC``; multiplier prefixes are dropped, so
``1000PEPEUSDT``, ``kPEPE`` and ``1000000MOG`` count as ``PEPE`` and ``MOG``.

The rules, in order: cut a delivery or perpetual suffix after ``_`` or ``-`` (``_PERP``, ``_260925``,
``-SWAP``, ``-240628``); cut the quote asset (USDT, USDC, USD, BUSD, FDUSD, PERP) at the end of what is
left, or after a separator; drop a multiplier prefix (``1000``, ``10000``, ``1000000``, ``1M``, ``k``
before an upper-case coin). Django-free.
"""

from __future__ import annotations

import re

QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "PERP")
_SUFFIX = re.compile(r"[-_](?:SWAP|PERP|\d{6}|\d{8})$")
_PREFIX = re.compile(r"^(?:1000000|100000|10000|1000|1M|k(?=[A-Z]))(?=[A-Z])")


def coin_of(symbol: str) -> str:
    """The base coin of ``symbol`` in upper case (``""`` for an empty symbol)."""
    text = str(symbol).strip()
    text = _SUFFIX.sub("", text)
    text = _SUFFIX.sub("", text)  # BTC-USD-SWAP after -SWAP: nothing more; BTCUSD_PERP: done
    parts = re.split(r"[-_/:]", text)
    base = parts[0]
    if len(parts) == 1:
        for quote in QUOTES:
            if base.upper().endswith(quote) and len(base) > len(quote):
                base = base[: -len(quote)]
                break
    base = _PREFIX.sub("", base)
    return base.upper()
