"""`backtest import-prices`: one lake file per series, re-import replaces, overlaps never duplicate."""

from __future__ import annotations

import argparse

import numpy as np
import pyarrow.parquet as pq
import pytest

from backtest.commands import import_prices
from backtest.errors import InputError
from backtest.lake.io import read_table, table_files


def cli(*argv):
    parser = argparse.ArgumentParser()
    import_prices.register(parser.add_subparsers())
    args = parser.parse_args(["import-prices", *map(str, argv)])
    return args.func(args)


def hourly_csv(path, first_hour: int, closes: list[float]):
    """A python-binance style file; bar opening at hour h of 2024-01-01 is stamped at h+1."""
    rows = [f"2024-01-01 {first_hour + i:02d}:00:00,{c},{c},{c},{c},1,ETHUSDT" for i, c in enumerate(closes)]
    path.write_text("date,open,high,low,close,volume,ticker\n" + "\n".join(rows) + "\n")
    return path


def prices(lake):
    t = read_table(lake, "prices").sort_by("timestamp")
    return [str(x)[11:16] for x in t["timestamp"].to_pylist()], t["price_usd"].to_pylist()


def test_import_writes_one_named_file_and_reimport_replaces_it(tmp_path, capsys):
    lake, f = tmp_path / "lake", hourly_csv(tmp_path / "ETHUSDT_1h.csv", 0, [100, 101, 102])
    assert cli(f, "--lake", lake) == 0
    files = table_files(lake, "prices")
    assert [p.name for p in files] == ["eth__binance-ethusdt-1h-close__20240101T0100-20240101T0300.parquet"]
    first = files[0].read_bytes()
    assert cli(f, "--lake", lake) == 0                     # same file again: same name, same bytes
    assert [p.read_bytes() for p in table_files(lake, "prices")] == [first]
    out = capsys.readouterr().out
    assert "ETH: 3 prices 2024-01-01 01:00 .. 2024-01-01 03:00 UTC from binance:ETHUSDT:1h:close" in out
    assert "outliers: none" in out and "no gaps (step 1h)" in out


def test_an_overlapping_series_is_refused_with_the_two_ways_out(tmp_path):
    lake = tmp_path / "lake"
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    cli(hourly_csv(tmp_path / "a" / "ETHUSDT_1h.csv", 0, [100, 101, 102]), "--lake", lake)
    later = hourly_csv(tmp_path / "b" / "ETHUSDT_1h.csv", 2, [202, 203, 204])   # stamps 03:00..05:00
    with pytest.raises(InputError, match="--replace .* --fill"):
        cli(later, "--lake", lake)
    assert prices(lake) == (["01:00", "02:00", "03:00"], [100.0, 101.0, 102.0])


def test_fill_adds_only_the_new_rows_outside_what_the_lake_has(tmp_path):
    lake = tmp_path / "lake"
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    cli(hourly_csv(tmp_path / "a" / "ETHUSDT_1h.csv", 0, [100, 101, 102]), "--lake", lake)
    cli(hourly_csv(tmp_path / "b" / "ETHUSDT_1h.csv", 2, [202, 203, 204]), "--lake", lake, "--fill")
    # Old: 01,02,03. New: 03,04,05 -> 03 is already covered, 04 and 05 are added.
    assert prices(lake) == (["01:00", "02:00", "03:00", "04:00", "05:00"], [100.0, 101.0, 102.0, 203.0, 204.0])


def test_replace_drops_the_old_rows_inside_the_new_span(tmp_path):
    lake = tmp_path / "lake"
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    cli(hourly_csv(tmp_path / "a" / "ETHUSDT_1h.csv", 0, [100, 101, 102]), "--lake", lake)
    cli(hourly_csv(tmp_path / "b" / "ETHUSDT_1h.csv", 2, [202, 203, 204]), "--lake", lake, "--replace")
    # New span 03..05 replaces the old 03; old 01, 02 stay.
    assert prices(lake) == (["01:00", "02:00", "03:00", "04:00", "05:00"], [100.0, 101.0, 202.0, 203.0, 204.0])
    assert len(table_files(lake, "prices")) == 2


def test_another_asset_never_counts_as_an_overlap(tmp_path):
    lake = tmp_path / "lake"
    f = hourly_csv(tmp_path / "ETHUSDT_1h.csv", 0, [100, 101, 102])
    cli(f, "--lake", lake)
    cli(f, "--lake", lake, "--asset", "WETH")
    t = read_table(lake, "prices")
    assert sorted(set(t["asset"].to_pylist())) == ["ETH", "WETH"] and t.num_rows == 6


def test_outlier_column_is_stored_and_listed(tmp_path, capsys):
    closes = [1.0] * 5 + [3.99] + [1.0] * 5               # one print at 3.99, back to 1.0 next hour
    lake = tmp_path / "lake"
    cli(hourly_csv(tmp_path / "USDCUSDT_1h.csv", 0, closes), "--lake", lake)
    t = pq.read_table(table_files(lake, "prices")[0])
    assert np.flatnonzero(t["outlier"].to_numpy()).tolist() == [5]
    assert "outliers: 1 flagged, kept but not used as oracle prices: 2024-01-01 06:00 (close 3.99" \
        in capsys.readouterr().out


def test_divide_by_gives_the_quote_asset_in_usd(tmp_path, capsys):
    # BTC/USD 20000 and BTC/USDC 22857.14 -> USDC = 20000 / 22857.14 = 0.875 USD.
    usd = tmp_path / "BTCUSD_1m.csv"
    usdc = tmp_path / "BTCUSDC_1m.csv"
    usd.write_text("open_time,open,high,low,close,volume\n2023-03-11 06:00:00+00:00,20000,20000,20000,20000,0\n"
                   "2023-03-11 06:01:00+00:00,20000,20000,20000,20000,0\n")
    usdc.write_text("open_time,open,high,low,close,volume\n2023-03-11 06:00:00+00:00,22857.14,22857.14,22857.14,22857.14,0\n"
                    "2023-03-11 06:01:00+00:00,20000,20000,20000,20000,0\n")
    cli(usd, "--divide-by", usdc, "--asset", "USDC", "--lake", tmp_path / "lake")
    t = read_table(tmp_path / "lake", "prices")
    assert t["asset"].to_pylist() == ["USDC", "USDC"]
    assert t["price_usd"].to_pylist() == pytest.approx([0.875, 1.0], abs=1e-6)
    assert t["source"][0].as_py() == "ohlcv:BTCUSD_1m.csv:1m:close/ohlcv:BTCUSDC_1m.csv:1m:close"
