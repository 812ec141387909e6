from __future__ import annotations

from django.apps import AppConfig


class LiquidationConfig(AppConfig):
    name = "liquidation"
    verbose_name = "Liquidation tracker"
