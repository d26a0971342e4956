"""The one parameter resolver: each reserve's market parameter as a run uses it.

A reserve's value is the lake's (markets row in force; PARAM_DEFAULTS for an empty cell, DEBT_ONLY_ROW
for a debt-only reserve without a row), then `--set NAME` or `--set NAME.ASSET`; an Aave v3 e-mode
reserve takes LTV, LT and bonus from its category instead, then `--set emode.K.NAME` (an asset's
override does not reach them, as on chain). The replay loader (inputs/book.py) and the sweep's
shortcut (sweep/inputs.py) both call `resolve` and `check`; the names are config.MARKET_PARAMS and
EMODE_PARAMS, the list `--set` reads too.
"""

from __future__ import annotations

import numpy as np

from backtest.config import EMODE_PARAMS, MARKET_PARAMS, RunConfig
from backtest.errors import InputError

__all__ = ["MARKET_PARAMS", "EMODE_PARAMS", "PARAM_DEFAULTS", "DEBT_ONLY_ROW", "resolve", "check"]

PARAM_DEFAULTS = {"close_factor": 0.5, "protocol_fee": 0.0}

# The debt asset of Comet (its base) and Maker (DAI) is not collateral; a lake may have no markets row
# for it (backtest/ingest/markets.py writes Comet's collateral assets only): these values stand in.
DEBT_ONLY_ROW = {"ltv": 0.0, "liquidation_threshold": 0.0, "liquidation_bonus": 0.0, "close_factor": 1.0,
                 "protocol_fee": 0.0}


def resolve(name: str, assets, values, config: RunConfig, categories=None, category_values=None) -> np.ndarray:
    """[R] values of parameter `name`: `values` (the lake's, per reserve of asset `assets[r]`) under
    `--set`; reserves with a nonzero `categories[r]` take `category_values[r]` under `--set emode.K.*`
    for the e-mode parameters."""
    col = np.array([config.market_param(name, a, v) for a, v in zip(assets, values)])
    if categories is not None and name in EMODE_PARAMS and len(categories) and any(categories):
        col = np.array([config.emode_param(name, int(k), float(cv)) if k else v
                        for k, cv, v in zip(categories, category_values, col)])
    return col


def check(params: dict[str, np.ndarray], assets) -> None:
    """Refuse parameter sets no protocol could hold (after `--set`)."""
    lt, bonus = params["liquidation_threshold"], params["liquidation_bonus"]
    if ((lt < 0) | (lt > 1)).any():
        raise InputError("liquidation_threshold must be within [0, 1] (after --set)", column="liquidation_threshold")
    if (lt * (1 + bonus) > 1 + 1e-12).any():
        a = assets[int(np.flatnonzero(lt * (1 + bonus) > 1 + 1e-12)[0])]
        raise InputError(f"{a}: liquidation_threshold * (1 + liquidation_bonus) > 1 (after --set): a liquidation "
                         "would seize more collateral than the account has", column="liquidation_bonus")
