"""The `backtest` command: one verb per step of the user's path (see README)."""

from __future__ import annotations

import argparse
import importlib
import sys

from backtest.errors import InputError

# Each module in backtest/commands registers one verb; order is the order shown in --help.
VERBS = (
    "sample_data",
    "ingest",
    "snapshot",
    "import_prices",
    "fetch_prices",
    "scenarios",
    "health",
    "query",
    "replay",
    "sweep",
    "report",
    "bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backtest",
        description="Replay liquidation cascades of DeFi lending protocols on price paths.",
        epilog="Start with `backtest replay` (the shipped synthetic sample and a stylised crash).",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for name in VERBS:
        importlib.import_module(f"backtest.commands.{name}").register(sub)
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
