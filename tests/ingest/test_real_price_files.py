"""Every price-file family in ../shared/data/real imports, and reproduces MANIFEST.md's facts.

Spans and row counts come from MANIFEST.md; bars are stamped at their close, so a kline file's
first and last stamps are one bar after the MANIFEST's open times.
"""

from __future__ import annotations

import numpy as np
import pytest

from backtest.ingest.price_files import read_price_file
from backtest.ingest.price_series import divide

# path, asset, source family, rows, first stamp, last stamp (UTC)
FAMILIES = [
    # CryptoDataDownload: banner, newest first, an older export overlapping 2,649 hours (MANIFEST:
    # 32,181 rows, 2017-08-17 04:00 .. 2020-12-30 00:00) -> 32,181 - 2,649 = 29,532 distinct hours.
    ("binance_1h_ingiorn/Binance_ETHUSDT_1h.csv", "ETH", "binance", 29532, "2017-08-17T05:00", "2020-12-30T01:00"),
    ("binance_1h_ingiorn/Binance_BTCUSDT_1h.csv", "BTC", "binance", 29532, "2017-08-17T05:00", "2020-12-30T01:00"),
    ("binance_1h_misrori/ETHUSDT_1h.csv", "ETH", "binance", 23989, "2021-04-04T21:00", "2023-12-30T21:00"),
    ("binance_1h_misrori/CRVUSDT_1h.csv", "CRV", "binance", 23988, "2021-04-04T22:00", "2023-12-30T21:00"),
    ("binance_1h_misrori/USDCUSDT_1h.csv", "USDC", "binance", 19993, "2021-04-04T22:00", "2023-12-30T21:00"),
    ("binance_1h_misrori/WBTCUSDT_1h.csv", "WBTC", "binance", 5916, "2023-04-28T11:00", "2023-12-30T22:00"),
    ("binance_1h_hopeffy/ETHUSDT_1h.csv", "ETH", "ohlcv", 34349, "2022-01-01T01:00", "2025-12-02T06:00"),  # no ticker column
    # CoinGecko: point prices, stamped as given (ms).
    ("coingecko_hourly_bhemen_aave_data/usd_prices/WETH_usd.csv", "WETH", "coingecko", 18861,
     "2021-01-01T00:26", "2023-02-25T23:04"),
    ("coingecko_hourly_bhemen_aave_data/usd_prices/stETH_usd.csv", "stETH", "coingecko", 18410,
     "2021-01-01T03:30", "2023-02-25T23:04"),
    # Chainlink: MANIFEST's 11,107 rows less the unanswered round and 5 rounds sharing an updatedAt.
    ("chainlink_sajanrajdev/0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419.csv", "ETH", "chainlink", 11101,
     "2023-04-05T22:38", "2024-01-29T19:55"),
    ("chainlink_sajanrajdev/0x86392dC19c0b719886221c78AB11eb8Cf5c52812.csv", "stETH/ETH", "chainlink", 745,
     "2022-01-29T20:25", "2024-01-28T23:34"),
    ("chainlink_sajanrajdev/0xAc559F25B1619171CbC396a50854A3240b6A4e99.csv", "ETH/BTC", "chainlink", 813,
     "2024-01-02T02:34", "2024-01-29T19:19"),
    ("usdc_depeg_binanceus_1m/BTCUSDC_1m_20230301_20230321.csv", "BTC", "ohlcv", 30240,
     "2023-03-01T00:01", "2023-03-22T00:00"),
    ("riskdao_binance_futures_2021_01/data_unified_0_ethusdt.csv", "ETH", "ohlcv", 43173,
     "2021-01-01T00:14", "2021-01-30T23:51"),
]


@pytest.mark.parametrize("path, asset, family, rows, first, last", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_every_real_file_family_imports(real, path, asset, family, rows, first, last):
    s = read_price_file(real / path)
    assert (s.asset, s.source.split(":")[0], len(s.price)) == (asset, family, rows)
    assert (str(s.timestamp[0])[:16], str(s.timestamp[-1])[:16]) == (first, last)
    assert np.all(np.diff(s.timestamp.astype(np.int64)) > 0)          # oldest first, no repeated time


def test_chainlink_answers_are_in_units_not_raw_integers(real):
    s = read_price_file(real / "chainlink_sajanrajdev" / "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419.csv")
    # Newest round: answer 229750276106 at 8 decimals = 2297.50 USD per ETH.
    assert s.price[-1] == pytest.approx(2297.50276106)
    steth = read_price_file(real / "chainlink_sajanrajdev" / "0x86392dC19c0b719886221c78AB11eb8Cf5c52812.csv")
    assert 0.9 < steth.price.min() and steth.price.max() < 1.01        # 18 decimals -> about 1 ETH


def test_coinapi_ten_minute_json_needs_and_takes_an_asset(real):
    s = read_price_file(real / "stablesims_feeds" / "eth" / "03-12-2020.json", asset="ETH")
    assert len(s.price) == 144 and np.nanmin(s.low) == pytest.approx(101.01)   # MANIFEST: low 101.01


def lowest(series, start: str, end: str, use_low: bool = True) -> float:
    """Lowest print of bars that OPEN in [start, end): stamps in (start, end] for bar files."""
    t = series.timestamp
    shift = np.timedelta64(series.step_seconds, "s") if series.source.split(":")[0] in ("binance", "ohlcv") else 0
    w = (t - shift >= np.datetime64(start)) & (t - shift < np.datetime64(end))
    values = series.low[w] if use_low and np.isfinite(series.low[w]).any() else series.price[w]
    return float(np.nanmin(values))


# MANIFEST.md "Reality check": event window, file, lowest print.
CRASH_LOWS = [
    ("binance_1h_ingiorn/Binance_ETHUSDT_1h.csv", "2020-03-12", "2020-03-14", 86.0),
    ("binance_1h_misrori/ETHUSDT_1h.csv", "2021-05-19", "2021-05-20", 1888.0),
    ("binance_1h_misrori/ETHUSDT_1h.csv", "2022-05-09", "2022-05-13", 1800.0),
    ("binance_1h_hopeffy/ETHUSDT_1h.csv", "2022-05-09", "2022-05-13", 1800.0),
    ("binance_1h_misrori/ETHUSDT_1h.csv", "2022-06-13", "2022-06-19", 881.6),
    ("binance_1h_misrori/ETHUSDT_1h.csv", "2022-11-08", "2022-11-11", 1074.0),
    ("binance_1h_misrori/CRVUSDT_1h.csv", "2022-11-22", "2022-11-23", 0.401),
    ("binance_1h_misrori/USDCUSDT_1h.csv", "2023-03-11", "2023-03-12", 0.882),
    ("binance_1h_hopeffy/ETHUSDT_1h.csv", "2024-08-05", "2024-08-06", 2111.0),
    ("binance_1h_hopeffy/ETHUSDT_1h.csv", "2025-10-10", "2025-10-11", 3435.0),
]


@pytest.mark.parametrize("path, start, end, low", CRASH_LOWS, ids=[f"{c[0].split('/')[1]}@{c[1]}" for c in CRASH_LOWS])
def test_imported_series_reproduce_the_manifest_crash_lows(real, path, start, end, low):
    s = read_price_file(real / path)
    # MANIFEST rounds to 4 significant digits (881.6, 0.882): compare at that precision.
    assert lowest(s, start, end) == pytest.approx(low, rel=6e-4)


def test_steth_depeg_low_from_two_coingecko_series(real):
    d = real / "coingecko_hourly_bhemen_aave_data" / "usd_prices"
    ratio = divide(read_price_file(d / "stETH_usd.csv"), read_price_file(d / "WETH_usd.csv"), "stETH/ETH")
    assert lowest(ratio, "2022-06-13", "2022-06-19") == pytest.approx(0.9306, abs=5e-5)   # MANIFEST: 0.9306


def test_usdc_depeg_low_from_the_minute_pairs(real):
    d = real / "usdc_depeg_binanceus_1m"
    usdc = divide(read_price_file(d / "BTCUSD_1m_20230301_20230321.csv"),
                  read_price_file(d / "BTCUSDC_1m_20230301_20230321.csv"), "USDC")
    # MANIFEST: USDC/USD = BTCUSD / BTCUSDC, min 0.875 on 2023-03-11 between 06:00 and 12:00 UTC.
    i = int(np.argmin(usdc.price))
    assert usdc.price[i] == pytest.approx(0.875, abs=5e-4)
    assert np.datetime64("2023-03-11T06:00") <= usdc.timestamp[i] <= np.datetime64("2023-03-11T12:00")
