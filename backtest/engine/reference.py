"""The reference replay: the engine's loop (backtest/engine/replay.py) computing every account's
health factor in every round, with no watchlist. Slow and plainly correct: the oracle the
engine is tested against (byte-identical liquidations, tests/perf) and timed against
(`backtest bench`). Keep the two loops in step.
"""

from __future__ import annotations

import numpy as np

from backtest.agents.liquidator import liquidate, profit_upper_bound
from backtest.config import RunConfig
from backtest.engine.book import ReplayInputs
from backtest.engine.mechanisms import Mechanisms
from backtest.engine.record import Outcome, Recorder
from backtest.engine.rules import Params, health_factor, rules_for
from backtest.markets.oracle import Oracles
from backtest.engine.replay import initial_venues
from backtest.markets.router import Router
from backtest.progress import progress


def bounds(below, hf, coll, debt, price, venues: Router, asset_of, lt, params: Params, groups,
           gas_usd) -> np.ndarray:
    """profit_upper_bound per account, on its own protocol's reserves only (the rest are zero),
    selling at the best venue price and buying at the lowest."""
    low, high = venues.mid_range()
    buy, sell = low[asset_of], high[asset_of]
    out = np.empty(len(below))
    for rules, members, cols in groups:
        mask = np.isin(below, members, assume_unique=True)
        rows = below[mask]
        cap = rules.max_close(hf[rows], params.close_factor[cols]) * debt[np.ix_(rows, cols)]
        out[mask] = profit_upper_bound(coll[np.ix_(rows, cols)], debt[np.ix_(rows, cols)], cap, price[cols],
                                       sell[cols], buy[cols], lt[cols], params.bonus[cols], gas_usd)
    return out


def replay(inputs: ReplayInputs, config: RunConfig, feedback: bool | None = None, label: str | None = None) -> Outcome:
    """One run over the path; `label` shows a progress bar on a terminal."""
    book, exo, asset_of = inputs.book, inputs.exogenous, inputs.book.reserve_asset
    feedback = config.feedback if feedback is None else feedback
    coll, debt = book.collateral.copy(), book.debt.copy()
    rules = {p: rules_for(p) for p in sorted(set(book.protocol))}
    row_rules = [rules[p] for p in book.protocol]
    floors = np.array([r.floors_average_lt for r in row_rules], dtype=bool)
    lt, params = book.liquidation_threshold, Params(book.liquidation_bonus, book.protocol_fee, book.close_factor)
    groups = [(rules[p], np.flatnonzero(np.array(book.protocol == p)), np.flatnonzero(
        np.array(book.reserve_protocol) == p) if not config.protocol else np.arange(len(lt)))
        for p in rules if rules[p].kind == "repay"]
    schedule = list(book.schedule)
    venues = initial_venues(inputs, feedback)
    oracles = Oracles(book.price_assets, config.oracle, exo[0])
    dt = (inputs.times[1] - inputs.times[0]) / np.timedelta64(1, "s") if len(inputs.times) > 1 else 0.0
    agents = (config.liquidator, *config.competitors)
    gas_asset = book.price_assets.index(agents[0].gas_asset) if agents[0].gas_asset in book.price_assets else None
    cheapest_gas, lowest_bar = min(a.gas_units for a in agents), min(a.min_profit_usd for a in agents)
    since = np.full(len(book.accounts), np.nan)     # when each account last became liquidatable
    rec = Recorder(inputs)
    mech = Mechanisms(inputs, config, row_rules, coll, debt, venues, rec, agents)
    steps = range(len(inputs.times))
    for step in (progress(steps, label=label, unit="steps") if label else steps):
        now = step * dt
        while schedule and inputs.step_blocks[step] >= schedule[0][0]:
            new = schedule.pop(0)[1]          # governance changed parameters: in force from this step
            lt = new["liquidation_threshold"]
            params = Params(new["liquidation_bonus"], new["protocol_fee"], new["close_factor"])
        venues.arbitrage(exo[max(step - 1, 0)], exo[step], dt, config.arb_half_life_seconds)
        oracle = oracles.update(now, venues.price)
        gas_per_unit = inputs.gas_gwei[step] * 1e-9 * (venues.price[gas_asset] if gas_asset is not None else 0)
        first_round: dict[int, int] = {}
        for rnd in range(config.max_rounds):
            price = oracle[asset_of]
            hf = health_factor(coll * price, debt * price, lt, floors)
            since = np.where(hf < 1.0, np.where(np.isnan(since), now, since), np.nan)
            below = np.flatnonzero(hf < 1.0)
            below = below[np.lexsort((below, hf[below]))]          # worst first, then by account
            if len(below) == 0 and not mech.busy:
                break
            for i in below.tolist():
                first_round.setdefault(i, rnd)
            below, _, own, hf_own = mech.split(below, hf[below])
            rounds = np.array([first_round[i] for i in own.tolist()], dtype=np.int64)
            acted = len(mech.liquidate(step, now, own, hf_own, rounds, (now - since[own]) / 12.0, price, lt, params,
                                       gas_per_unit))
            bound = bounds(below, hf, coll, debt, price, venues, asset_of, lt, params, groups,
                           gas_per_unit * cheapest_gas)
            for i in below[bound >= lowest_bar].tolist():
                done = liquidate(i, hf[i], (now - since[i]) / 12.0, coll, debt, price, venues, asset_of, lt, params,
                                 row_rules[i], floors[i], agents, gas_per_unit)
                if done:
                    rec.liquidation(step, i, done.plan, price, first_round[i], done.cost_usd, done.proceeds_usd, hf[i],
                                    done.health_factor_after, done.deficit_usd, done.liquidator)
                    acted += 1
            acted += mech.trade(step, now, rnd, price, params, gas_per_unit)
            if not acted:
                break
            oracle = oracles.update(now, venues.price)
        oracles.observe(now, venues.price)
        rec.step(step, venues, oracle, coll, debt, mech.loss(oracle))
    return rec.outcome(coll, debt, oracle, mech.summary(oracle))
