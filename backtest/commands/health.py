"""`backtest health`: collateral, debt and health factor of every (account, snapshot)."""

from __future__ import annotations

from pathlib import Path

from backtest.commands.common import LAKE_HELP, default_lake
from backtest.errors import InputError


def register(sub) -> None:
    p = sub.add_parser("health", help="health factor per account and snapshot (as-of prices and parameters)",
                       epilog="example: backtest health --lake data/lake --out results/health.parquet --limit 20")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.add_argument("--out", type=Path, default=Path("results") / "health.parquet",
                   help="where to write every row (default results/health.parquet)")
    p.add_argument("--limit", type=int, default=20, help="riskiest rows to print (0 = all rows)")
    p.set_defaults(func=main)


def main(args) -> int:
    from backtest.commands.query import print_table, write_rows
    from backtest.lake.catalog import connect, run_query
    from backtest.lake.io import read_table
    lake = args.lake or default_lake()
    for name in ("positions", "markets", "prices"):
        read_table(lake, name)           # one-line errors for bad files before SQL sees them
    con = connect(lake)
    table = run_query(con, "health")
    unpriced = con.sql("SELECT account, block_number FROM health WHERE unpriced_assets > 0 LIMIT 1").fetchall()
    if unpriced:
        raise InputError(f"account {unpriced[0][0]} at block {unpriced[0][1]} holds an asset with no price at or "
                         "before the snapshot", file=Path(lake) / "prices", column="price_usd")
    unknown = con.sql("SELECT count(*) FROM health WHERE unknown_amounts > 0").fetchall()[0][0]
    write_rows(table, args.out)
    if unknown:
        why = con.sql("SELECT protocol, account, asset, \"unknown\" FROM positions WHERE \"unknown\" IS NOT NULL "
                      "ORDER BY block_number, protocol, account, asset LIMIT 1").fetchall()[0]
        print(f"{unknown:,} (account, snapshot) rows hold an amount the lake cannot compute: their health_factor is "
              f"empty (e.g. {why[0]} {why[1]} {why[2]}: {why[3]}; positions' `unknown` column)")
    riskiest = con.sql("SELECT * FROM health WHERE debt_usd > 0 ORDER BY health_factor, account").to_arrow_table()
    print(f"{table.num_rows:,} (account, snapshot) rows written to {args.out}; "
          f"{riskiest.num_rows:,} with debt, riskiest first:")
    print_table(riskiest if args.limit else table, args.limit)
    return 0
