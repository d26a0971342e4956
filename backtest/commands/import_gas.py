"""`backtest import-gas FILE`: a real gas-price file becomes one file of the lake's `gas` table."""

from __future__ import annotations

import argparse
from pathlib import Path

from backtest.commands.common import LAKE_HELP, default_lake

EPILOG = """\
examples:
  backtest import-gas ../shared/data/real/stablesims_feeds/gas/03-12-2020.json --percentile 90
  backtest import-gas gas/05-19-2021.json --percentile 60 --lake mylake

A scenario whose [gas] table has no `gwei` reads the lake's gas table on its step grid (the last price at
or before each step); black-thursday-2020-gas does, for 12 March 2020.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "import-gas", help="turn a real gas-price file (stablesims feeds) into the lake's gas table",
        description="Import a gas-price file into the lake's gas table.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, help="stablesims feeds/gas/DAY.json")
    p.add_argument("--percentile", default="90", choices=("30", "60", "90", "100", "avg"),
                   help="which column: the percentile of the gas prices paid per 10 minutes (default 90)")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.set_defaults(func=run)


def run(args) -> int:
    from backtest.ingest.gas_files import lake_file_name, read_stablesims_gas
    from backtest.lake.io import write_table
    table = read_stablesims_gas(args.file, args.percentile)
    gwei = table["gas_price_gwei"].to_numpy()
    print(f"{args.file}: {table.num_rows} rows, {table['timestamp'][0]} .. {table['timestamp'][-1]}, "
          f"p{args.percentile} {gwei.min():,.1f}-{gwei.max():,.1f} gwei")
    path = write_table(args.lake or default_lake(), "gas", table, lake_file_name(table, args.percentile))
    print(f"  stored: {path}")
    return 0
