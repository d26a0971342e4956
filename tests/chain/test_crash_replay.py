"""A crash on chain vs the same crash in the engine (issue 3, part 4).

300 accounts borrow USDC against WETH and/or WBTC on the devnet's Aave v3. Both runs take the
same path (a stylised two-leg crash with a one-step 25 % gap) with the same market model:
the path passes through the pools each step, and each block (a round) arbitrage brings each pool
to within its fee of the price where it and the reference market meet once that flow has reached
the reference (the square-root impact of backtest/markets/reference.py; backtest/markets/arb_meet.py), the feeds read the reference, and a
liquidator acts when selling the seized collateral into the pool pays for the debt, in rounds
until nobody more is liquidatable. The chain run is real contracts and a bot; the engine
run is `backtest replay` on a lake exported from the chain's book.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from backtest.devnet.crash import DEBT, export_lake, run_on_chain, seed_book
from backtest.devnet.positions import approve_all
from backtest.run import make_config, run
from backtest.markets.reference import ReferenceMarket
from backtest.scenarios.library import load_scenario

ACCOUNTS = 300
SCENARIO = """
name = "devnet-crash"
title = "STYLISED: devnet crash for the chain-vs-engine test"
kind = "stylised"
description = "ETH -10 % in an hour, a 25 % gap in one step, then -15 % and a small bounce; BTC milder."
start = 2024-01-01T00:00:00Z
end = 2024-01-01T06:00:00Z
step_seconds = 600
anchor = "book"

[gas]
gwei = 0

[assets.WETH]
source = "stylised"
legs = [[1.0, -0.10], [0.1666667, -0.25], [2.0, -0.15], [1.0, 0.05]]

[assets.WBTC]
source = "stylised"
legs = [[1.0, -0.06], [0.1666667, -0.18], [2.0, -0.10], [1.0, 0.04]]
"""
# the engine's market model set to what the chain run does (see backtest/devnet/crash.py)
OVERRIDES = ["oracle.deviation=0", "arb_half_life_seconds=0", "liquidator.min_profit_usd=0",
             "liquidator.gas_units=0", "liquidator.sizes=1.0", "liquidator.capital_usd=0",
             "competitors=none"]


def test_crash_on_chain_and_in_the_engine_agree(net, tmp_path, record):
    chain = net.chain
    rng = np.random.default_rng(4)
    # HF from 1.09: below it the LTV cap binds and many accounts would share one HF (ties)
    accounts = seed_book(net, rng, ACCOUNTS, seed=4, hf_range=(1.09, 1.6))
    lake = tmp_path / "lake"
    export_lake(net, accounts, lake, datetime(2024, 1, 1, tzinfo=timezone.utc))
    scenario_path = tmp_path / "devnet-crash.toml"
    scenario_path.write_text(SCENARIO)
    scenario = load_scenario(scenario_path)
    config = make_config(scenario, lake, OVERRIDES)
    engine = run(config, scenario)

    bot, lp = chain.accounts[8], chain.accounts[1]
    net.mint(DEBT, bot, 10**18)
    chain.send_many([(net.tokens[s].functions.mint(lp, 10**36), None) for s in ("WETH", "WBTC", DEBT)])
    approve_all(net, net.aave_v3, bot)
    assets = engine.inputs.book.price_assets
    path = {s: engine.inputs.exogenous[:, assets.index(s)] for s in ("WETH", "WBTC")}
    reference = ReferenceMarket.for_assets(assets, engine.inputs.exogenous[0], config.impact)
    onchain = run_on_chain(net, accounts, path, bot=bot, lp=lp, reference=reference, assets=assets,
                           step_seconds=scenario.step_seconds, block_seconds=config.block_seconds)

    liq = engine.outcome.liquidations.to_pydict()
    n_engine, n_chain = len(liq["account"]), len(onchain.liquidations)
    dec = {s: net.assets[s].decimals for s in net.assets}
    seized_chain = {s: sum(x.collateral_seized for x in onchain.liquidations if x.collateral_asset == s) / 10**dec[s]
                    for s in ("WETH", "WBTC")}
    seized_engine = {s: sum(v for v, c in zip(liq["collateral_seized"], liq["collateral_asset"]) if c == s)
                     for s in ("WETH", "WBTC")}
    bad_chain, bad_engine = onchain.bad_debt_usd(net), engine.metrics["bad_debt_usd"]
    chain_seq = [(x.step, x.round, x.account, x.collateral_asset) for x in onchain.liquidations]
    engine_seq = [(int(a), int(b), str(c), str(d)) for a, b, c, d in
                  zip(liq["step"], liq["round"], liq["account"], liq["collateral_asset"])]
    same_sequence = chain_seq == engine_seq
    if not same_sequence:
        first = next(i for i, (x, y) in enumerate(zip(chain_seq, engine_seq)) if x != y)
        print("first difference", first, chain_seq[first - 2:first + 3], engine_seq[first - 2:first + 3])
    rel = {s: abs(seized_chain[s] - seized_engine[s]) / seized_engine[s] for s in seized_engine}
    record("crash_chain_vs_engine", accounts=ACCOUNTS, steps=len(path["WETH"]), liquidations_chain=n_chain,
           liquidations_engine=n_engine, same_sequence=same_sequence,
           rounds_max=max(x.round for x in onchain.liquidations),
           seized_chain=seized_chain, seized_engine=seized_engine, max_rel_diff_seized=max(rel.values()),
           bad_debt_usd_chain=bad_chain, bad_debt_usd_engine=bad_engine,
           rel_diff_bad_debt=abs(bad_chain - bad_engine) / max(bad_engine, 1e-12))
    assert n_chain == n_engine and same_sequence
    assert n_chain > ACCOUNTS // 3 and max(x.round for x in onchain.liquidations) >= 1, \
        "the path should liquidate many accounts, some only because earlier sales moved the pool"
    # float64 against integers: each liquidation truncates the seized amount to a whole base unit
    # (1e-8 WBTC), so the sums may differ by up to one unit per liquidation, plus float rounding.
    count = {s: sum(1 for x in onchain.liquidations if x.collateral_asset == s) for s in seized_engine}
    assert all(rel[s] <= 1e-9 + count[s] * 10.0 ** -dec[s] / seized_engine[s] for s in seized_engine), rel
    assert bad_engine > 0 and abs(bad_chain - bad_engine) <= 1e-6 * bad_engine
