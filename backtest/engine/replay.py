"""The replay loop: advance time -> arbitrage -> oracle -> liquidation rounds -> record.

Within a step, round 0 liquidates what the exogenous move made liquidatable; their sales move
the pools, the oracle may follow, and what *that* pushes below HF 1 is round 1, and so on.
An account keeps the round in which it first became liquidatable during the step.
"""

from __future__ import annotations

import numpy as np

from backtest.agents.liquidator import best_plan, execute, profit_upper_bound
from backtest.config import RunConfig
from backtest.engine.book import ReplayInputs
from backtest.engine.record import Outcome, Recorder
from backtest.markets.oracle import chainlink_update
from backtest.markets.venues import Venues
from backtest.protocols import aave_v3


def initial_venues(inputs: ReplayInputs, feedback: bool) -> Venues:
    pools, n_assets = inputs.pools, len(inputs.book.assets)
    pool_of = np.full(n_assets, -1)
    pool_of[pools.asset] = np.arange(len(pools.asset))
    return Venues(price=inputs.exogenous[0].copy(), pool_of=pool_of, base=pools.base.copy(),
                  quote=pools.quote.copy(), quote_asset=pools.quote_asset.copy(), fee=pools.fee.copy(),
                  feedback=feedback)


def replay(inputs: ReplayInputs, config: RunConfig, feedback: bool | None = None) -> Outcome:
    book, exo = inputs.book, inputs.exogenous
    feedback = config.feedback if feedback is None else feedback
    coll, debt = book.collateral.copy(), book.debt.copy()
    venues = initial_venues(inputs, feedback)
    oracle, updated_at = exo[0].copy(), np.zeros(len(book.assets))
    dt = (inputs.times[1] - inputs.times[0]) / np.timedelta64(1, "s") if len(inputs.times) > 1 else 0.0
    gas_asset = book.assets.index(config.liquidator.gas_asset) if config.liquidator.gas_asset in book.assets else None
    lt, liq = book.liquidation_threshold, config.liquidator
    oracle_args = (config.oracle.deviation, config.oracle.heartbeat_seconds)
    rec = Recorder(inputs)
    for step in range(len(inputs.times)):
        now = step * dt
        venues.arbitrage(exo[max(step - 1, 0)], exo[step], dt, config.arb_half_life_seconds)
        oracle, updated_at, _ = chainlink_update(oracle, updated_at, venues.price, now, *oracle_args)
        gas_usd = inputs.gas_gwei[step] * 1e-9 * liq.gas_units * (venues.price[gas_asset] if gas_asset is not None else 0)
        first_round: dict[int, int] = {}
        for rnd in range(config.max_rounds):
            hf = aave_v3.health_factor(coll * oracle, debt * oracle, lt)
            below = np.flatnonzero(hf < 1.0)
            below = below[np.lexsort((below, hf[below]))]          # worst first, then by account
            for i in below.tolist():
                first_round.setdefault(i, rnd)
            bound = profit_upper_bound(coll[below], debt[below], hf[below], oracle, venues.price, lt,
                                       book.liquidation_bonus, book.protocol_fee, book.close_factor, gas_usd)
            acted = 0
            for i in below[bound >= liq.min_profit_usd].tolist():
                plan = best_plan(coll[i], debt[i], hf[i], oracle, venues, lt, book.liquidation_bonus,
                                 book.protocol_fee, book.close_factor, gas_usd, liq.sizes)
                if plan is None or plan.profit_usd < liq.min_profit_usd:
                    continue
                hf_before = hf[i]
                cost, proceeds = execute(plan, i, coll, debt, venues)
                hf_after = aave_v3.health_factor((coll[i] * oracle)[None], (debt[i] * oracle)[None], lt)[0]
                rec.liquidation(step, i, plan, oracle, first_round[i], cost, proceeds, hf_before, hf_after)
                acted += 1
            if not acted:
                break
            oracle, updated_at, _ = chainlink_update(oracle, updated_at, venues.price, now, *oracle_args)
        rec.step(step, venues, oracle, coll, debt)
    return rec.outcome(coll, debt, oracle)
