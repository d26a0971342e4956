"""Health factors before and after a run, derived from the lake and liquidations.parquet."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtest.run import run
from backtest.report.accounts import (accounts_before_after, apply_liquidations, bad_debt_by_asset, find_lake,
                                      hf_bands, load_lake_view)
from backtest.report.results import load_results


def test_liquidations_are_subtracted_in_order_and_floored_at_zero():
    # account 0 holds 10 of asset 0 and owes 5 of asset 1; two liquidations seize 4 then 7 (> the 6 left)
    # and repay 2 then 3: collateral 10-4 = 6, then 6-7 < 0 -> 0; debt 5-2-3 = 0.
    coll = np.array([[10.0, 0.0], [1.0, 0.0]])
    debt = np.array([[0.0, 5.0], [0.0, 0.5]])
    c, d = apply_liquidations(coll, debt, row=np.array([0, 0]), collateral_reserve=np.array([0, 0]),
                              debt_reserve=np.array([1, 1]), seized=np.array([4.0, 7.0]), repaid=np.array([2.0, 3.0]))
    assert c.tolist() == [[0.0, 0.0], [1.0, 0.0]]
    assert d.tolist() == [[0.0, 0.0], [0.0, 0.5]]
    assert coll[0, 0] == 10.0, "the starting book is left alone"


def test_a_burned_deficit_clears_the_rest_of_the_accounts_debt():
    # Aave v3.3: the last collateral (2) is seized for 1 of debt; 3 of debt in another reserve remain
    # with nothing behind them and are burned (the row's deficit_usd > 0), so the account owes nothing.
    c, d = apply_liquidations(np.array([[2.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 3.0]]), row=np.array([0]),
                              collateral_reserve=np.array([0]), debt_reserve=np.array([1]), seized=np.array([2.0]),
                              repaid=np.array([1.0]), burned=np.array([True]))
    assert c.tolist() == [[0.0, 0.0, 0.0]] and d.tolist() == [[0.0, 0.0, 0.0]]


def test_hf_bands_count_borrowers_and_their_debt():
    # HF 0.9 and 0.99 -> '< 1.00' (debt 100 + 50); 1.07 -> 1.05-1.10 (debt 30); 7 -> '>= 5.00' (debt 1);
    # an account with no debt (HF inf) is not a borrower and is left out.
    bands = hf_bands(np.array([0.9, 0.99, 1.07, 7.0, np.inf]), np.array([100.0, 50.0, 30.0, 1.0, 0.0]))
    row = bands.set_index("band")
    assert row.loc["< 1.00 (liquidatable)", "accounts"] == 2 and row.loc["< 1.00 (liquidatable)", "debt_usd"] == 150
    assert row.loc["1.05-1.10", "accounts"] == 1 and row.loc["1.05-1.10", "debt_usd"] == 30
    assert row.loc[">= 5.00", "accounts"] == 1
    assert bands["accounts"].sum() == 4


def test_bad_debt_is_split_over_the_debt_assets_by_value():
    # account 0: debt $300 (USDC $200, DAI $100), collateral $240 -> bad debt 60, split 40 USDC / 20 DAI;
    # account 1 is solvent and adds nothing.
    table = pd.DataFrame({"debt_usd_after": [300.0, 10.0], "collateral_usd_after": [240.0, 50.0]})
    split = bad_debt_by_asset(table, np.array([[200.0, 100.0], [10.0, 0.0]]), ["USDC", "DAI"])
    assert split.to_dict() == pytest.approx({"USDC": 40.0, "DAI": 20.0})


def test_derived_final_book_is_exactly_the_engines(small_lake, baseline):
    results = load_results(baseline)
    view = load_lake_view(results, small_lake)
    table, debt_after_usd = accounts_before_after(results, view)
    engine = run(results.config).outcome
    oracle = engine.prices
    assert len(results.liquidations) > 100
    assert np.array_equal(table["collateral_usd_after"].to_numpy(), (engine.collateral * oracle).sum(axis=1))
    assert np.array_equal(debt_after_usd, engine.debt * oracle)
    # and the bad debt of the derived book is the run's own metric
    bad = np.maximum(0, table["debt_usd_after"] - table["collateral_usd_after"]).sum() + \
        results.liquidations["deficit_usd"].sum()      # deficits burned by Aave v3.3 left the book
    assert bad == pytest.approx(json.loads((baseline / "metrics.json").read_text())["bad_debt_usd"], rel=1e-9)


def test_before_is_the_book_at_its_snapshot_with_no_one_liquidatable(small_lake, baseline):
    results = load_results(baseline)
    table, _ = accounts_before_after(results, load_lake_view(results, small_lake))
    borrowing = table[table["debt_usd_before"] > 0]
    assert len(borrowing) == results.metrics["accounts_with_debt"]
    assert borrowing["health_factor_before"].min() >= 1.0   # the sample draws HF >= 1.002
    assert (table["health_factor_after"] < 1).sum() > 0     # the crash leaves some underwater


def test_the_recorded_relative_lake_is_found_from_the_results_folder(baseline, tmp_path, monkeypatch):
    results = load_results(baseline)
    monkeypatch.chdir(tmp_path)    # the absolute path recorded by the fixture still resolves
    assert find_lake(results, None) is not None
    results.config = type(results.config)(scenario=results.config.scenario, lake="no-such-lake")
    assert find_lake(results, None) is None


def test_two_percent_depth_of_a_constant_product_pool():
    # 1,000 base in the pool: selling a leaves the marginal price at (1000 / (1000 + a))^2 of mid;
    # 2 % down needs 1000 / (1000 + a) = sqrt(0.98) -> a = 1000 * (1 / 0.98995 - 1) = 10.152
    from backtest.metrics.depth import v2_depth
    assert v2_depth(1000.0) == pytest.approx(10.1525, abs=1e-4)
    assert (1000.0 / (1000.0 + v2_depth(1000.0))) ** 2 == pytest.approx(0.98, rel=1e-12)


def test_starting_depth_sums_the_venues_of_each_asset():
    from types import SimpleNamespace
    from backtest.metrics.depth import starting_depth
    venues = [SimpleNamespace(asset=0, depth=lambda x: 5.0), SimpleNamespace(asset=0, depth=lambda x: 2.0),
              SimpleNamespace(asset=2, depth=lambda x: 1.0)]
    assert starting_depth(SimpleNamespace(venues=venues), ["WETH", "USDC", "CRV"]) == {"WETH": 7.0, "CRV": 1.0}
