"""The replay loop of backtest.engine.replay, with the full-book HF replaced by a watchlist.

Same steps, same rounds, same liquidator, same order of liquidations, so the liquidations
table is byte-identical to `replay.replay` on the same inputs (tests/perf). Per step the work
is O(candidates + assets) instead of O(accounts x reserves): only rows the watchlist cannot
rule out get an exact HF, and the step's bad debt is summed over the same candidates (a row
whose debt is worth more than its collateral always is one, since LT <= 1).
"""

from __future__ import annotations

import numpy as np

from backtest.agents.liquidator import best_plan, execute, profit_upper_bound
from backtest.config import RunConfig
from backtest.engine.book import ReplayInputs
from backtest.engine.record import Outcome, Recorder
from backtest.engine.replay import initial_venues
from backtest.engine.rules import Params, health_factor, rules_for
from backtest.engine.watchlist import Watchlist
from backtest.markets.oracle import chainlink_update


# The most each protocol lets a liquidator repay, as a share of one debt reserve while HF > 0.95
# (below it profit_upper_bound allows 100 %). backtest/engine/rules.py: aave_v3_terms repays
# close_factor (aave/aave-v3-core LiquidationLogic), aave_v2_terms a fixed 50 %
# (aave/protocol-v2 LendingPoolCollateralManager), compound_v2_terms closeFactor
# (compound-finance/compound-protocol Comptroller). Aave v3.3 can close 100 % of a small
# position at any HF, so it (and any rule not listed) keeps the 100 % bound of replay.py.
_CAP_BY_RULE = {"aave-v3": "close_factor", "compound-v2": "close_factor", "aave-v2": 0.5}


def repay_cap(rule_name: str, params, n_reserves: int) -> np.ndarray:
    """The close factor to bound a rule's profit with (per debt reserve).

    replay.py bounds every protocol with a 100 % close factor; with the real cap the bound is
    still an upper bound on best_plan's profit (same prices, no fees, no impact, size <= 1) but
    far tighter, so accounts under water whose liquidation cannot pay for its gas are no
    longer priced with best_plan step after step. Same liquidations, fewer calls.
    """
    cap = _CAP_BY_RULE.get(rule_name)
    if cap == "close_factor":
        return params.close_factor
    return np.full(n_reserves, 1.0 if cap is None else cap)


def replay(inputs: ReplayInputs, config: RunConfig, feedback: bool | None = None) -> Outcome:
    book, exo, asset_of = inputs.book, inputs.exogenous, inputs.book.reserve_asset
    feedback = config.feedback if feedback is None else feedback
    coll, debt = book.collateral.copy(), book.debt.copy()
    rules = {p: rules_for(p) for p in sorted(set(book.protocol))}
    row_rules = [rules[p] for p in book.protocol]
    floors = np.array([r.floors_average_lt for r in row_rules], dtype=bool)
    row_names = np.array([r.name for r in row_rules], dtype=object)
    lt, params = book.liquidation_threshold, Params(book.liquidation_bonus, book.protocol_fee, book.close_factor)
    schedule = list(book.schedule)
    venues = initial_venues(inputs, feedback)
    oracle, updated_at = exo[0].copy(), np.zeros(len(book.price_assets))
    dt = (inputs.times[1] - inputs.times[0]) / np.timedelta64(1, "s") if len(inputs.times) > 1 else 0.0
    liq = config.liquidator
    gas_asset = book.price_assets.index(liq.gas_asset) if liq.gas_asset in book.price_assets else None
    oracle_args = (config.oracle.deviation, config.oracle.heartbeat_seconds)
    no_fee = np.zeros(len(lt))
    watch = Watchlist(coll, debt, lt, oracle[asset_of])
    rec = Recorder(inputs)
    for step in range(len(inputs.times)):
        now = step * dt
        while schedule and inputs.step_blocks[step] >= schedule[0][0]:
            new = schedule.pop(0)[1]          # governance changed parameters: in force from this step
            lt = new["liquidation_threshold"]
            params = Params(new["liquidation_bonus"], new["protocol_fee"], new["close_factor"])
            watch = Watchlist(coll, debt, lt, oracle[asset_of])
        venues.arbitrage(exo[max(step - 1, 0)], exo[step], dt, config.arb_half_life_seconds)
        oracle, updated_at, _ = chainlink_update(oracle, updated_at, venues.price, now, *oracle_args)
        gas_usd = inputs.gas_gwei[step] * 1e-9 * liq.gas_units * (venues.price[gas_asset] if gas_asset is not None else 0)
        first_round: dict[int, int] = {}
        for rnd in range(config.max_rounds):
            price = oracle[asset_of]
            rows = watch.candidates(price)
            if len(rows) == 0:
                break
            hf_rows = health_factor(coll[rows] * price, debt[rows] * price, lt, floors[rows])
            under = hf_rows < 1.0
            below, hf_below = rows[under], hf_rows[under]
            if len(below) == 0:
                break
            order = np.lexsort((below, hf_below))               # worst first, then by account
            below, hf_below = below[order], hf_below[order]
            hf = dict(zip(below.tolist(), hf_below))
            for i in below.tolist():
                first_round.setdefault(i, rnd)
            market = venues.price[asset_of]
            if len(rules) == 1:
                bound = profit_upper_bound(coll[below], debt[below], hf_below, price, market, lt, params.bonus,
                                           no_fee, repay_cap(row_rules[0].name, params, len(lt)), gas_usd)
            else:
                bound = np.empty(len(below))
                for name in rules:
                    sel = row_names[below] == name
                    bound[sel] = profit_upper_bound(coll[below[sel]], debt[below[sel]], hf_below[sel], price,
                                                    market, lt, params.bonus, no_fee,
                                                    repay_cap(name, params, len(lt)), gas_usd)
            acted = 0
            for i in below[bound >= liq.min_profit_usd].tolist():
                plan = best_plan(coll[i], debt[i], hf[i], price, venues, asset_of, lt, params, row_rules[i],
                                 gas_usd, liq.sizes)
                if plan is None or plan.profit_usd < liq.min_profit_usd:
                    continue
                cost, proceeds = execute(plan, i, coll, debt, venues, asset_of)
                deficit = 0.0
                if row_rules[i].burns_deficit and not coll[i].any() and debt[i].any():
                    deficit = float(debt[i] @ price)              # Aave v3.3: burned, DeficitCreated
                    debt[i] = 0.0
                watch.update(i)
                hf_after = health_factor((coll[i] * price)[None], (debt[i] * price)[None], lt, floors[i:i + 1])[0]
                rec.liquidation(step, i, plan, price, first_round[i], cost, proceeds, hf[i], hf_after, deficit)
                acted += 1
            if not acted:
                break
            oracle, updated_at, _ = chainlink_update(oracle, updated_at, venues.price, now, *oracle_args)
        rows = watch.candidates(oracle[asset_of])
        rec.step(step, venues, oracle, coll[rows], debt[rows])   # bad debt: only candidates can have any
    return rec.outcome(coll, debt, oracle)
