"""feedback_mode: "full" (every simulated flow moves prices), "excess" (only the flow beyond the day's real
liquidation flow, backtest/markets/carried.py), "none" (= --no-feedback)."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta

import numpy as np
import pytest

import backtest.engine.start as start_module
from backtest import api as bt
from backtest.config import RunConfig
from backtest.overrides import apply_overrides
from backtest.engine.replay import replay
from backtest.errors import InputError
from backtest.inputs.book import load_inputs
from backtest.markets.carried import CarriedFlow
from backtest.markets.reference import ReferenceMarket
from backtest.run import make_config
from backtest.scenarios.library import load_scenario


def test_carried_flow_takes_the_real_flow_of_the_same_side_first():
    carried = CarriedFlow(np.array([[[100.0, 10.0]], [[5.0, 0.0]]]))
    assert carried.excess(0, -60.0) == 0.0          # 60 of the 100 sold
    assert carried.excess(0, -70.0) == -30.0        # 40 left: 30 beyond
    assert carried.excess(0, 25.0) == 15.0          # bought: 10 carried
    carried.next_step()
    assert carried.excess(0, -3.0) == 0.0 and carried.excess(0, -3.0) == -1.0
    carried.next_step()                             # past the table: nothing carried
    assert carried.excess(0, -3.0) == -3.0


def _market(carried=None) -> ReferenceMarket:
    m = ReferenceMarket(exo=np.array([2000.0]), coefficient=np.array([0.05]), volume=np.array([1e9]),
                        permanent_share=np.array([0.3]), half_life=np.array([600.0]))
    m.carried = carried
    return m


def test_reference_market_moves_only_by_the_excess():
    full, covered, half = _market(), _market(CarriedFlow(np.array([[[1e6, 0.0]]]))), \
        _market(CarriedFlow(np.array([[[5e5, 0.0]]])))
    beyond = _market()
    for m in (full, covered, half):
        m.trade(0, -1e6)
    beyond.trade(0, -5e5)
    assert covered.price[0] == 2000.0 and full.price[0] < 2000.0
    assert half.price[0] == beyond.price[0]          # 1M sold, 0.5M carried: moves as 0.5M would


@pytest.fixture(scope="module")
def runs(small_lake):
    """The default scenario's first eight hours on the 3,000-account sample: full, none and "excess" against
    zero, unbounded and recorded real flow."""
    crash = load_scenario("stylised-eth-crash")
    crash = dataclasses.replace(crash, end=crash.start + timedelta(hours=8))
    config = make_config(crash, small_lake)
    inputs = load_inputs(config, crash)
    shape = inputs.exogenous.shape + (2,)
    used = np.zeros(shape)

    class Recording(CarriedFlow):                   # the simulated flow of each step and side (all carried)
        def excess(self, a, usd):
            used[self.step, a, 0 if usd < 0 else 1] += abs(usd)
            return super().excess(a, usd)

    out = {"full": replay(inputs, config), "none": replay(inputs, config, feedback=False),
           "zero": replay(dataclasses.replace(inputs, carried_flow=np.zeros(shape)), config)}
    original = start_module.CarriedFlow
    start_module.CarriedFlow = Recording
    try:
        out["unbounded"] = replay(dataclasses.replace(inputs, carried_flow=np.full(shape, 1e30)), config)
    finally:
        start_module.CarriedFlow = original
    # the recorded flow as the real one, with 1e-12 relative slack: the sum spent back term by term in
    # floats may fall short of the last term by a rounding
    out["recorded"] = replay(dataclasses.replace(inputs, carried_flow=used * (1 + 1e-12)), config)
    out["used"] = used
    return out


def _prices(outcome, column="price_market"):
    return outcome.steps.sort_by([("step", "ascending"), ("asset", "ascending")])[column].to_numpy()


def test_excess_with_no_real_flow_is_full_feedback(runs):
    for table in ("steps", "liquidations"):            # pandas: a NaN equals a NaN (no pool: price_amm)
        assert getattr(runs["zero"], table).to_pandas().equals(getattr(runs["full"], table).to_pandas())


def test_excess_with_the_simulated_flow_as_real_flow_is_no_feedback(runs):
    assert runs["full"].liquidations.num_rows > 0 and runs["used"].sum() > 0
    assert not np.array_equal(_prices(runs["full"]), _prices(runs["none"]))        # feedback moved prices
    for column in ("price_market", "price_oracle"):
        assert np.array_equal(_prices(runs["unbounded"], column), _prices(runs["none"], column))
        assert np.array_equal(_prices(runs["recorded"], column), _prices(runs["none"], column))


def test_feedback_mode_settings():
    base = RunConfig(scenario="s", lake="l")
    assert apply_overrides(base, ["feedback_mode=full"]) == base
    assert apply_overrides(base, ["feedback_mode=none"]) == dataclasses.replace(base, feedback=False)
    excess = apply_overrides(base, ["feedback_mode=excess"])
    assert excess.mode == "excess" and base.mode == "full" and excess.run_id() != base.run_id()
    with pytest.raises(InputError, match="one of full, excess, none"):
        apply_overrides(base, ["feedback_mode=half"])


def test_excess_without_real_flow_in_the_lake_is_refused(small_lake):
    with pytest.raises(InputError, match="needs the day's real liquidation flow"):
        bt.replay(lake=small_lake, set={"feedback_mode": "excess"})


def test_real_flow_read_from_the_lakes_liquidation_rows(small_lake, tmp_path):
    """A Dune lending.supply import with one liquidation: 10 WETH seized at 00:25 is step 2 (10-minute
    steps) of the default scenario, valued at that step's path price; the replay runs and says so."""
    from backtest.ingest.dune import SUPPLY_COLUMNS, import_dune_csv
    from backtest.inputs.carried import load_carried_flow
    lake = tmp_path / "lake"
    shutil.copytree(small_lake, lake)
    row = dict.fromkeys(SUPPLY_COLUMNS, "")
    row.update(blockchain="ethereum", project="aave", version="3", transaction_type="deposit_liquidation",
               symbol="WETH", token_address="0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", depositor="0x" + "aa" * 20,
               on_behalf_of="0x" + "aa" * 20, liquidator="0x" + "bb" * 20, amount="-10",
               amount_raw="-10000000000000000000", block_month="2024-01-01", block_time="2024-01-01 00:25:00.000 UTC",
               block_number="18908950", project_contract_address="0x" + "cc" * 20, tx_hash="0x" + "dd" * 32,
               evt_index="3")
    csv = tmp_path / "supplies.csv"
    csv.write_text(",".join(SUPPLY_COLUMNS) + "\n" + ",".join(row[c] for c in SUPPLY_COLUMNS) + "\n")
    import_dune_csv(csv, lake)
    assets = ["CRV", "WETH"]
    exo = np.array([[0.5, 2000.0 + t] for t in range(145)])
    flow = load_carried_flow(lake, load_scenario("stylised-eth-crash"), assets, exo)
    assert np.argwhere(flow).tolist() == [[2, 1, 0]] and flow[2, 1, 0] == 10 * 2002.0
    run = bt.replay(lake=lake, set={"feedback_mode": "excess"})
    assert "feedback excess (only flow beyond the day's real liquidations" in run.summary()
