"""What every command's parser needs, importable without numpy, pandas, duckdb or pyarrow.

The parsers are built for every `backtest ... --help`, so a command module imports only this,
argparse and pathlib at its top, and the engine inside its run function. The choice lists below
copy constants of heavy modules; tests/core/test_cli_fast.py checks each copy against its source.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SCENARIO = "stylised-eth-crash"          # = backtest.run.DEFAULT_SCENARIO

LAKE_HELP = "lake folder (default data/lake, or $BACKTEST_LAKE if set)"

# Copies of heavy modules' constants (checked equal by the test above).
PATH_MODELS = ("gbm", "jump", "bootstrap", "bridge")                 # backtest.scenarios.montecarlo.MODELS
EXECUTORS = ("local", "ray")                                          # backtest.sweep.executors.EXECUTORS
PRICE_FORMATS = ("auto", "binance", "coingecko", "chainlink", "ohlcv")  # backtest.ingest.price_files.FORMATS
KLINE_INTERVALS = ("1m", "5m", "15m", "30m", "1h", "4h", "1d")        # backtest.ingest.fetch_prices.INTERVAL_MS
QUERIES = REPO / "queries"                                            # backtest.lake.catalog.QUERIES


def default_lake() -> Path:
    """The lake every command reads by default: $BACKTEST_LAKE, else the repository's data/lake."""
    return Path(os.environ.get("BACKTEST_LAKE", REPO / "data" / "lake"))


def replay_hint(lake: Path) -> str:
    """What to run next on a lake just written: replay reads `default_lake()` unless told, and that is
    the shipped synthetic sample unless $BACKTEST_LAKE is set, so name the lake."""
    same = Path(lake).resolve() == default_lake().resolve()
    return "  next: backtest replay SCENARIO" + ("" if same else f" --lake {lake}") + \
        ("" if same else "   (without --lake, replay reads " + str(default_lake()) + ")")
