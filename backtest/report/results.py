"""Read a replay's results folder (the files backtest/results.py writes) for the report.

Every file is checked for the columns the report draws from, so a folder from an older or
foreign tool fails with one line naming the file and column instead of a KeyError in a figure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from backtest.config import RunConfig, load_config
from backtest.errors import InputError

LIQUIDATION_COLUMNS = ("step", "timestamp", "protocol", "account", "debt_asset", "collateral_asset",
                       "debt_repaid", "collateral_seized", "collateral_price", "debt_repaid_usd",
                       "collateral_seized_usd", "round", "profit_usd")
STEP_COLUMNS = ("step", "timestamp", "asset", "price_exogenous", "price_market", "price_oracle", "price_amm",
                "sold", "sold_usd", "liquidations", "bad_debt_usd")
METRIC_KEYS = ("liquidations", "bad_debt_usd", "cascade_depth", "collateral_seized_usd", "debt_repaid_usd")


@dataclass
class RunResults:
    path: Path
    config: RunConfig
    liquidations: pd.DataFrame
    steps: pd.DataFrame
    metrics: dict
    accounts: pd.DataFrame | None = None     # accounts.parquet, when the engine writes one

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def title(self) -> str:
        return str(self.config.scenario_spec.get("title", self.config.scenario))


def _parquet(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"results folder has no {path.name} (is it a replay's output?)", file=path.parent)
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({str(exc).splitlines()[0]})", file=path) from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InputError("missing column the report needs", file=path, column=missing[0])
    return table.to_pandas()


def load_results(path: Path) -> RunResults:
    path = Path(path)
    if not path.is_dir():
        raise InputError("results folder not found", file=path)
    if not (path / "config.toml").exists():
        raise InputError("results folder has no config.toml (is it a replay's output?)", file=path)
    config = load_config(path / "config.toml")
    liq = _parquet(path / "liquidations.parquet", LIQUIDATION_COLUMNS)
    steps = _parquet(path / "steps.parquet", STEP_COLUMNS)
    try:
        metrics = json.loads((path / "metrics.json").read_text())
    except FileNotFoundError:
        raise InputError("results folder has no metrics.json", file=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg}, line {exc.lineno})", file=path / "metrics.json") from None
    missing = [k for k in METRIC_KEYS if k not in metrics]
    if missing:
        raise InputError("missing metric", file=path / "metrics.json", column=missing[0])
    accounts = pq.read_table(path / "accounts.parquet").to_pandas() if (path / "accounts.parquet").exists() else None
    return RunResults(path=path, config=config, liquidations=liq, steps=steps, metrics=metrics, accounts=accounts)
