"""`backtest report`: one offline HTML page and a Markdown summary of a replay or a sweep."""

from __future__ import annotations

import argparse
from pathlib import Path


EPILOG = """examples:
  backtest report results/stylised-eth-crash-d18bba91a3
  backtest report results/crv35 --compare results/baseline --out crv35.html
  backtest report results/run --lake data/lake --md forum-post.md
  backtest report results/my-sweep                   # a sweep folder: bad-debt heatmap and baseline table
"""


def register(sub) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report and a Markdown summary of a run",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", type=Path, help="a results folder written by `backtest replay` or `backtest sweep`")
    p.add_argument("--compare", type=Path, nargs="+", default=[], metavar="OTHER_RESULTS_DIR",
                   help="other replays to compare against RESULTS (the baseline)")
    p.add_argument("--out", type=Path, default=None, help="HTML file (default RESULTS/report.html)")
    p.add_argument("--md", type=Path, default=None, help="Markdown summary (default: --out with .md)")
    p.add_argument("--lake", type=Path, default=None,
                   help="the run's lake, for health factors and pool depth (default: the lake recorded in the run's "
                        "config.toml; $BACKTEST_LAKE is not read, the run already names its lake)")
    p.set_defaults(func=main)


def main(args) -> int:
    from backtest.report import write_report
    html, md = write_report(args.results, compare=args.compare, out=args.out, md_out=args.md, lake=args.lake)
    print(f"report  {html}\nsummary {md}")
    return 0
