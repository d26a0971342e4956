"""Bad calibration inputs give one line naming file, column and row, and a non-zero exit."""

from __future__ import annotations

import json

import pytest

from backtest.calibration.read import read_hourly, read_liquidation_minutes, read_pool_reserves
from backtest.cli import main
from backtest.errors import InputError

HOURLY = "date,open,high,low,close,volume,ticker\n" + "".join(
    f"2021-04-05 {h:02d}:00:00,1,1,1,{'2' if h != 3 else 'x'},10,ETHUSDT\n" for h in range(24))
FUTURES = ("timestamp_x,ask_price,bid_price,binance-futures_ethusdt_liquidation_long,"
           "binance-futures_ethusdt_liquidation_short\n"
           "1609460068912307.2,730.9,730.8,1.0,0.0\n1609460127950823.8,730.8,730.9,0.0,0.0\n")


def test_hourly_bad_close_names_file_column_row(tmp_path):
    f = tmp_path / "ETHUSDT_1h.csv"
    f.write_text(HOURLY)
    with pytest.raises(InputError) as err:
        read_hourly(f)
    assert str(err.value) == f"{f}, column 'close', row 4: not a positive number (found 'x')"


def test_hourly_missing_column(tmp_path):
    f = tmp_path / "ETHUSDT_1h.csv"
    f.write_text(HOURLY.replace("close", "last"))
    with pytest.raises(InputError, match=r"column 'close'.*missing column"):
        read_hourly(f)


def test_hourly_missing_volume_drops_the_bar_not_zero(tmp_path):
    f = tmp_path / "ETHUSDT_1h.csv"
    text = HOURLY.replace(",x,", ",2,").splitlines()
    text[5] = text[5].replace(",10,", ",nan,")
    f.write_text("\n".join(text) + "\n")
    bars = read_hourly(f)
    assert bars.dropped == 1 and len(bars.close) == 23


def test_futures_crossed_quote_names_row(tmp_path):
    f = tmp_path / "futures.csv"
    f.write_text(FUTURES)
    with pytest.raises(InputError) as err:
        read_liquidation_minutes(f)
    assert str(err.value).startswith(f"{f}, column 'bid_price', row 2: bid above ask")


def test_pool_negative_reserve_names_row(tmp_path):
    f = tmp_path / "05-19-2021.json"
    f.write_text(json.dumps([{"DAI": 1.0, "WETH": 1.0}, {"DAI": -5.0, "WETH": 1.0}]))
    with pytest.raises(InputError) as err:
        read_pool_reserves(f)
    assert str(err.value) == f"{f}, column 'DAI', row 2: not a positive reserve (found -5.0)"


def test_cli_one_line_and_exit_2_and_nothing_written(tmp_path, capsys):
    real = tmp_path / "real"
    (real / "binance_1h_misrori").mkdir(parents=True)
    (real / "binance_1h_misrori" / "ETHUSDT_1h.csv").write_text(HOURLY)
    out = tmp_path / "impact_params.py"
    assert main(["calibrate", "--real", str(real), "--write", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "ETHUSDT_1h.csv, column 'close', row 4" in err
    assert not out.exists()


def test_cli_absent_folder_says_how_to_point_at_it(tmp_path, capsys):
    assert main(["calibrate", "--real", str(tmp_path / "nowhere")]) == 2
    assert "pass --real or set BACKTEST_REAL_DATA" in capsys.readouterr().err
