"""`backtest query NAME`: run queries/NAME.sql over the lake (and a results folder)."""

from __future__ import annotations

from pathlib import Path

from backtest.commands.common import QUERIES, default_lake


def register(sub) -> None:
    known = ", ".join(sorted(p.stem for p in QUERIES.glob("*.sql")))
    p = sub.add_parser("query", help="run a named SQL query from queries/",
                       epilog=f"queries: {known}\nexample: backtest query liquidations_by_hour --results results/RUN",
                       formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("name", help="file stem in queries/")
    p.add_argument("--lake", type=Path, default=None, help="lake folder (default data/lake)")
    p.add_argument("--results", type=Path, default=None, help="a replay's results folder (liquidations, steps views)")
    p.add_argument("--out", type=Path, default=None, help="also write the rows to a .parquet or .csv file")
    p.add_argument("--limit", type=int, default=50, help="rows to print (default 50; 0 = all)")
    p.set_defaults(func=main)


def print_table(table, limit: int) -> None:
    df = table.to_pandas()
    shown = df if limit == 0 else df.head(limit)
    import pandas as pd
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.float_format", "{:,.6g}".format):
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
    from backtest.ingest.tables import connect_chain
    from backtest.lake.catalog import connect, run_query
    lake = args.lake or default_lake()
    # Over a results folder: its tables; over a lake: also the decoded chain tables and their UDFs.
    con = connect(lake, results=args.results) if args.results else connect_chain(lake)
    table = run_query(con, args.name)
    if args.out:
        write_rows(table, args.out)
    print_table(table, args.limit)
    return 0
