"""Reading a sweep's output for the report: the heatmap of bad debt over two swept parameters
and the table against the baseline.

The sweep command (backtest/sweep/) is being written at the same time as this module, so
this reader asks little of its output, and says so in docs/reports.md:
  * a Parquet table, one row per (parameter set, path), named `sweep.parquet` (or `runs.parquet`);
  * parameter columns named as `--set` keys (`liquidation_threshold.CRV`, `oracle.deviation`, ...);
  * metric columns named as in metrics.json (`bad_debt_usd`, `liquidations`, `cascade_depth`, ...);
  * optionally a boolean `baseline` column, and optionally its own `comparison.parquet`, shown as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from backtest.config import RunConfig, apply_overrides
from backtest.errors import InputError

TABLE_NAMES = ("sweep.parquet", "runs.parquet")
COMPARISON_NAMES = ("comparison.parquet",)
METRICS = ("bad_debt_usd", "liquidations", "cascade_depth", "collateral_seized_usd", "amplification",
           "debt_repaid_usd", "liquidator_profit_usd", "deficit_usd")


@dataclass
class Sweep:
    path: Path
    table: pd.DataFrame
    parameters: list[str]        # swept: more than one distinct value
    comparison: pd.DataFrame | None


def is_sweep(folder: Path) -> bool:
    return any((Path(folder) / n).exists() for n in TABLE_NAMES)


def is_parameter(name: str) -> bool:
    """A column is a parameter if `--set name=...` would accept it (the config module decides)."""
    probe = RunConfig(scenario="probe", lake=".")
    try:
        apply_overrides(probe, {name: "1"})
    except InputError:
        return False
    return name not in ("seed",)


def _read(path: Path) -> pd.DataFrame:
    try:
        return pq.read_table(path).to_pandas()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({str(exc).splitlines()[0]})", file=path) from None


def load_sweep(folder: Path) -> Sweep:
    folder = Path(folder)
    path = next(folder / n for n in TABLE_NAMES if (folder / n).exists())
    table = _read(path)
    if "bad_debt_usd" not in table.columns:
        raise InputError("a sweep table needs a bad_debt_usd column", file=path, column="bad_debt_usd")
    params = [c for c in table.columns if c not in METRICS and is_parameter(c)]
    swept = [c for c in params if table[c].nunique() > 1]
    comparison = next((_read(folder / n) for n in COMPARISON_NAMES if (folder / n).exists()), None)
    return Sweep(path=path, table=table, parameters=swept, comparison=comparison)


def against_baseline(sweep: Sweep) -> pd.DataFrame:
    """Mean of each metric over paths per parameter set, and its change vs the baseline set.

    The baseline is the set flagged by a true `baseline` column, else the first set in sorted order.
    """
    t, params = sweep.table, sweep.parameters
    metrics = [m for m in METRICS if m in t.columns]
    if not params:
        return t[metrics].mean().to_frame("mean over paths").reset_index(names="metric")
    means = t.groupby(params, sort=True)[metrics].mean().reset_index()
    if "baseline" in t.columns and t["baseline"].astype(bool).any():
        base_key = tuple(t[t["baseline"].astype(bool)].iloc[0][params])
    else:
        base_key = tuple(means.iloc[0][params])
    base = means[(means[params] == pd.Series(base_key, index=params)).all(axis=1)].iloc[0]
    for m in ("bad_debt_usd", "liquidations"):
        if m in metrics:
            means[f"Δ {m} vs baseline"] = (means[m] - base[m]) / abs(base[m]) if base[m] else float("nan")
    means.insert(0, "baseline", (means[params] == pd.Series(base_key, index=params)).all(axis=1))
    return means
