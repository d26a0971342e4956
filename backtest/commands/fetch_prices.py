"""`backtest fetch-prices ASSET --from --to`: public price endpoints straight into the lake."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from backtest.commands.common import KLINE_INTERVALS, LAKE_HELP, default_lake
from backtest.errors import InputError

EPILOG = """\
examples:
  backtest fetch-prices ETH --from 2020-03-11 --to 2020-03-15 --source binance
  backtest fetch-prices stETH --from 2022-06-01 --to 2022-07-01 --source coingecko
  backtest fetch-prices USDC --from 2023-03-09 --to 2023-03-15 --interval 1m

No API key is needed. Binance klines are paged 1000 at a time; CoinGecko is asked in 90-day
windows so it stays hourly (its keyless API only serves the last 365 days; set
COINGECKO_API_KEY for a demo key). BACKTEST_BINANCE_URL / BACKTEST_COINGECKO_URL (or --base-url)
point it at a mirror. Overlaps with prices already in the lake follow import-prices' rules.
"""


def _when(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"not a date or date-time: {text!r} (e.g. 2020-03-12 or 2020-03-12T06:00)") from None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fetch-prices", help="download prices (Binance klines or CoinGecko, no key) into the lake",
        description="Fetch a price series from a public endpoint and store it like import-prices does.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("asset", help="asset name in the lake, e.g. ETH")
    p.add_argument("--from", dest="start", type=_when, required=True, help="UTC start (inclusive)")
    p.add_argument("--to", dest="end", type=_when, required=True, help="UTC end (exclusive)")
    p.add_argument("--source", choices=("binance", "coingecko"), default="binance",
                   help="public endpoint (default binance; coingecko for assets Binance does not list)")
    p.add_argument("--interval", choices=KLINE_INTERVALS, default="1h", help="Binance kline length (default 1h)")
    p.add_argument("--symbol", help="Binance pair (default ASSETUSDT)")
    p.add_argument("--coin-id", help="CoinGecko coin id (default from a built-in table, e.g. ETH -> ethereum)")
    p.add_argument("--base-url", help="API root, e.g. http://127.0.0.1:8080")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    how = p.add_mutually_exclusive_group()
    how.add_argument("--replace", dest="overlap", action="store_const", const="replace", default="refuse",
                     help="drop the lake's rows of this asset inside the fetched span (default: refuse overlaps)")
    how.add_argument("--fill", dest="overlap", action="store_const", const="fill",
                     help="keep only the fetched rows outside the spans already in the lake")
    p.set_defaults(func=run)


def run(args) -> int:
    from backtest.ingest.fetch_prices import fetch_series
    from backtest.ingest.price_store import describe, store_series
    series = fetch_series(args.asset, args.source, args.start, args.end, interval=args.interval,
                          symbol=args.symbol, coin_id=args.coin_id, url=args.base_url)
    print(describe(series))
    lake = args.lake or default_lake()
    print(f"  stored: {store_series(lake, series, args.overlap, file=f'{args.source}:{args.asset}')}")
    return 0
