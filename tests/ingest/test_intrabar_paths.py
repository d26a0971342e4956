"""Historical paths walk each bar through its range: the traded low is reached inside its bar."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backtest.commands import import_prices
from backtest.errors import InputError
from backtest.ingest.price_files import parse_price_text
from backtest.lake.catalog import connect, run_query
from backtest.lake.io import read_table
from backtest.scenarios import intrabar
from backtest.scenarios.library import load_scenario
from backtest.scenarios.paths import lake_series, step_times

H = 3_600_000_000          # one hour in microseconds
MIN10 = 600_000_000


def bars(o, h, l, c, bar_us=H, first_end=H):
    n = len(c)
    return intrabar.Prints(first_end + np.arange(n, dtype=np.int64) * bar_us, np.array(c, float), np.array(o, float),
                           np.array(h, float), np.array(l, float), np.full(n, bar_us, np.int64))


def test_a_down_bar_goes_to_its_high_then_its_low_inside_the_bar():
    p = bars([100], [104], [80], [90])
    grid = np.arange(0, H + 1, MIN10)
    path = intrabar.path(p, grid)
    assert path[0] == 100 and path[-1] == 90
    assert path.max() == 104 and path.min() == 80
    assert 0 < np.argmax(path) < np.argmin(path) < len(grid) - 1       # O -> H -> L -> C, both inside


def test_an_up_bar_goes_to_its_low_then_its_high():
    path = intrabar.path(bars([100], [130], [95], [120]), np.arange(0, H + 1, MIN10))
    assert 0 < np.argmin(path) < np.argmax(path) < len(path) - 1
    assert (path.min(), path.max(), path[-1]) == (95, 130, 120)


def test_every_bar_reaches_its_own_low_and_high_within_its_hour_and_never_leaves_its_range():
    rng = np.random.default_rng(3)
    n = 48
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    o = np.concatenate([[100.0], c[:-1]])                  # contiguous bars: open = previous close
    h = np.maximum(o, c) * np.exp(rng.exponential(0.01, n))
    l = np.minimum(o, c) * np.exp(-rng.exponential(0.01, n))
    grid = np.arange(0, n * H + 1, MIN10)
    path = intrabar.path(bars(o, h, l, c), grid)
    for i in range(n):
        inside = (grid > i * H) & (grid < (i + 1) * H)      # the bar's interior steps
        span = path[(grid >= i * H) & (grid <= (i + 1) * H)]
        assert path[inside].min() == pytest.approx(l[i], rel=1e-12)
        assert path[inside].max() == pytest.approx(h[i], rel=1e-12)
        assert span.min() >= l[i] * (1 - 1e-12) and span.max() <= h[i] * (1 + 1e-12)
        lo, hi = np.flatnonzero(inside)[[np.argmin(path[inside]), np.argmax(path[inside])]]
        assert (hi < lo) == (c[i] < o[i])                   # down bar: high first; up bar: low first
        assert path[grid == (i + 1) * H][0] == c[i]          # the close at the bar's end, exactly


def test_with_one_step_inside_a_bar_the_larger_excursion_takes_it():
    grid = np.arange(0, H + 1, H // 2)                       # 30-minute grid: one step inside the bar
    wick_down = intrabar.path(bars([100], [101], [70], [98]), grid)
    wick_up = intrabar.path(bars([100], [140], [99], [98]), grid)
    assert wick_down[1] == 70 and wick_up[1] == 140


def test_minute_bars_on_a_five_minute_grid_are_used_as_they_are():
    minute = 60_000_000
    c = np.array([10.0, 9.0, 8.0, 7.5, 7.0, 6.0, 6.5, 7.0, 8.0, 9.0, 9.5])
    p = bars(c + 1, c + 2, c - 2, c, bar_us=minute, first_end=minute)
    grid = np.arange(minute, 11 * minute + 1, 5 * minute)
    assert intrabar.path(p, grid).tolist() == [10.0, 6.0, 9.5]   # the closes at 1, 6 and 11 minutes


def test_point_prints_hold_until_the_next_one():
    p = intrabar.Prints(np.array([0, 25 * 60_000_000], np.int64), np.array([5.0, 4.0]), *(np.full(2, np.nan),) * 3,
                        np.zeros(2, np.int64))
    assert intrabar.path(p, np.arange(-MIN10, H + 1, MIN10)).tolist()[:6] == [pytest.approx(np.nan, nan_ok=True),
                                                                                5.0, 5.0, 5.0, 4.0, 4.0]


def cli(*argv):
    parser = argparse.ArgumentParser()
    import_prices.register(parser.add_subparsers())
    args = parser.parse_args(["import-prices", *map(str, argv)])
    return args.func(args)


KLINES = ("date,open,high,low,close,volume,ticker\n"
          "2024-01-01 00:00:00,100,104,99,103,5.5,ETHUSDT\n"
          "2024-01-01 01:00:00,103,105,80,90,7.25,ETHUSDT\n")


def test_binance_and_ohlcv_imports_keep_the_bar_coingecko_has_none(tmp_path):
    f = tmp_path / "ETHUSDT_1h.csv"
    f.write_text(KLINES)
    cli(f, "--lake", tmp_path / "lake")
    t = read_table(tmp_path / "lake", "prices").sort_by("timestamp").to_pydict()
    assert (t["open"], t["high"], t["low"], t["price_usd"]) == ([100, 103], [104, 105], [99, 80], [103, 90])
    assert t["volume"] == [5.5, 7.25] and t["bar_seconds"] == [3600, 3600]
    generic = parse_price_text("time_period_start,price_open,price_high,price_low,price_close,volume_traded\n"
                               "2024-01-01T00:00:00Z,1,3,0.5,2,9\n2024-01-01T00:01:00Z,2,2,1,1.5,4\n", "x.csv",
                               asset="X").to_table().to_pydict()
    assert generic["low"] == [0.5, 1] and generic["bar_seconds"] == [60, 60] and generic["volume"] == [9, 4]
    gecko = parse_price_text("snapped_at,price,market_cap,total_volume\n2024-01-01 00:00:00 UTC,1.0,5,6\n"
                             "2024-01-01 01:00:00 UTC,1.1,5,6\n", "ETH_usd.csv", asset="ETH").to_table().to_pydict()
    assert gecko["open"] == [None, None] and gecko["bar_seconds"] == [None, None]


def test_a_bar_whose_low_is_above_its_close_is_refused_with_its_row(tmp_path):
    f = tmp_path / "ETHUSDT_1h.csv"
    f.write_text(KLINES.replace("103,105,80,90", "103,105,95,90"))
    with pytest.raises(InputError, match=r"column 'low', row 2"):
        cli(f, "--lake", tmp_path / "lake")
    assert not (tmp_path / "lake" / "prices").exists()


SCENARIO = """name = "t"
kind = "historical"
start = 2024-01-01T00:00:00Z
end = 2024-01-01T02:00:00Z
step_seconds = 600
[assets.WETH]
source = "lake"
lake_asset = "ETH"
"""


def test_a_lake_written_before_the_bar_columns_reads_as_closes_as_of(tmp_path):
    lake = tmp_path / "lake"
    (lake / "prices").mkdir(parents=True)
    ts = [datetime(2024, 1, 1, h, 0, tzinfo=timezone.utc) for h in range(3)]
    pq.write_table(pa.table({"asset": ["ETH"] * 3, "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
                             "price_usd": [100.0, 90.0, 95.0], "source": ["old"] * 3, "outlier": [False] * 3}),
                   lake / "prices" / "prices.parquet")
    (tmp_path / "t.toml").write_text(SCENARIO)
    s = load_scenario(tmp_path / "t.toml")
    con = connect(lake)
    old = run_query(con, "price_path", {"asset": "ETH", "start": s.start, "end": s.end, "step_seconds": 600})
    path = lake_series(con, s, "WETH", s.assets["WETH"])
    assert path.tolist() == old["price_usd"].to_pylist() == [100.0] * 6 + [90.0] * 6 + [95.0]


def test_the_lake_path_of_a_bar_file_reaches_the_low_in_its_bar(tmp_path):
    f = tmp_path / "ETHUSDT_1h.csv"
    f.write_text(KLINES)
    cli(f, "--lake", tmp_path / "lake")
    (tmp_path / "t.toml").write_text(SCENARIO)
    s = load_scenario(tmp_path / "t.toml")
    path = lake_series(connect(tmp_path / "lake"), s, "WETH", s.assets["WETH"])
    times = step_times(s)
    assert path[0] == 100 and path[6] == 103 and path[12] == 90      # bar opens and closes on the hour
    assert path[6:13].min() == 80 and str(times[6 + np.argmin(path[6:13])])[11:16] == "01:40"
    assert path[:7].min() == 99 and np.argmin(path[:7]) < np.argmax(path[:7])   # up bar: low first


def test_19_may_2021_binance_hourly_reaches_the_traded_low_within_its_bar(real, tmp_path):
    lake = tmp_path / "lake"
    cli(real / "binance_1h_misrori" / "ETHUSDT_1h.csv", "--asset", "ETH", "--lake", lake)
    s = load_scenario("may-19-2021")
    path = lake_series(connect(lake), s, "WETH", s.assets["WETH"])
    hour = (step_times(s) - step_times(s)[0]) // np.timedelta64(1, "h")
    minute = (step_times(s) - step_times(s)[0]) // np.timedelta64(1, "m")
    # Binance ETHUSDT, bar opening 13:00: low 1,888; bar opening 12:00: low 1,960 (closes 2,721 at 13:00,
    # 2,365 at 14:00).
    thirteen = (minute > 13 * 60) & (minute < 14 * 60)
    assert path[thirteen].min() == 1888.0 and path.min() == 1888.0
    twelve = (minute > 12 * 60) & (minute < 13 * 60)
    assert path[twelve].min() == 1960.0
    assert path[hour < 12].min() == 2442.82                            # the low of the bar opening 11:00
    closes = run_query(connect(lake), "price_path", {"asset": "ETH", "start": s.start, "end": s.end,
                                                     "step_seconds": s.step_seconds})["price_usd"].to_numpy()
    assert closes[hour < 24].min() == 2365.18                         # what the hourly closes alone showed


def test_fill_keeps_each_kept_row_with_its_own_bar(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    (tmp_path / "a" / "ETHUSDT_1h.csv").write_text(KLINES)
    (tmp_path / "b" / "ETHUSDT_1h.csv").write_text(KLINES.replace("2024-01-01 00:00:00,100,104,99,103,5.5",
                                                                  "2024-01-01 02:00:00,90,92,70,75,3.0"))
    cli(tmp_path / "a" / "ETHUSDT_1h.csv", "--lake", tmp_path / "lake")
    cli(tmp_path / "b" / "ETHUSDT_1h.csv", "--lake", tmp_path / "lake", "--fill")
    t = read_table(tmp_path / "lake", "prices").sort_by("timestamp").to_pydict()
    assert t["low"] == [99, 80, 70] and t["open"] == [100, 103, 90] and t["volume"] == [5.5, 7.25, 3.0]
