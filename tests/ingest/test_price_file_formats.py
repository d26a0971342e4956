"""Each file family, in the shapes real files come in, parses to the same clean series."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backtest.errors import InputError
from backtest.ingest.price_files import detect_format, parse_price_text, read_price_file


def stamps(series) -> list[str]:
    return [str(t)[:16] for t in series.timestamp]


# 2024-01-01 00:00 UTC = 1704067200 s. Three hourly bars; a bar's close is stamped at its end.
KLINES = [
    [1704067200000, "100.0", "101.0", "99.0", "100.5", "10", 1704070799999, "0", 1, "0", "0", "0"],
    [1704070800000, "100.5", "102.0", "100.0", "101.5", "10", 1704074399999, "0", 1, "0", "0", "0"],
    [1704074400000, "101.5", "103.0", "101.0", "102.5", "10", 1704077999999, "0", 1, "0", "0", "0"],
]
EXPECTED_TIMES = ["2024-01-01T01:00", "2024-01-01T02:00", "2024-01-01T03:00"]


def test_binance_api_json_takes_the_close_and_stamps_it_at_the_bar_end():
    s = parse_price_text(json.dumps(KLINES), "binance_ETHUSDT_1h.json")
    assert (s.asset, s.source) == ("ETH", "binance:ETHUSDT:1h:close")
    assert stamps(s) == EXPECTED_TIMES
    assert s.price.tolist() == [100.5, 101.5, 102.5]
    assert s.low.tolist() == [99.0, 100.0, 101.0] and s.high.tolist() == [101.0, 102.0, 103.0]


def test_binance_vision_csv_without_header_in_any_unit_of_time():
    # data.binance.vision: no header; spot switched from milliseconds to microseconds in 2025.
    for scale in (1, 1000):
        rows = [",".join(str(v * scale if i in (0, 6) else v) for i, v in enumerate(k)) for k in KLINES]
        s = parse_price_text("\n".join(rows), "ETHUSDT-1h-2024-01.csv")
        assert stamps(s) == EXPECTED_TIMES and s.price.tolist() == [100.5, 101.5, 102.5]


def test_cryptodatadownload_banner_newest_first_and_mixed_time_formats():
    # A URL banner, newest row first, and the tail of an older export: unix seconds with ".0" and
    # "YYYY-MM-DD HH-AM" dates, one hour repeated with the same values.
    text = "\n".join([
        "https://www.CryptoDataDownload.com",
        "unix,date,symbol,open,high,low,close,Volume ETH,Volume USDT,tradecount",
        "1704074400000,2024-01-01 02:00:00,ETH/USDT,101.5,103.0,101.0,102.5,1,1,5",
        "1704070800000,2024-01-01 01:00:00,ETH/USDT,100.5,102.0,100.0,101.5,1,1,5",
        "1704070800.0,2024-01-01 01-AM,ETH/USDT,100.5,102,100,101.5,1,1,NULL",
        "1704067200.0,2024-01-01 12-AM,ETH/USDT,100,101,99,100.5,1,1,NULL",
    ])
    s = parse_price_text(text, "Binance_ETHUSDT_1h.csv")
    assert detect_format(*_frame_of(text)) == "binance"
    assert (s.asset, s.source) == ("ETH", "binance:ETHUSDT:1h:close")
    assert stamps(s) == EXPECTED_TIMES and s.price.tolist() == [100.5, 101.5, 102.5]
    assert s.dropped == {"repeated times, same price": 1}


def test_date_strings_in_several_formats_within_one_file():
    text = "\n".join([
        "date,open,high,low,close,volume",
        "2024-01-01 12-AM,100,101,99,100.5,1",       # CryptoDataDownload
        "2024-01-01T01:00:00Z,100.5,102,100,101.5,1",  # ISO 8601 with Z
        "2024-01-01 02:00:00+00:00,101.5,103,101,102.5,1",
    ])
    s = parse_price_text(text, "ETHUSDT_1h.csv", "ohlcv")
    assert stamps(s) == EXPECTED_TIMES


def test_repeated_time_with_different_prices_keeps_the_row_written_last():
    # Oldest first: the lower row was written later (an appended, completed bar) and wins.
    text = "timestamp,price\n2024-01-01 00:00,1.0\n2024-01-01 01:00,2.0\n2024-01-01 01:00,2.5\n2024-01-01 02:00,3"
    s = parse_price_text(text, "x.csv", "ohlcv", asset="X")
    assert s.price.tolist() == [1.0, 2.5, 3.0]
    assert s.dropped == {"repeated times with different prices; kept the row written last": 1}


def test_coingecko_api_website_export_and_per_symbol_dump_agree():
    api = json.dumps({"prices": [[1704067200000, 2300.5], [1704070800000, 2310.0]],
                      "market_caps": [], "total_volumes": []})
    export = "snapped_at,price,market_cap,total_volume\n2024-01-01 00:00:00 UTC,2300.5,1,1\n" \
             "2024-01-01 01:00:00 UTC,2310.0,1,1\n"
    dump = "symbol,timestamp,USD_price\nWETH,1704067200000,2300.5\nWETH,1704070800000,2310.0\n"
    got = [parse_price_text(api, "weth-usd.json"), parse_price_text(export, "weth-usd-max.csv"),
           parse_price_text(dump, "WETH_usd.csv")]
    for s in got:
        assert s.asset.upper() == "WETH"
        assert stamps(s) == ["2024-01-01T00:00", "2024-01-01T01:00"]   # a point price: no shift
        assert s.price.tolist() == [2300.5, 2310.0]
        assert s.source.startswith("coingecko:")


def test_chainlink_answer_is_scaled_by_the_feed_decimals_and_unanswered_rounds_dropped(tmp_path):
    # ETH/USD has 8 decimals: 229750276106 / 1e8 = 2297.50276106. Rows newest first; the last
    # round was never answered (0 / 0); two rounds share one updatedAt: the later round wins.
    f = tmp_path / "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419.csv"
    f.write_text(",round,answer,start,update,answeredInRound\n"
                 "0,110680464442257320802,229750276106,1706558123,1706558123,110680464442257320802\n"
                 "1,110680464442257320801,229738000000,1706554523,1706554523,110680464442257320801\n"
                 "2,110680464442257320800,229700000000,1706554523,1706554523,110680464442257320800\n"
                 "3,110680464442257309696,0,0,0,110680464442257309696\n")
    s = read_price_file(f)
    assert (s.asset, s.source) == ("ETH", "chainlink:0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419:ETH/USD")
    assert s.price.tolist() == pytest.approx([2297.38, 2297.50276106])
    assert stamps(s) == ["2024-01-29T18:55", "2024-01-29T19:55"]
    assert s.dropped["unanswered rounds (answer or updatedAt 0)"] == 1


def test_chainlink_numbered_header_and_unknown_feed_needs_decimals(tmp_path):
    f = tmp_path / "feed.csv"
    f.write_text(",0,1,2,3,4\n0,7,5339166,1706555999,1706555999,7\n1,6,5359000,1706552375,1706552375,6\n")
    with pytest.raises(InputError, match="--decimals"):
        read_price_file(f)
    s = read_price_file(f, decimals=8, asset="ETH/BTC")
    assert s.price.tolist() == pytest.approx([0.05359, 0.05339166])


def test_bid_ask_file_prices_at_the_mid():
    text = "timestamp_x,ask_price,bid_price\n1609460068912307.2,731.0,730.0\n1609460127950823.8,733,731\n"
    s = parse_price_text(text, "data_unified_0_ethusdt.csv")
    assert s.asset == "ETH" and s.price.tolist() == [730.5, 732.0]
    assert s.source.endswith(":mid")


@pytest.mark.parametrize("text, column, row, what", [
    ("date,close\n2024-01-01 00:00,1\n2024-01-01 01:00,abc\n", "close", 2, "not a number"),
    ("date,close\n2024-01-01 00:00,1\nyesterday,2\n", "date", 2, "not a time"),
    ("date,close\n2024-01-01 00:00,1\n2024-01-01 01:00,-3\n", "close", 2, "must be > 0"),
])
def test_bad_rows_name_file_column_and_row(tmp_path, text, column, row, what):
    f = tmp_path / "ETHUSDT_1h.csv"
    f.write_text(text)
    with pytest.raises(InputError, match=what) as err:
        read_price_file(f, "ohlcv")
    assert (err.value.file, err.value.column, err.value.row) == (f, column, row)


def test_a_file_without_an_asset_name_asks_for_one():
    with pytest.raises(InputError, match="--asset"):
        parse_price_text("time,close\n2024-01-01,1\n2024-01-02,2\n", "prices.csv")
    s = parse_price_text("time,close\n2024-01-01,1\n2024-01-02,2\n", "prices.csv", asset="CRV")
    assert s.asset == "CRV" and np.all(~s.outlier)


def _frame_of(text):
    from backtest.ingest.price_files import _frame
    return _frame(text, "x")


def test_a_bad_chainlink_row_is_located_in_the_file_not_after_the_dropped_rounds(tmp_path):
    # Data row 1 is an unanswered round (dropped); the unreadable updatedAt is data row 3.
    f = tmp_path / "0x86392dC19c0b719886221c78AB11eb8Cf5c52812.csv"
    f.write_text(",round,answer,start,update,answeredInRound\n"
                 "0,9,0,0,0,9\n"
                 "1,8,999692734093987600,1706484887,1706484887,8\n"
                 "2,7,998785420348854600,1706398463,soon,7\n")
    with pytest.raises(InputError) as err:
        read_price_file(f)
    assert (err.value.column, err.value.row) == ("update", 3)
