"""Per-account health before and after a run, for the report's health-factor figure.

The results folder does not (yet) store per-account state. Liquidations are the only change
the replay makes to the book, so the final book is the starting book (loaded from the lake as
the engine loads it, with the run's own parameters) minus what each liquidation repaid and
seized, applied in the order they happened, with the engine's clamp at zero and its deficit
burning: that reproduces the engine's final arrays exactly (tests/report/test_accounts.py). If the folder has an `accounts.parquet`, it is
used instead and the lake is not needed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import tomli_w

from backtest.protocols import rules
from backtest.inputs.book import Book, ReplayInputs, load_inputs
from backtest.errors import InputError
from backtest.markets.oracle_table import protocol_key
from backtest.report.results import RunResults
from backtest.scenarios.library import load_scenario

ACCOUNT_COLUMNS = ("account", "protocol", "collateral_usd_before", "debt_usd_before", "health_factor_before",
                   "collateral_usd_after", "debt_usd_after", "health_factor_after")
# Same bands as queries/health_bands.sql, so the report and `backtest query health_distribution` agree.
HF_BANDS = (1.0, 1.05, 1.10, 1.25, 1.50, 2.0, 5.0)


@dataclass
class LakeView:
    inputs: ReplayInputs

    @property
    def book(self) -> Book:
        return self.inputs.book


def apply_liquidations(collateral: np.ndarray, debt: np.ndarray, row: np.ndarray, collateral_reserve: np.ndarray,
                       debt_reserve: np.ndarray, seized: np.ndarray, repaid: np.ndarray,
                       burned: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The book after liquidations (given as row/column indices, in the order they happened).

    As the engine (backtest/agents/liquidator.py `execute`, backtest/engine/replay.py): a cell
    that would go below zero is set to zero, and where a liquidation burned a deficit (Aave
    v3.3+, `deficit_usd` > 0) the account's remaining debt is cleared.
    """
    coll, owed = np.array(collateral, dtype=float), np.array(debt, dtype=float)
    burned = np.zeros(len(row), bool) if burned is None else np.asarray(burned, bool)
    for i, c, d, s, r, b in zip(row.tolist(), collateral_reserve.tolist(), debt_reserve.tolist(), seized.tolist(),
                                repaid.tolist(), burned.tolist()):
        owed[i, d] = 0.0 if r >= owed[i, d] else owed[i, d] - r
        coll[i, c] = 0.0 if s >= coll[i, c] else coll[i, c] - s
        if b:
            owed[i] = 0.0
    return coll, owed


def health_table(accounts, protocol, floors, before: tuple, after: tuple) -> pd.DataFrame:
    """One row per account: USD collateral, USD debt and HF (each row under its protocol's rule,
    backtest/protocols/rules.py) before and after. `before`/`after` are (collateral, debt, reserve
    prices, liquidation thresholds)."""
    out = {"account": np.asarray(accounts), "protocol": np.asarray(protocol)}
    for when, (coll, debt, prices, lt) in (("before", before), ("after", after)):
        c_usd, d_usd = coll * prices, debt * prices
        out[f"collateral_usd_{when}"] = c_usd.sum(axis=1)
        out[f"debt_usd_{when}"] = d_usd.sum(axis=1)
        out[f"health_factor_{when}"] = rules.health_factor(c_usd, d_usd, lt, floors)
    return pd.DataFrame(out, columns=list(ACCOUNT_COLUMNS))


def hf_bands(hf: np.ndarray, debt_usd: np.ndarray) -> pd.DataFrame:
    """Borrowing accounts and their debt per health-factor band (accounts without debt left out)."""
    hf, debt_usd = np.asarray(hf, float), np.asarray(debt_usd, float)
    keep = debt_usd > 0
    labels = ["< 1.00 (liquidatable)"] + [f"{a:.2f}-{b:.2f}" for a, b in zip(HF_BANDS, HF_BANDS[1:])] + \
        [f">= {HF_BANDS[-1]:.2f}"]
    band = np.searchsorted(HF_BANDS, hf[keep], side="right")
    accounts = np.bincount(band, minlength=len(labels))
    debt = np.bincount(band, weights=debt_usd[keep], minlength=len(labels))
    return pd.DataFrame({"band": labels, "accounts": accounts, "debt_usd": debt})


def bad_debt_by_asset(table: pd.DataFrame, debt_after_usd: np.ndarray, assets: list[str]) -> pd.Series:
    """Each account's bad debt split over its remaining debt assets in proportion to their USD value.

    The metric itself is per account (backtest/metrics.py); this split is the report's own choice,
    to say which borrowed asset the protocol is short of.
    """
    bad = np.maximum(0.0, table["debt_usd_after"].to_numpy() - table["collateral_usd_after"].to_numpy())
    total = debt_after_usd.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total[:, None] > 0, debt_after_usd / np.where(total > 0, total, 1.0)[:, None], 0.0)
    return pd.Series(bad @ share, index=assets).groupby(level=0, sort=True).sum()


def _scenario(run: RunResults):
    """The scenario exactly as the run recorded it (config.toml's scenario_spec), not today's file."""
    spec = run.config.scenario_spec
    if not spec:
        return load_scenario(run.config.scenario)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{run.config.scenario}.toml"
        path.write_text(tomli_w.dumps(spec))
        return load_scenario(path)


def find_lake(run: RunResults, lake: Path | None) -> Path | None:
    """--lake if given, else the run's lake as recorded (relative to the working folder, then to the results)."""
    if lake is not None:
        if not Path(lake).is_dir():
            raise InputError("lake folder not found", file=lake)
        return Path(lake)
    recorded = Path(run.config.lake)
    for candidate in (recorded, run.path.parent / recorded, run.path / recorded):
        if (candidate / "positions").is_dir():
            return candidate
    return None


def load_lake_view(run: RunResults, lake: Path) -> LakeView:
    """The run's inputs as the engine loads them (book, pools, step blocks), from `lake`."""
    return LakeView(load_inputs(replace(run.config, lake=str(lake)), _scenario(run)))


def final_oracle(steps: pd.DataFrame, book: Book) -> np.ndarray:
    """[R] the last step's oracle price of each reserve column: its own protocol's feed (steps.parquet
    `oracles`), or the asset's `price_oracle` in results written before feeds were per protocol."""
    last = steps[steps["step"] == steps["step"].max()].set_index("asset")
    missing = [a for a in book.price_assets if a not in last.index]
    if missing:
        raise InputError(f"steps.parquet has no row for {missing[0]} at the last step", column="asset")
    assets = [book.price_assets[a] for a in book.reserve_asset]
    if "oracles" not in last.columns:
        return last.loc[assets, "price_oracle"].to_numpy(dtype=float)
    feeds = {a: dict(last.at[a, "oracles"]) for a in book.price_assets}
    return np.array([feeds[a].get(protocol_key(p), last.at[a, "price_oracle"])
                     for p, a in zip(book.reserve_protocol, assets)], dtype=float)


def final_threshold(inputs: ReplayInputs) -> np.ndarray:
    """The liquidation thresholds in force at the last step (governance changes included)."""
    lt = inputs.book.liquidation_threshold
    for block, params in inputs.book.schedule:
        if inputs.step_blocks is not None and inputs.step_blocks[-1] >= block:
            lt = params["liquidation_threshold"]
    return lt


def _reserve_of(book: Book, rows: np.ndarray, symbols: pd.Series, held: np.ndarray) -> np.ndarray:
    """The reserve column each (row, asset symbol) refers to: the account's own protocol's reserve,
    found as the one with that symbol it held at the start."""
    out = np.empty(len(rows), dtype=int)
    by_symbol: dict[str, list[int]] = {}
    for r, a in enumerate(book.assets):
        by_symbol.setdefault(a, []).append(r)
    for k, (i, a) in enumerate(zip(rows.tolist(), symbols.tolist())):
        candidates = by_symbol.get(a)
        if not candidates:
            raise InputError(f"asset {a!r} is not in the lake's book: is this the run's lake?", column="asset")
        out[k] = next((r for r in candidates if held[i, r] > 0), candidates[0])
    return out


def accounts_before_after(run: RunResults, view: LakeView) -> tuple[pd.DataFrame, np.ndarray]:
    """(per-account table, [N, R] debt after in USD) from the starting book and liquidations.parquet."""
    inputs, book, liq = view.inputs, view.book, run.liquidations
    index = {(p, a): i for i, (p, a) in enumerate(zip(book.protocol, book.accounts))}
    keys = list(zip(liq["protocol"], liq["account"]))
    unknown = [k for k in keys if k not in index]
    if unknown:
        raise InputError(f"liquidated account {unknown[0][1]} ({unknown[0][0]}) is not in the lake's book: is this "
                         "the run's lake?", file=run.path / "liquidations.parquet", column="account")
    order = liq.assign(_row=[index[k] for k in keys]).sort_values(["step", "round"], kind="stable")
    rows = order["_row"].to_numpy(int)
    burned = order["deficit_usd"].to_numpy(float) > 0 if "deficit_usd" in order else None
    coll, debt = apply_liquidations(
        book.collateral, book.debt, rows, _reserve_of(book, rows, order["collateral_asset"], book.collateral),
        _reserve_of(book, rows, order["debt_asset"], book.debt), order["collateral_seized"].to_numpy(float),
        order["debt_repaid"].to_numpy(float), burned)
    after = final_oracle(run.steps, book)
    floors = np.array([rules.rules_for(p).floors_average_lt for p in book.protocol], dtype=bool)
    table = health_table(book.accounts, book.protocol, floors,
                         (book.collateral, book.debt, inputs.exogenous[0][book.reserve_asset], book.liquidation_threshold),
                         (coll, debt, after, final_threshold(inputs)))
    return table, debt * after
