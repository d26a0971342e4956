"""Comet and Maker among the other protocols on the sample book: units conserved, bad debt accounted."""

import numpy as np
import pytest

from backtest.run import make_config, run
from backtest.scenarios import load_scenario


@pytest.fixture(scope="module")
def drought(small_lake):
    scenario = load_scenario("stylised-keeper-drought")      # venues 1 % deep, dear gas, Comet absorbs always
    return run(make_config(scenario, small_lake, ["pool_depth_scale=0.01"]), scenario)


def test_every_unit_of_comet_and_maker_collateral_is_somewhere(drought):
    book, out = drought.inputs.book, drought.outcome
    ev = out.events.to_pandas()
    assert {"absorb", "buyCollateral", "bark", "take"} <= set(ev["action"])
    for j, (protocol, asset) in enumerate(zip(book.reserve_protocol, book.assets)):
        if protocol not in ("comet", "maker") or asset in ("USDC", "DAI"):
            continue
        mine = ev[(ev["protocol"] == protocol) & (ev["asset"] == asset)]
        if protocol == "comet":       # account + inventory + bought = start
            held = mine["inventory"].iloc[-1] if len(mine) else 0.0
            gone = mine.loc[mine["action"] == "buyCollateral", "amount"].sum()
        else:                         # vault + lots still in auctions + taken + returned to owners = start
            held = mine.groupby("auction").tail(1)["lot"].sum()      # each auction's lot after its last event
            gone = mine.loc[mine["action"] == "take", "amount"].sum() + mine["returned"].fillna(0).sum()
        np.testing.assert_allclose(out.collateral[:, j].sum() + held + gone, book.collateral[:, j].sum(), rtol=1e-9)


def test_bad_debt_adds_the_comet_and_maker_losses_to_the_accounts(drought):
    m = drought.metrics
    # Maker's auctions are left open; Comet's keepers buy its inventory back block after block once arbitrage
    # refills the pools (its reserves' loss is hand-worked in test_comet_replay.py)
    assert m["maker_uncovered_tab_usd"] > 0 and m["comet_reserves_loss_usd"] >= 0
    steps = drought.outcome.steps.to_pandas()
    # the last step's bad debt so far is the run's metric: accounts + burned + Comet + Maker
    assert steps["bad_debt_usd"].iloc[-1] == pytest.approx(m["bad_debt_usd"], rel=1e-9)
    assert m["maker_keeper_rewards_usd"] > 0          # reported apart, not in bad debt
