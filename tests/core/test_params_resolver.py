"""backtest/inputs/params.py: the one resolver the replay loader and the sweep call (the sweep's equality
with load_inputs is in tests/sweep/test_inputs.py)."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.config import RunConfig
from backtest.overrides import apply_overrides
from backtest.errors import InputError
from backtest.inputs.params import check, resolve

BASE = RunConfig(scenario="s", lake="l")


def test_set_for_every_asset_then_one_asset():
    config = apply_overrides(BASE, ["liquidation_threshold=0.7", "liquidation_threshold.CRV=0.5"])
    got = resolve("liquidation_threshold", ["WETH", "CRV", "WETH"], [0.8, 0.6, 0.82], config)
    assert got.tolist() == [0.7, 0.5, 0.7]
    assert resolve("liquidation_threshold", ["WETH"], [0.8], BASE).tolist() == [0.8]


def test_an_emode_reserve_takes_its_category_and_only_emode_overrides():
    config = apply_overrides(BASE, ["liquidation_threshold.WETH=0.1", "emode.1.liquidation_threshold=0.95"])
    got = resolve("liquidation_threshold", ["WETH", "WETH", "wstETH"], [0.8, 0.8, 0.79], config,
                  categories=[0, 1, 2], category_values=[np.nan, 0.93, 0.9])
    assert got.tolist() == [0.1, 0.95, 0.9]
    # close_factor has no e-mode value: the asset's, under its --set
    cf = resolve("close_factor", ["WETH", "WETH"], [0.5, 0.5], apply_overrides(BASE, ["close_factor.WETH=1"]),
                 categories=[0, 1], category_values=[np.nan, np.nan])
    assert cf.tolist() == [1.0, 1.0]


def test_check_names_the_asset_whose_bonus_overdraws_the_collateral():
    ok = {"liquidation_threshold": np.array([0.8, 0.9]), "liquidation_bonus": np.array([0.05, 0.1])}
    check(ok, ["WETH", "CRV"])
    bad = {"liquidation_threshold": np.array([0.8, 0.95]), "liquidation_bonus": np.array([0.05, 0.1])}
    with pytest.raises(InputError, match="CRV: liquidation_threshold"):
        check(bad, ["WETH", "CRV"])
    with pytest.raises(InputError, match=r"within \[0, 1\]"):
        check({"liquidation_threshold": np.array([1.2]), "liquidation_bonus": np.array([0.0])}, ["WETH"])
