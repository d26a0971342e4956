"""The `backtest` command: one verb per step of the user's path (see README)."""

from __future__ import annotations

import argparse
import importlib
import sys

from backtest.errors import InputError

# verb -> module in backtest/commands, in the order --help shows them. A command module imports only
# light modules at its top (argparse, pathlib, backtest.commands.common) and the engine, numpy,
# pandas, duckdb or pyarrow inside its run function, so that every `--help` answers in well under
# 0.5 s (issue 19; tests/core/test_cli_fast.py). To add a verb: write backtest/commands/NAME.py with
# `register(subparsers)` (which sets `func`) and add one line here.
COMMANDS = {
    "sample-data": "sample_data",
    "ingest": "ingest",
    "snapshot": "snapshot",
    "import-prices": "import_prices",
    "import-gas": "import_gas",
    "fetch-prices": "fetch_prices",
    "scenarios": "scenarios",
    "health": "health",
    "query": "query",
    "replay": "replay",
    "sweep": "sweep",
    "report": "report",
    "bench": "bench",
    "calibrate": "calibrate",
    "sensitivity": "sensitivity",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backtest",
        description="Replay liquidation cascades of DeFi lending protocols on price paths.",
        epilog="Start with `backtest replay` (the shipped synthetic sample and a stylised crash).",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for module in COMMANDS.values():
        importlib.import_module(f"backtest.commands.{module}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"backtest {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:          # `backtest query ... | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"backtest {args.verb}: interrupted", file=sys.stderr)
        return 130
