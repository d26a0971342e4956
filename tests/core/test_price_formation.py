"""Price formation through the engine (issue 15): the reference market bounds what forced selling does
to oracles, drained pools set no price, each protocol reads its own oracle, rounds are blocks, and gas
is paid in the era's money. Hand-made books (tests/engine_mechanisms/conftest.py); both loops."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from backtest.config import RunConfig
from backtest.overrides import apply_overrides
from backtest.engine import reference, replay
from backtest.markets.impact_params import IMPACT
from tests.engine_mechanisms.conftest import make_inputs

LOOPS = [replay, reference]


def cfg(*overrides) -> RunConfig:
    return apply_overrides(RunConfig(scenario="hand-made", lake=""), ["liquidator.min_profit_usd=0", "competitors=none", *overrides])


def by_protocol(steps, asset: str) -> list[dict]:
    rows = steps.to_pandas().query("asset == @asset")
    return [dict(m) for m in rows["oracles"]]


@pytest.mark.parametrize("loop", LOOPS)
def test_a_whale_sold_through_a_thin_pool_moves_the_oracle_no_more_than_the_reference_impact(loop):
    # 200 accounts of 10 WETH against 17,000 USDC (HF 0.97) and a 100-WETH pool: block after block the
    # liquidators sell into the pool until the bonus is eaten; the reference market (calibrated WETH
    # depth) takes only what arbitrage passes on.
    accounts = {f"0x{k:03d}": {"WETH": (10.0, 0.0), "USDC": (0.0, 17_000.0)} for k in range(200)}
    path = {"WETH": [2_000.0] * 6, "USDC": [1.0] * 6}
    inputs = make_inputs("aave-v3", {"WETH": (0.825, 0.05), "USDC": (0.0, 0.0)}, accounts, path, (100.0, 200_000.0))
    out = loop.replay(inputs, cfg())
    steps = out.steps.to_pandas().query("asset == 'WETH'")
    sold = float(out.liquidations.to_pandas()["collateral_seized"].sum())
    assert sold > 4 * 100.0                               # four times what the pool holds
    p = IMPACT["WETH"]
    bound = 2_000.0 * math.exp(-p.y * p.daily_volatility * math.sqrt(sold * 2_000.0 / p.daily_volume_usd))
    assert steps["price_oracle"].min() >= bound * (1 - 1e-9)
    assert steps["price_market"].min() >= bound * (1 - 1e-9)
    assert steps["price_market"].min() < 2_000.0          # the flow did reach the reference


@pytest.mark.parametrize("loop", LOOPS)
def test_gas_is_paid_at_the_paths_own_eth_price(loop):
    # The book is at 2,000 USD/ETH, the path's era at 150 (a 2020 path replayed on a 2024 book).
    accounts = {"0xa": {"WETH": (10.0, 0.0), "USDC": (0.0, 17_000.0)}}
    path = {"WETH": [2_000.0] * 3, "USDC": [1.0] * 3}
    inputs = make_inputs("aave-v3", {"WETH": (0.825, 0.05), "USDC": (0.0, 0.0)}, accounts, path, (1_000.0, 2e6))
    era = inputs.exogenous.copy()
    era[:, inputs.book.price_assets.index("WETH")] = 150.0
    inputs = dataclasses.replace(inputs, gas_gwei=np.full(3, 100.0), era_prices=era)
    liq = loop.replay(inputs, cfg()).liquidations.to_pandas()
    assert len(liq) >= 1
    # 100 gwei x 500,000 gas x 150 USD = 7.5 USD (at the book's 2,000 it would be 100 USD)
    assert liq["gas_usd"].tolist() == pytest.approx([100e-9 * 500_000 * 150.0] * len(liq), rel=1e-12)


@pytest.mark.parametrize("loop", LOOPS)
def test_rounds_are_blocks_a_latency_of_three_blocks_acts_36_seconds_later(loop):
    accounts = {"0xa": {"WETH": (10.0, 0.0), "USDC": (0.0, 17_000.0)}}
    path = {"WETH": [2_000.0] * 3, "USDC": [1.0] * 3}
    inputs = make_inputs("aave-v3", {"WETH": (0.825, 0.05), "USDC": (0.0, 0.0)}, accounts, path, (1_000.0, 2e6))
    for latency, block in ((0, 12.0), (3, 12.0), (3, 6.0)):
        liq = loop.replay(inputs, cfg(f"liquidator.latency_blocks={latency}", f"block_seconds={block}")
                          ).liquidations.to_pandas()
        first = liq["timestamp"].iloc[0] - liq["timestamp"].iloc[0].normalize()
        assert first.total_seconds() == latency * block
        assert liq["step"].iloc[0] == 0


@pytest.mark.parametrize("loop", LOOPS)
def test_aave_v3_wsteth_reads_eth_times_the_rate_while_the_wsteth_market_crashes(loop):
    # 2024-01-01: Aave v3's wstETH feed is the exchange rate x ETH/USD; wstETH's own market halves.
    accounts = {"0xa": {"wstETH": (10.0, 0.0), "USDC": (0.0, 10_000.0)}}
    path = {"WETH": [2_000.0] * 4, "wstETH": [2_300.0, 1_800.0, 1_400.0, 1_150.0], "USDC": [1.0] * 4}
    inputs = make_inputs("aave-v3", {"wstETH": (0.8, 0.06), "USDC": (0.0, 0.0), "WETH": (0.825, 0.05)},
                         accounts, path, None)
    out = loop.replay(inputs, cfg())
    feeds = by_protocol(out.steps, "wstETH")
    reference_prices = out.steps.to_pandas().query("asset == 'wstETH'")["price_market"].tolist()
    assert reference_prices[-1] == pytest.approx(1_150.0)
    for m in feeds:                                       # the rate (1.15) x ETH's 2,000, growing slowly
        assert m["aave_v3"] == pytest.approx(2_300.0, rel=1e-3)
    assert len(out.liquidations) == 0                     # 10 x 2,300 x 0.8 = 18,400 > 10,000


@pytest.mark.parametrize("loop", LOOPS)
def test_compound_v2_reads_usdc_at_one_dollar_through_a_depeg(loop):
    accounts = {"0xa": {"USDC": (10_000.0, 0.0), "WETH": (0.0, 3.5)}}
    path = {"WETH": [2_000.0] * 4, "USDC": [1.0, 0.95, 0.88, 0.90]}
    inputs = make_inputs("compound-v2", {"USDC": (0.855, 0.08), "WETH": (0.825, 0.08)}, accounts, path,
                         (1_000.0, 2e6))
    out = loop.replay(inputs, cfg())
    assert [m["compound_v2"] for m in by_protocol(out.steps, "USDC")] == [1.0] * 4
    # at the market's 0.88: 10,000 x 0.88 x 0.855 = 7,524 > 7,000 debt anyway; at $1 surely no liquidation
    assert len(out.liquidations) == 0
