"""`backtest query NAME --param KEY=VALUE`: run queries/NAME.sql over the lake (and a results folder)."""

from __future__ import annotations

import argparse
from pathlib import Path

from backtest.commands.common import LAKE_HELP, default_lake

EPILOG = """\
examples:
  backtest query health_distribution
  backtest query book_prices --param at=2023-12-20T00:00
  backtest query price_path --param asset=WETH --param start=2023-12-20 --param end=2023-12-21 --param step_seconds=3600
  backtest query liquidations_by_hour --results results/RUN
  backtest query aave_v3_positions_at_block --param block=16300000 --param ts=1672531199 --lake mylake

queries (queries/NAME.sql) and what each needs:
"""


def register(sub) -> None:
    from backtest.queries import help_text
    p = sub.add_parser("query", help="run a named SQL query from queries/ (its $parameters via --param)",
                       epilog=EPILOG + help_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="file stem in queries/ (listed below)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a value for the query's $KEY placeholder (repeatable; numbers are passed as numbers)")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.add_argument("--results", type=Path, default=None,
                   help="a replay's results folder, for the queries that read liquidations or steps")
    p.add_argument("--out", type=Path, default=None, help="also write the rows to a .parquet or .csv file")
    p.add_argument("--limit", type=int, default=50, help="rows to print (default 50; 0 = all)")
    p.set_defaults(func=main)


def print_table(table, limit: int) -> None:
    df = table.to_pandas()
    shown = df if limit == 0 else df.head(limit)
    import pandas as pd

    from backtest.numbers import number
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.float_format", number):
        print(shown.to_string(index=False))
    if limit and len(df) > limit:
        print(f"... {len(df) - limit:,} more rows ({len(df):,} in all)")


def write_rows(table, out: Path) -> None:
    from backtest.lake.io import atomic_path, write_parquet
    if out.suffix == ".csv":
        with atomic_path(out) as tmp:
            table.to_pandas().to_csv(tmp, index=False)
    else:
        write_parquet(table, out)


def main(args) -> int:
    from backtest.queries import parse_params, run
    table = run(args.name, args.lake or default_lake(), args.results, parse_params(args.param))   # = bt.query
    if args.out:
        write_rows(table, args.out)
    print_table(table, args.limit)
    return 0
