"""A profit-seeking liquidator, as on mainnet: for an account below HF 1 it prices every
(collateral, debt) pair and a few sizes against the pools as they are now, and acts on the
best one only if the profit after bonus, protocol fee, swap costs and gas clears its threshold.

Buying the debt asset and selling the seized collateral go through the same pools every
other liquidator uses, so each liquidation moves the prices the next one sees.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from backtest.markets.router import Router as Venues
from backtest.engine.rules import Params, Rules, health_factor_one


@dataclass(frozen=True)
class Plan:
    debt_asset: int        # reserve indices
    collateral_asset: int
    repay: float           # debt units repaid
    taken: float           # collateral units leaving the account (liquidator's share + protocol fee)
    fee: float             # collateral units to the treasury
    cost_usd: float        # buying the debt asset
    proceeds_usd: float    # selling the liquidator's collateral
    gas_usd: float

    @property
    def profit_usd(self) -> float:
        return self.proceeds_usd - self.cost_usd - self.gas_usd


def profit_upper_bound(coll: np.ndarray, debt: np.ndarray, repay_cap: np.ndarray, oracle: np.ndarray,
                       sell_price: np.ndarray, buy_price: np.ndarray, lt: np.ndarray, bonus: np.ndarray,
                       gas_usd: float) -> np.ndarray:
    """Best profit per account if collateral sold at `sell_price` (the best venue's mid) and the
    debt asset were bought at `buy_price` (the cheapest mid), with no fee, impact or protocol
    fee, repaying up to `repay_cap` (debt units the rules allow at most).

    Real fills are never better (a venue pays less than its mid price and charges more), so
    an account whose bound is below the liquidator's threshold needs no closer look.
    [K, R] rows in, [K] out.
    """
    if len(coll) == 0:
        return np.zeros(0)
    ratio = oracle[None, :, None] / oracle[None, None, :]               # debt d -> collateral c units
    wanted = repay_cap[:, :, None] * ratio * (1.0 + bonus)[None, None, :]   # [K, D, C]
    balance = np.where(lt > 0, coll, 0.0)[:, None, :]
    taken = np.minimum(wanted, balance)
    repaid = np.where(wanted > balance, taken / ratio / (1.0 + bonus)[None, None, :], repay_cap[:, :, None])
    profit = taken * sell_price[None, None, :] - repaid * buy_price[None, :, None]
    return profit.reshape(len(coll), -1).max(axis=1) - gas_usd


def best_plan(coll: np.ndarray, debt: np.ndarray, hf: float, price: np.ndarray, venues: Venues,
              reserve_asset: np.ndarray, lt: np.ndarray, params: Params, rules: Rules, gas_usd: float,
              sizes: tuple[float, ...]) -> Plan | None:
    """The most profitable liquidation of one account (its reserve rows), or None if it has none.

    `price` is the oracle price of each reserve; trades are priced at the venues of the
    reserves' assets as they are now.
    """
    best = None
    for d in np.flatnonzero(debt > 0).tolist():
        for c in np.flatnonzero((coll > 0) & (lt > 0)).tolist():
            for size in sizes:
                repay, taken, fee = rules.terms(hf, d, c, coll, debt, price, params, size)
                if repay <= 0:
                    continue
                cost = venues.buy_quote(reserve_asset[d], repay)
                proceeds = venues.sell_quote(reserve_asset[c], taken - fee)
                if best is None or proceeds - cost > best[0]:
                    best = (proceeds - cost, d, c, repay, taken, fee, cost, proceeds)
    if best is None:
        return None
    return Plan(best[1], best[2], *best[3:], gas_usd)


def choose_agent(plan: Plan, agents, gas_usd_per_unit: float, waited_blocks: float, repay_usd: float):
    """The liquidator that takes this plan: among those whose latency has passed, the one left
    with the most profit after its own gas and flash-loan fee, if that clears its threshold.
    Others do not duplicate the liquidation. Returns (agent, its gas USD, its profit) or None."""
    best = None
    gross = plan.proceeds_usd - plan.cost_usd
    for agent in agents:
        if waited_blocks < agent.latency_blocks:
            continue
        gas = gas_usd_per_unit * agent.gas_units
        borrowed = max(repay_usd - agent.capital_usd, 0.0) if agent.capital_usd > 0 else 0.0
        profit = gross - gas - borrowed * agent.flash_loan_fee
        if profit >= agent.min_profit_usd and (best is None or profit > best[2]):
            best = (agent, gas, profit)
    return best


def execute(plan: Plan, i: int, coll: np.ndarray, debt: np.ndarray, venues: Venues,
            reserve_asset: np.ndarray) -> tuple[float, float]:
    """Apply a plan to the book and the pools; returns the (cost, proceeds) actually realised."""
    cost = venues.buy(reserve_asset[plan.debt_asset], plan.repay)
    proceeds = venues.sell(reserve_asset[plan.collateral_asset], plan.taken - plan.fee)
    d, c = plan.debt_asset, plan.collateral_asset
    debt[i, d] = 0.0 if plan.repay >= debt[i, d] else debt[i, d] - plan.repay
    coll[i, c] = 0.0 if plan.taken >= coll[i, c] else coll[i, c] - plan.taken
    return cost, proceeds


@dataclass(frozen=True)
class Done:
    plan: Plan
    liquidator: str
    cost_usd: float
    proceeds_usd: float
    health_factor_after: float
    deficit_usd: float     # debt burned (Aave v3.3+) when no collateral is left


def liquidate(i: int, hf: float, waited_blocks: float, coll: np.ndarray, debt: np.ndarray, price: np.ndarray,
              venues: Venues, reserve_asset: np.ndarray, lt: np.ndarray, params: Params, rules: Rules,
              floors: bool, agents, gas_usd_per_unit: float) -> Done | None:
    """One account below HF 1, start to end: the best plan, the liquidator that takes it (if any
    does), the trades, and Aave v3.3's burning of a deficit. Both replay loops call this."""
    plan = best_plan(coll[i], debt[i], hf, price, venues, reserve_asset, lt, params, rules, 0.0, agents[0].sizes)
    chosen = plan and choose_agent(plan, agents, gas_usd_per_unit, waited_blocks, plan.repay * price[plan.debt_asset])
    if not chosen:
        return None
    agent, gas_usd, _ = chosen
    plan = replace(plan, gas_usd=gas_usd)
    cost, proceeds = execute(plan, i, coll, debt, venues, reserve_asset)
    deficit = 0.0
    if rules.burns_deficit and not coll[i].any() and debt[i].any():
        deficit = float(debt[i] @ price)              # Aave v3.3: burned, DeficitCreated
        debt[i] = 0.0
    hf_after = health_factor_one(coll[i] * price, debt[i] * price, lt, floors)
    return Done(plan, agent.name, cost, proceeds, hf_after, deficit)
