"""Builds the store, HTTP policy and source from Django settings: the glue commands and views share."""

from __future__ import annotations

from django.conf import settings

from .exchanges import ExchangesSource, ExchangeUrls
from .http import HttpPolicy
from .sources import Source, build_source
from .store import JsonlStore


def get_store() -> JsonlStore:
    """The store at ``settings.LIQUIDATION_DATA_FILE`` (read on every call, so tests can override it)."""
    return JsonlStore(settings.LIQUIDATION_DATA_FILE)


def http_policy() -> HttpPolicy:
    return HttpPolicy(
        connect_timeout=settings.LIQUIDATION_HTTP_CONNECT_TIMEOUT,
        read_timeout=settings.LIQUIDATION_HTTP_READ_TIMEOUT,
        retries=settings.LIQUIDATION_HTTP_RETRIES,
        backoff=settings.LIQUIDATION_HTTP_BACKOFF,
        retry_after_max=settings.LIQUIDATION_HTTP_RETRY_AFTER_MAX,
        deadline=settings.LIQUIDATION_HTTP_DEADLINE,
        max_bytes=settings.LIQUIDATION_HTTP_MAX_BYTES,
    )


def configured_source(name: str | None = None, url: str | None = None) -> Source:
    """The source named on the command line, else by LIQUIDATION_SOURCE, else the default rule.

    Raises ``sources.ConfigError`` naming the settings to set.
    """
    return build_source(
        name or settings.LIQUIDATION_SOURCE or None,
        panic_api_url=url or settings.LIQUIDATION_SOURCE_URL,
        coinglass_api_key=settings.COINGLASS_API_KEY,
        coinglass_base_url=settings.COINGLASS_BASE_URL,
        exchanges=exchanges_source,
    )


def exchanges_source() -> ExchangesSource:
    """The keyless source over the venues of LIQUIDATION_EXCHANGES and their base URLs."""
    urls = ExchangeUrls(
        binance=settings.EXCHANGE_BINANCE_REST_URL,
        bybit=settings.EXCHANGE_BYBIT_REST_URL,
        okx=settings.EXCHANGE_OKX_REST_URL,
        gate=settings.EXCHANGE_GATE_REST_URL,
        bitget=settings.EXCHANGE_BITGET_REST_URL,
        hyperliquid=settings.EXCHANGE_HYPERLIQUID_REST_URL,
    )
    return ExchangesSource(settings.LIQUIDATION_EVENTS_DIR, settings.LIQUIDATION_EXCHANGES, urls)
