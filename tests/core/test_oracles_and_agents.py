"""Oracle kinds per asset, and a population of liquidators that compete."""

import numpy as np
import pytest

from backtest.config import OracleConfig
from backtest.run import make_config, run
from tests.markets import oracle_models
from backtest.markets.oracle import Oracles
from backtest.scenarios import load_scenario

SCENARIO = load_scenario("stylised-eth-crash")
STEP = 600.0


def feed(kind: str, prices: np.ndarray, **cfg) -> np.ndarray:
    """Drive an Oracles of one asset step by step as the engine does; its answer at each step."""
    oracles = Oracles(["WETH"], OracleConfig(kind=kind, **cfg), prices[:1])
    out = []
    for k, p in enumerate(prices):
        out.append(oracles.update(k * STEP, np.array([p]))[0])
        oracles.observe(k * STEP, np.array([p]))
    return np.array(out)


PATH = 2000 * np.exp(np.cumsum(np.random.default_rng(5).normal(0, 0.01, 60)))
TIMES = np.arange(60) * STEP


def test_chainlink_feed_matches_the_series_model():
    model, _ = oracle_models.chainlink_updates(TIMES, PATH, 0.005, 3600)
    np.testing.assert_array_equal(feed("chainlink", PATH), model)


def test_osm_reports_the_price_of_the_hour_before():
    got = feed("osm", PATH)
    model = oracle_models.osm(TIMES, PATH, 3600)
    known = ~np.isnan(model)
    np.testing.assert_array_equal(got[known], model[known])
    assert known[12:].all() and (got[:6] == PATH[0]).all()     # the first hour keeps the first price


def test_twap_averages_the_window_before_now():
    got = feed("twap", PATH, window_seconds=1800)
    model = oracle_models.twap(TIMES, PATH, 1800)
    np.testing.assert_allclose(got[3:], model[3:], rtol=1e-12)


def replay(lake, *overrides, **kw):
    return run(make_config(SCENARIO, lake, overrides), SCENARIO, **kw)


def first_liquidation_step(result) -> int:
    return min(result.outcome.liquidations["step"].to_pylist())


def test_a_delayed_oracle_delays_the_liquidations(small_lake):
    chainlink = replay(small_lake)
    osm = replay(small_lake, "oracle.kind=osm")
    assert first_liquidation_step(osm) > first_liquidation_step(chainlink)


def test_a_per_asset_oracle_only_changes_that_asset(small_lake):
    result = replay(small_lake, "oracle.CRV.kind=twap")
    steps = result.outcome.steps.to_pandas()
    crv, weth = steps[steps.asset == "CRV"], steps[steps.asset == "WETH"]
    assert (crv.price_oracle.to_numpy() != crv.price_market.to_numpy()).sum() > 100   # a 30-minute mean lags
    base = replay(small_lake).outcome.steps.to_pandas()
    assert len(weth) == len(base[base.asset == "WETH"])


def test_the_cheaper_liquidator_wins_and_none_duplicates(small_lake):
    config = make_config(SCENARIO, small_lake, ["liquidator.gas_units=900000", "liquidator.name=heavy"])
    config = __import__("dataclasses").replace(config, competitors=(
        __import__("backtest.config", fromlist=["LiquidatorConfig"]).LiquidatorConfig(name="lean", gas_units=200_000),))
    result = run(config, SCENARIO)
    liq = result.outcome.liquidations.to_pandas()
    assert set(liq.liquidator) == {"lean"}
    alone = replay(small_lake, "liquidator.gas_units=200000", "competitors=none")
    assert len(liq) == alone.metrics["liquidations"]


def test_latency_holds_a_liquidator_back(small_lake):
    quick = replay(small_lake, "competitors=none")
    slow = replay(small_lake, "liquidator.latency_blocks=150", "competitors=none")   # 30 minutes of 12 s blocks
    liq = slow.outcome.liquidations.to_pandas()
    assert first_liquidation_step(slow) >= first_liquidation_step(quick) + 3
    assert slow.metrics["bad_debt_usd"] >= quick.metrics["bad_debt_usd"] * 0.99 and len(liq) > 0


def test_a_flash_loan_fee_on_borrowed_capital_is_paid_out_of_profit(small_lake):
    base = replay(small_lake, "competitors=none")
    costly = replay(small_lake, "liquidator.capital_usd=1", "liquidator.flash_loan_fee=0.2", "competitors=none")
    assert costly.metrics["liquidations"] < base.metrics["liquidations"]
