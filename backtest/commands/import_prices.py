"""`backtest import-prices FILE`: a real price file becomes one file of the lake's `prices` table."""

from __future__ import annotations

import argparse
from pathlib import Path

from backtest.commands.common import LAKE_HELP, PRICE_FORMATS, default_lake

EPILOG = """\
examples:
  backtest import-prices ../shared/data/real/binance_1h_ingiorn/Binance_ETHUSDT_1h.csv --asset ETH
  backtest import-prices coingecko/stETH_usd.csv --lake mylake
  backtest import-prices 0x86392dC19c0b719886221c78AB11eb8Cf5c52812.csv          # Chainlink stETH/ETH
  backtest import-prices BTCUSD_1m.csv --divide-by BTCUSDC_1m.csv --asset USDC      # USDC/USD
  backtest import-prices hopeffy/ETHUSDT_1h.csv --asset ETH --fill                  # extend, keep old rows

One lake file per series (prices/<asset>__<source>__<first>-<last time>.parquet): importing the same
file again replaces it. A series that overlaps another file's rows of the same asset is refused
unless --replace (drop the old rows inside the new series' span) or --fill (keep only the new
rows outside the spans already in the lake). Outliers are kept and flagged; the replay skips them.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "import-prices", help="turn a real price file (Binance, CoinGecko, Chainlink, OHLCV) into lake prices",
        description="Import a price file into the lake's prices table, flagging outliers and reporting gaps.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, help="CSV or JSON price file")
    p.add_argument("--asset", help="asset name in the lake (default: read from the file: ETHUSDT -> ETH)")
    p.add_argument("--format", choices=PRICE_FORMATS, default="auto", help="file family (default: detect)")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.add_argument("--decimals", type=int, help="Chainlink answer decimals, for a feed not known by address")
    p.add_argument("--divide-by", type=Path, metavar="FILE2",
                   help="store FILE's price divided by FILE2's at the nearest time (BTCUSD / BTCUSDC = USDC in USD)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--replace", dest="overlap", action="store_const", const="replace", default="refuse",
                     help="drop other files' rows of this asset inside this series' span")
    how.add_argument("--fill", dest="overlap", action="store_const", const="fill",
                     help="keep only this series' rows outside the spans already in the lake")
    p.set_defaults(func=run)


def run(args) -> int:
    from backtest.ingest.price_files import read_price_file
    from backtest.ingest.price_series import divide
    from backtest.ingest.price_store import describe, store_series
    series = read_price_file(args.file, args.format, asset=args.asset, decimals=args.decimals)
    if args.divide_by is not None:
        other = read_price_file(args.divide_by, args.format, decimals=args.decimals)
        series = divide(series, other, args.asset or series.asset)
    print(describe(series))
    print(f"  stored: {store_series(args.lake or default_lake(), series, args.overlap, file=args.file)}")
    return 0
