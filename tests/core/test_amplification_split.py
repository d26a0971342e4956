"""Amplification split into execution cost and price feedback, each from a run actually made, and
the cascade counted across steps: a two-account book, worked by hand."""

import numpy as np
import pytest

from backtest.engine.counterfactual import StillRouter, execution_only
from backtest.engine.replay import replay
from backtest.metrics import compute
from backtest.metrics.amplification import cascade_across_steps
from tests.engine_mechanisms.conftest import config, make_inputs

RESERVES = {"USDC": (0.0, 0.0), "WETH": (0.8, 0.08)}        # Compound v2: CF 0.8, incentive 1.08, close factor 1
# At WETH $1,800: A's HF = 10 x 1,800 x 0.8 / 14,500 = 0.993 (liquidatable); B's = 14,400 / 14,300 = 1.007,
# liquidatable only if WETH falls below 1,787.50 -- which A's sale into the pool does.
ACCOUNTS = {"0xa": {"WETH": (10.0, 0.0), "USDC": (0.0, 14_500.0)},
            "0xb": {"WETH": (10.0, 0.0), "USDC": (0.0, 14_300.0)}}
PATH = {"WETH": [2000.0, 1800.0, 1800.0], "USDC": [1.0] * 3}


def runs(pool):
    inputs = make_inputs("compound-v2", RESERVES, ACCOUNTS, PATH, pool)
    # a thin reference market for WETH ($1M a day): the flow of A's sale, passed on by the next block's
    # arbitrage, moves it by 0.19 x sqrt(15.7k / 1M) ~ 2.4 %, past B's 1,787.50 and the feed's 0.5 %
    cfg = config(None, "impact.scale=1", "impact.WETH.daily_volume_usd=1e6")
    feedback, without = replay(inputs, cfg), replay(inputs, cfg, feedback=False)
    execution = replay(execution_only(inputs), cfg)
    return inputs, feedback, without, execution, compute(inputs, feedback, without, execution)


def test_price_feedback_alone_liquidates_the_second_account():
    inputs, f, n, s, m = runs((1_000.0, 2_000_000.0))
    # without feedback and with execution cost only, A alone: 14,500 x 1.08 / 1,800 = 8.7 WETH
    for run in (n, s):
        liq = run.liquidations.to_pandas()
        assert liq["account"].tolist() == ["0xa"] and liq["collateral_seized"][0] == pytest.approx(8.7)
    assert m["seized_exogenous_usd_without_feedback"] == pytest.approx(8.7 * 1800)
    assert m["seized_exogenous_usd_execution_only"] == pytest.approx(8.7 * 1800)
    assert m["amplification_execution_cost"] == pytest.approx(1.0)
    # with feedback A's 8.7 WETH move the pool, the oracle follows, and B goes in round 1 at that oracle
    liq = f.liquidations.to_pandas()
    assert liq["account"].tolist() == ["0xa", "0xb"] and liq["round"].tolist() == [0, 1]
    p1 = liq["collateral_price"][1]
    assert p1 < 1787.5
    assert liq["collateral_seized"][1] == pytest.approx(14_300 * 1.08 / p1)
    # valued at the exogenous $1,800 (not at the oracle feedback pushed down)
    assert m["seized_exogenous_usd"] == pytest.approx((8.7 + 14_300 * 1.08 / p1) * 1800)
    assert m["amplification_price_feedback"] == pytest.approx(m["seized_exogenous_usd"] / (8.7 * 1800))
    assert m["amplification"] == pytest.approx(m["amplification_execution_cost"] * m["amplification_price_feedback"])
    # B's liquidation is induced (no-feedback run never liquidated B); A's is not
    assert (m["cascade_depth"], m["induced_steps"], m["induced_liquidations"]) == (1, 1, 1)


def test_execution_cost_alone_makes_the_liquidator_take_less():
    # a pool a tenth as deep: selling all 8.7 WETH at impact fetches less than the 14,500 USDC it
    # costs, so with slippage the liquidator repays a smaller share; without, it takes it all
    inputs, f, n, s, m = runs((100.0, 200_000.0))
    seized_n = n.liquidations.to_pandas()["collateral_seized"].sum()
    seized_s = s.liquidations.to_pandas()["collateral_seized"].sum()
    assert seized_n == pytest.approx(8.7) and seized_s < seized_n
    assert m["amplification_execution_cost"] == pytest.approx(seized_s / seized_n)
    assert m["seized_added_by_execution_cost_usd"] == pytest.approx((seized_s - seized_n) * 1800)
    # the execution-only run's sales never moved its pool: the market price is the exogenous path
    steps = s.steps.to_pandas().query("asset == 'WETH'")
    assert steps["sold"].sum() > 0
    assert np.allclose(steps["price_market"], steps["price_exogenous"])


def test_the_still_router_fills_as_the_real_trade_and_moves_nothing():
    inputs = make_inputs("compound-v2", RESERVES, ACCOUNTS, PATH, (1_000.0, 2_000_000.0))
    moving, still = inputs.pools.fresh(inputs.exogenous[0], True), execution_only(inputs).pools.fresh(
        inputs.exogenous[0], True)
    assert isinstance(still, StillRouter)
    weth = inputs.book.price_assets.index("WETH")
    first = still.sell(weth, 10.0)
    assert first == pytest.approx(moving.sell(weth, 10.0))             # the same fill, impact included
    assert first < 10.0 * 2000.0 * 0.997                                # below mid less fee: slippage paid
    pool = moving.by_asset[weth][0]
    assert still.venue_price[pool] == 2000.0 and moving.venue_price[pool] < 2000.0
    assert still.sell(weth, 10.0) == first and moving.sell(weth, 10.0) < first    # nothing moved
    assert still.sold[weth] == 20.0


def _liq(rows):
    import pyarrow as pa
    from types import SimpleNamespace as NS
    return NS(liquidations=pa.table({"step": [r[0] for r in rows], "protocol": ["aave-v3"] * len(rows),
                                     "account": [r[1] for r in rows]}, schema=pa.schema(
        [("step", pa.int32()), ("protocol", pa.string()), ("account", pa.string())])))


def test_cascade_depth_counts_consecutive_steps_of_induced_liquidations():
    # feedback run: a at step 1, b at 2, c at 3, d at 6; without feedback: a at 1, c at 5 (c at 3 came
    # early only because of feedback: induced), d at 6 -> induced rows b@2, c@3: steps 2 and 3 in a row
    feedback = _liq([(1, "a"), (2, "b"), (3, "c"), (6, "d")])
    without = _liq([(1, "a"), (5, "c"), (6, "d")])
    assert cascade_across_steps(feedback, without) == {"cascade_depth": 2, "induced_steps": 2,
                                                       "induced_liquidations": 2}
    # an induced liquidation at step 8 after a gap starts a new run; the longest stays 2
    feedback = _liq([(1, "a"), (2, "b"), (3, "c"), (6, "d"), (8, "e")])
    assert cascade_across_steps(feedback, without)["cascade_depth"] == 2
    assert cascade_across_steps(feedback, without)["induced_steps"] == 3
