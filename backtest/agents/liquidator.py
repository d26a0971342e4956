"""A profit-seeking liquidator, as on mainnet: for an account below HF 1 it prices every
(collateral, debt) pair and a few sizes against the pools as they are now, and acts on the
best one only if the profit after bonus, protocol fee, swap costs and gas clears its threshold.

Buying the debt asset and selling the seized collateral go through the same pools every
other liquidator uses, so each liquidation moves the prices the next one sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.markets.venues import Venues
from backtest.protocols import aave_v3


@dataclass(frozen=True)
class Plan:
    debt_asset: int
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


def profit_upper_bound(coll: np.ndarray, debt: np.ndarray, hf: np.ndarray, oracle: np.ndarray, market: np.ndarray,
                       lt: np.ndarray, bonus: np.ndarray, protocol_fee: np.ndarray, close_factor: np.ndarray,
                       gas_usd: float) -> np.ndarray:
    """Best profit per account if trades filled at market prices with no fee or impact.

    Real fills are never better (a pool pays less than its mid price and charges more), so
    an account whose bound is below the liquidator's threshold needs no closer look.
    [K, A] rows in, [K] out.
    """
    cf = np.where(hf[:, None] > aave_v3.CLOSE_FACTOR_HF_THRESHOLD / aave_v3.WAD, close_factor[None, :], 1.0)
    repay = cf * debt                                                   # [K, D]
    ratio = oracle[None, :, None] / oracle[None, None, :]               # debt d -> collateral c units
    wanted = repay[:, :, None] * ratio * (1.0 + bonus)[None, None, :]   # [K, D, C]
    balance = np.where(lt > 0, coll, 0.0)[:, None, :]
    taken = np.minimum(wanted, balance)
    repaid = np.where(wanted > balance, taken / ratio / (1.0 + bonus)[None, None, :], repay[:, :, None])
    fee = (taken - taken / (1.0 + bonus)[None, None, :]) * protocol_fee[None, None, :]
    profit = (taken - fee) * market[None, None, :] - repaid * market[None, :, None]
    if len(coll) == 0:
        return np.zeros(0)
    return profit.reshape(len(coll), -1).max(axis=1) - gas_usd


def best_plan(coll: np.ndarray, debt: np.ndarray, hf: float, oracle: np.ndarray, venues: Venues,
              lt: np.ndarray, bonus: np.ndarray, protocol_fee: np.ndarray, close_factor: np.ndarray,
              gas_usd: float, sizes: tuple[float, ...]) -> Plan | None:
    """The most profitable liquidation of one account (rows of the book), or None if it has none."""
    best = None
    for d in np.flatnonzero(debt > 0).tolist():
        cap = (close_factor[d] if hf > aave_v3.CLOSE_FACTOR_HF_THRESHOLD / aave_v3.WAD else 1.0) * debt[d]
        for c in np.flatnonzero((coll > 0) & (lt > 0)).tolist():
            for size in sizes:
                repay, taken, fee = seize_scalar(cap * size, oracle[d], oracle[c], coll[c], bonus[c], protocol_fee[c])
                if repay <= 0:
                    continue
                cost, proceeds = venues.buy_quote(d, repay), venues.sell_quote(c, taken - fee)
                if best is None or proceeds - cost > best[0]:
                    best = (proceeds - cost, d, c, repay, taken, fee, cost, proceeds)
    if best is None:
        return None
    return Plan(best[1], best[2], *best[3:], gas_usd)


def seize_scalar(debt_to_cover: float, debt_price: float, coll_price: float, balance: float, bonus: float,
                 protocol_fee: float) -> tuple[float, float, float]:
    """aave_v3.seize for one pair, in plain floats: the hot path of every replay."""
    wanted = debt_price * debt_to_cover / coll_price * (1.0 + bonus)
    if wanted > balance:
        taken, repay = balance, coll_price * balance / debt_price / (1.0 + bonus)
    else:
        taken, repay = wanted, debt_to_cover
    return repay, taken, (taken - taken / (1.0 + bonus)) * protocol_fee


def execute(plan: Plan, i: int, coll: np.ndarray, debt: np.ndarray, venues: Venues) -> tuple[float, float]:
    """Apply a plan to the book and the pools; returns the (cost, proceeds) actually realised."""
    cost = venues.buy(plan.debt_asset, plan.repay)
    proceeds = venues.sell(plan.collateral_asset, plan.taken - plan.fee)
    d, c = plan.debt_asset, plan.collateral_asset
    debt[i, d] = 0.0 if plan.repay >= debt[i, d] else debt[i, d] - plan.repay
    coll[i, c] = 0.0 if plan.taken >= coll[i, c] else coll[i, c] - plan.taken
    return cost, proceeds
