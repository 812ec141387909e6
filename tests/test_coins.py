"""Coins named the same across venues, and the BTC/ETH mark prices each keyless record carries."""

from __future__ import annotations

import pytest

from liquidation.coins import coin_of
from liquidation.summary import prices

SYMBOLS = {
    # each venue's spelling of the same coin
    "BTCUSDT": "BTC",  # Binance, Bybit, Bitget
    "BTCUSDT_260925": "BTC",  # a Binance USDⓈ-M quarterly
    "BTCUSD_PERP": "BTC",  # Binance coin-margined
    "ETHUSD_260925": "ETH",
    "BTC-USDT-SWAP": "BTC",  # OKX
    "BTC-USD-SWAP": "BTC",
    "BTC-USDT-240628": "BTC",
    "ETH-USDC-SWAP": "ETH",
    "BTC_USDT": "BTC",  # Gate
    "MOG_USDT": "MOG",
    "BTC": "BTC",  # Hyperliquid
    "BTCPERP": "BTC",  # Bybit's USDC perpetual
    "SOLUSDC": "SOL",
    # multiplier prefixes
    "1000PEPEUSDT": "PEPE",
    "kPEPE": "PEPE",
    "1000000MOG": "MOG",
    "1000000MOGUSDT": "MOG",
    "10000SATSUSDT": "SATS",
    "1MBABYDOGEUSDT": "BABYDOGE",
    "kBONK": "BONK",
    # what must not be cut
    "1INCHUSDT": "1INCH",
    "BTCDOMUSDT": "BTCDOM",
    "USDCUSDT": "USDC",
    "龙虾_USDT": "龙虾",
}


@pytest.mark.parametrize("symbol, coin", SYMBOLS.items())
def test_every_venues_spelling_normalizes_to_one_coin(symbol, coin):
    assert coin_of(symbol) == coin


def test_prices_are_the_median_of_each_venues_main_contract():
    marks = {
        "binance": {"BTCUSDT": 100_000.0, "BTCUSDT_260925": 101_500.0, "ETHUSDT": 3_000.0},
        "bybit": {"BTCUSDT": 100_010.0, "BTCPERP": 100_300.0, "ETHUSDT": 3_001.0},
        "gate": {"BTC_USDT": 99_990.0, "ETH_USDT": 2_999.0},
        "hyperliquid": {"BTC": 250_000.0},  # one odd quote: the median does not follow it
    }
    oi = {v: 1.0 for v in marks}
    assert prices(marks, oi) == {"BTC": 100_005.0, "ETH": 3_000.0}
    assert prices({}, {}) == {}
