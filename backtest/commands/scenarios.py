"""`backtest scenarios`: list the scenario library."""

from __future__ import annotations

from pathlib import Path

from backtest.commands.common import LAKE_HELP, default_lake
from backtest.console import table
from backtest.numbers import number
from backtest.scenarios.library import list_scenarios

EPILOG = """examples:
  backtest scenarios
  backtest scenarios --lows --lake LAKE     # each crash's path low against the traded low"""


def register(sub) -> None:
    p = sub.add_parser("scenarios", help="list the scenarios in data/scenarios", epilog=EPILOG,
                       formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("--lows", action="store_true",
                   help="for each historical scenario's lake series: lowest traded price, path low, lowest close")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.set_defaults(func=main)


def main(args) -> int:
    if getattr(args, "lows", False):
        return lows(args)
    rows = [(s.name, s.kind, f"{s.start:%Y-%m-%d %H:%M} .. {s.end:%Y-%m-%d %H:%M}", f"{s.step_seconds}s", s.title)
            for s in list_scenarios()]
    print(table(("name", "kind", "window (UTC)", "step", "title"), rows))
    return 0


def lows(args) -> int:
    from backtest.scenarios.lows import scenario_lows
    head = ("scenario", "series", "traded low", "bar (UTC)", "path low", "at", "lowest close")
    rows = [(r.scenario, r.asset, number(r.traded), r.traded_bar, number(r.path), r.path_at, number(r.closes))
            for r in scenario_lows(args.lake or default_lake(), list_scenarios())]
    print(table(head, rows, right=("traded low", "path low", "lowest close")))
    return 0
