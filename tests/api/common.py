"""What the API tests share: the frozen clock, the seeded store's shape, and a GET helper."""

from __future__ import annotations

NOW = 1795600830  # 2026-11-25 18:00:30 Beijing time (10:00:30 UTC)
MINUTE = NOW // 60
GAP = range(MINUTE - 40, MINUTE - 35)  # five minutes the collector missed
BASE = "/api/liquidation-1h/"


def get(client, path, **params):
    return client.get(BASE + path, params)
