"""Outliers are prints that revert; real crashes are not outliers. Gaps are where a file is silent."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.ingest.price_files import read_price_file
from backtest.ingest.price_series import divide, find_gaps, flag_outliers


def at(series, when: str) -> int:
    return int(np.flatnonzero(series.timestamp == np.datetime64(when, "us"))[0])


def test_a_one_bar_spike_that_reverts_is_flagged():
    # Flat at 100, one close of 300 at bar 5: both sides' level is 100, |ln(300/100)| = 1.10 > ln 1.5.
    price = np.full(11, 100.0)
    price[5] = 300.0
    assert np.flatnonzero(flag_outliers(price)).tolist() == [5]


def test_a_wick_that_reverts_within_its_bar_flags_that_bar_only():
    price = np.full(11, 1.0)
    high = np.full(11, 1.001)
    high[4] = 3.99                                    # ln(3.99 / 1.0) = 1.38 from either side
    assert np.flatnonzero(flag_outliers(price, price * 0.999, high)).tolist() == [4]


def test_a_crash_that_stays_down_is_not_an_outlier():
    # 100 -> 20 in one bar and it stays there: the new bar equals the level after it (distance 0),
    # the old bar equals the level before it; neither is far from both sides.
    price = np.r_[np.full(10, 100.0), np.full(10, 20.0)]
    assert not flag_outliers(price).any()


def test_a_move_below_the_fifty_percent_floor_is_never_an_outlier():
    # A stablecoin at 1.0000 that prints 1.30 for one bar: 1.30 is 26% off (ln 1.3 = 0.26 < 0.405),
    # however calm the market (scale ~ 0) - a depeg-sized move is a price, not a typo.
    price = np.full(11, 1.0)
    price[5] = 1.3
    assert not flag_outliers(price).any()


def test_the_robust_scale_protects_a_volatile_market():
    # Alternating 100/130: every |ln-return| is ln 1.3 = 0.262, scale = 1.4826 * 0.262 = 0.389.
    # A 200 where 100 belongs sits ln(200/130) = 0.43 from the 130 level on both sides: past the
    # 0.405 floor, but 0.43 / 0.389 = 1.1 scales, far below 20 - in a wild market it is a price.
    price = np.where(np.arange(21) % 2 == 0, 100.0, 130.0)
    price[10] = 200.0
    assert not flag_outliers(price).any()


def test_gaps_count_missing_bars_and_list_the_longest_first():
    hours = [0, 1, 2, 3, 6, 7, 9]
    t = np.datetime64("2024-01-01T00", "us") + np.array(hours) * np.timedelta64(1, "h")
    g = find_gaps(t)
    # Spacings 1,1,1,3,1,2 h: step 1 h (the median). 03->06 misses 2 bars, 07->09 misses 1.
    assert (g.step_seconds, g.count, g.missing_steps) == (3600, 2, 3)
    assert [str(a)[:13] for a, _ in g.where] == ["2024-01-01 03", "2024-01-01 07"]
    assert "largest 3h from 2024-01-01 03:00 to 2024-01-01 06:00" in g.describe()


# ----------------------------------------------------------------- on the real files

def test_the_real_usdc_3_99_print_is_flagged_and_nothing_else_that_year(real):
    s = read_price_file(real / "binance_1h_misrori" / "USDCUSDT_1h.csv")
    # The kline opening 2022-05-11 20:00 (stamped at its close, 21:00): high 3.99, close 1.0051.
    i = at(s, "2022-05-11T21:00")
    assert s.high[i] == 3.99 and s.outlier[i]
    assert s.price[i] == 1.0051                    # the close stays the price; the bar is flagged
    year = (s.timestamp >= np.datetime64("2022-01-01")) & (s.timestamp < np.datetime64("2023-01-01"))
    assert int(s.outlier[year].sum()) == 1


def test_the_real_march_2020_eth_crash_is_not_flagged(real):
    s = read_price_file(real / "binance_1h_ingiorn" / "Binance_ETHUSDT_1h.csv")
    window = (s.timestamp >= np.datetime64("2020-03-11")) & (s.timestamp < np.datetime64("2020-03-15"))
    assert np.nanmin(s.low[window]) == 86.0            # the crash is in the window ...
    assert not s.outlier[window].any()                 # ... and none of it is flagged


def test_the_real_march_2023_usdc_depeg_is_not_flagged_hourly_or_by_the_minute(real):
    hourly = read_price_file(real / "binance_1h_misrori" / "USDCUSDT_1h.csv")
    window = (hourly.timestamp >= np.datetime64("2023-03-10")) & (hourly.timestamp < np.datetime64("2023-03-14"))
    assert np.nanmin(hourly.low[window]) == pytest.approx(0.882)
    assert not hourly.outlier[window].any()
    d = real / "usdc_depeg_binanceus_1m"
    minute = divide(read_price_file(d / "BTCUSD_1m_20230301_20230321.csv"),
                    read_price_file(d / "BTCUSDC_1m_20230301_20230321.csv"), "USDC")
    assert minute.price.min() == pytest.approx(0.875, abs=0.001)
    assert not minute.outlier.any()


def test_the_real_usdc_file_reports_its_166_day_delisting_gap(real):
    g = read_price_file(real / "binance_1h_misrori" / "USDCUSDT_1h.csv").gaps()
    a, b = g.where[0]
    # Binance stopped USDCUSDT in September 2022 and relisted it on the depeg day, 11 March 2023.
    assert (str(a)[:16], str(b)[:16]) == ("2022-09-26 03:00", "2023-03-11 15:00")
    assert g.count == 6
