"""Aave v3.3+ liquidation rules (aave-dao/aave-v3-origin), float64 for the engine and exact integers.

The float rules are written once, for one account in plain floats (`max_repay_one`,
`leaves_no_dust`, `allowed_repay_one`, and `terms`, what the engine runs through
backtest/protocols/rules.py); `max_repay`, `allowed_repay` and `liquidate` apply them over arrays.

What changed from v3.0, and why a replay cares:
* the whole reserve debt is liquidatable by default; the 50 % cap only applies when the user's
  collateral reserve and debt reserve are both worth >= $2,000 and HF > 0.95, and then it is
  50 % of the user's *total* debt (small positions are closed in one go, fewer dust accounts);
* a partial liquidation must leave >= $1,000 of both debt and collateral (MUST_NOT_LEAVE_DUST);
* when a liquidation takes the user's last collateral, every remaining debt is burned and
  booked as reserve deficit (DeficitCreated) instead of lingering as bad debt;
* e-mode categories are bitmaps of reserve ids (v3.2+), with no price source.

Source: src/contracts/protocol/libraries/logic/LiquidationLogic.sol (executeLiquidationCall,
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD, MIN_LEFTOVER_BASE, _burnBadDebt),
src/contracts/protocol/libraries/configuration/EModeConfiguration.sol (isReserveEnabledOnBitmap).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from backtest.protocols.aave import v3 as aave_v3
from backtest.protocols.aave.v3 import CLOSE_FACTOR_HF_THRESHOLD, DEFAULT_LIQUIDATION_CLOSE_FACTOR, HF_CLOSE, \
    bonus_seize, percent_mul

BASE_UNIT = 10**8                                  # USD base currency, 8 decimals on mainnet
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD = 2_000 * BASE_UNIT
MIN_LEFTOVER_BASE = MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD // 2
MIN_BASE_MAX_CLOSE_FACTOR_USD = 2_000.0
MIN_LEFTOVER_USD = 1_000.0


class MustNotLeaveDust(Exception):
    """The contract reverts with Errors.MUST_NOT_LEAVE_DUST."""


class Liquidation(NamedTuple):
    """The user loses collateral_to_liquidator + protocol_fee of the collateral asset."""
    debt_repaid: np.ndarray              # debt-asset units
    collateral_to_liquidator: np.ndarray  # collateral-asset units
    protocol_fee: np.ndarray             # collateral-asset units, to the treasury
    allowed: np.ndarray                  # False where the call reverts (dust rule)
    deficit_usd: np.ndarray              # debt burned because no collateral is left


# ----------------------------------------------------------------- float64, whole book at once

def health_factor(collateral_usd, debt_usd, liquidation_threshold) -> np.ndarray:
    """HF per account; `liquidation_threshold` is [assets] or [accounts, assets] (e-mode).

    The value-weighted average LT is floored to whole bps, as GenericLogic does (integer
    division of Σ value·LT by Σ value), the same as aave_v3.health_factor.
    """
    collateral_usd = np.asarray(collateral_usd, dtype=float)
    lt = np.broadcast_to(np.asarray(liquidation_threshold, dtype=float), collateral_usd.shape)
    total = collateral_usd.sum(axis=1)
    debt = np.asarray(debt_usd, dtype=float).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = np.where(total > 0, (collateral_usd * lt).sum(axis=1) / np.where(total > 0, total, 1.0), 0.0)
        adjusted = total * np.floor(avg * 10_000 + 1e-9) / 10_000   # +1e-9: k - 1 ulp stays k
        return np.where(debt > 0, adjusted / np.where(debt > 0, debt, 1.0), np.inf)


def liquidatable(hf) -> np.ndarray:
    return np.asarray(hf, dtype=float) < 1.0


def max_repay_one(reserve_debt, debt_price, reserve_collateral_usd, total_debt_usd, hf) -> float:
    """Largest debt (debt-asset units) one call may repay in this debt reserve: all of it, or half the
    user's total debt when both reserves are worth >= $2,000, HF > 0.95 and this debt is over half."""
    reserve_debt_usd = reserve_debt * debt_price
    if (reserve_collateral_usd >= MIN_BASE_MAX_CLOSE_FACTOR_USD and reserve_debt_usd >= MIN_BASE_MAX_CLOSE_FACTOR_USD
            and hf > HF_CLOSE and reserve_debt_usd > 0.5 * total_debt_usd):
        return 0.5 * total_debt_usd / debt_price
    return reserve_debt


def leaves_no_dust(repaid, taken, reserve_debt, collateral_balance, debt_price, collateral_price) -> bool:
    """MUST_NOT_LEAVE_DUST passes: the call closes the debt or takes the collateral, or leaves at least
    $1,000 of both (`taken` includes the protocol fee)."""
    partial = repaid < reserve_debt and taken < collateral_balance
    return not partial or ((reserve_debt - repaid) * debt_price >= MIN_LEFTOVER_USD
                           and (collateral_balance - taken) * collateral_price >= MIN_LEFTOVER_USD)


def allowed_repay_one(desired, reserve_debt, debt_price, collateral_balance, collateral_price, total_debt_usd,
                      hf, bonus, full=None) -> float:
    """What a liquidator who wants `desired` may actually ask for, under the dust rule: `desired` if it
    passes; else the full amount (max_repay, or `full` if given) if that passes; else the largest partial
    that leaves $1,000 of debt and of collateral; else 0. The protocol fee moves no extra collateral."""
    if full is None:
        full = max_repay_one(reserve_debt, debt_price, collateral_balance * collateral_price, total_debt_usd, hf)

    def passes(x):
        repaid, taken, _ = bonus_seize(min(x, full), debt_price, collateral_price, collateral_balance, bonus)
        return leaves_no_dust(repaid, taken, reserve_debt, collateral_balance, debt_price, collateral_price)

    if passes(desired):
        return desired
    if passes(full):
        return full
    return max(min(reserve_debt - MIN_LEFTOVER_USD / debt_price,
                   (collateral_balance * collateral_price - MIN_LEFTOVER_USD) / (debt_price * (1.0 + bonus)),
                   full) * (1.0 - 1e-12), 0.0)        # stay clear of the boundary


def terms(hf, d, c, coll, debt, price, p, size):
    """The engine's liquidation terms (backtest/protocols/rules.py): max_repay_one, then
    allowed_repay_one (the $1,000 dust rule), then v3's bonus_seize with the protocol fee."""
    pd, pc, bonus = price[d], price[c], p.bonus[c]
    total_debt_usd = float(debt @ price)
    cap = max_repay_one(debt[d], pd, coll[c] * pc, total_debt_usd, hf)
    x = allowed_repay_one(cap * size, debt[d], pd, coll[c], pc, total_debt_usd, hf, bonus, cap)
    return bonus_seize(x, pd, pc, coll[c], bonus, p.protocol_fee[c])


_max_repay = np.vectorize(max_repay_one, otypes=[float])
_leaves_no_dust = np.vectorize(leaves_no_dust, otypes=[bool])
_allowed_repay = np.vectorize(allowed_repay_one, otypes=[float])


def max_repay(reserve_debt, debt_price, reserve_collateral_usd, total_debt_usd, hf) -> np.ndarray:
    """max_repay_one over arrays (broadcast)."""
    return _max_repay(reserve_debt, debt_price, reserve_collateral_usd, total_debt_usd, hf)


def liquidate(debt_to_cover, reserve_debt, debt_price, collateral_balance, collateral_price,
              total_debt_usd, total_collateral_usd, hf, bonus, protocol_fee=0.0) -> Liquidation:
    """One liquidationCall per row. Rows that would revert on the dust rule move nothing."""
    reserve_debt = np.asarray(reserve_debt, dtype=float)
    collateral_balance = np.asarray(collateral_balance, dtype=float)
    cap = max_repay(reserve_debt, debt_price, collateral_balance * collateral_price, total_debt_usd, hf)
    actual = np.minimum(np.asarray(debt_to_cover, dtype=float), cap)
    repaid, taken, fee = aave_v3.seize(actual, debt_price, collateral_price, collateral_balance,
                                       bonus, protocol_fee)
    allowed = _leaves_no_dust(repaid, taken, reserve_debt, collateral_balance, debt_price, collateral_price)
    # hasNoCollateralLeft: the collateral taken was the user's whole collateral value.
    no_collateral_left = (taken >= collateral_balance) & (
        collateral_balance * collateral_price >= np.asarray(total_collateral_usd) * (1.0 - 1e-12))
    deficit = np.where(allowed & no_collateral_left,
                       np.maximum(np.asarray(total_debt_usd, dtype=float) - repaid * debt_price, 0.0), 0.0)
    zero = np.zeros_like(repaid)
    return Liquidation(np.where(allowed, repaid, zero), np.where(allowed, taken - fee, zero),
                       np.where(allowed, fee, zero), allowed, deficit)


def allowed_repay(desired, reserve_debt, debt_price, collateral_balance, collateral_price,
                  total_debt_usd, hf, bonus) -> np.ndarray:
    """allowed_repay_one over arrays (broadcast)."""
    return _allowed_repay(desired, reserve_debt, debt_price, collateral_balance, collateral_price,
                          total_debt_usd, hf, bonus)


def emode_params(reserve_id, user_category, ltv, liquidation_threshold, bonus,
                 category_ltv, category_lt, category_bonus, category_collateral_bitmap):
    """Effective (ltv, lt, bonus) per [account, asset] under v3.2+ e-mode.

    An asset takes the category's values only if its reserve id is set in the category's
    collateralBitmap (uint128 as a Python int, indexed by category id; index 0 unused).
    """
    reserve_id = np.asarray(reserve_id)
    user_category = np.asarray(user_category)
    enabled = np.array([[(int(bm) >> int(r)) & 1 for r in reserve_id] for bm in category_collateral_bitmap],
                       dtype=bool)
    in_cat = (user_category[:, None] != 0) & enabled[user_category]
    cat = np.where(in_cat, user_category[:, None], 0)
    pick = lambda base, table: np.where(in_cat, np.asarray(table, dtype=float)[cat],
                                        np.broadcast_to(np.asarray(base, dtype=float), in_cat.shape))
    return pick(ltv, category_ltv), pick(liquidation_threshold, category_lt), pick(bonus, category_bonus)


# ------------------------------------------------------------- exact integers, as the contracts

def max_repay_exact(user_reserve_debt: int, debt_price: int, debt_decimals: int,
                    reserve_collateral_base: int, total_debt_base: int, health_factor_wad: int) -> int:
    debt_unit = 10**debt_decimals
    reserve_debt_base = user_reserve_debt * debt_price // debt_unit
    if (reserve_collateral_base >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
            and reserve_debt_base >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
            and health_factor_wad > CLOSE_FACTOR_HF_THRESHOLD):
        half_total = percent_mul(total_debt_base, DEFAULT_LIQUIDATION_CLOSE_FACTOR)
        if reserve_debt_base > half_total:
            return half_total * debt_unit // debt_price
    return user_reserve_debt


def liquidation_exact(debt_to_cover: int, user_reserve_debt: int, collateral_balance: int,
                      total_collateral_base: int, total_debt_base: int, health_factor_wad: int,
                      collateral_price: int, debt_price: int, collateral_decimals: int,
                      debt_decimals: int, bonus_bps: int, protocol_fee_bps: int = 0):
    """(debt repaid, collateral to liquidator, protocol fee, deficit_base) or MustNotLeaveDust.

    `deficit_base` is the user's debt left after this call when no collateral is left (the
    contract burns every debt reserve then); 0 otherwise. Totals come from
    aave_v3.account_data_exact.
    """
    c_unit = 10**collateral_decimals
    reserve_collateral_base = collateral_balance * collateral_price // c_unit
    cap = max_repay_exact(user_reserve_debt, debt_price, debt_decimals, reserve_collateral_base,
                          total_debt_base, health_factor_wad)
    actual = min(debt_to_cover, cap)
    # v3.0's collateral maths, with the close factor already applied (HF 0 -> 100 %).
    repaid, to_liquidator, fee = aave_v3.liquidation_exact(
        actual, actual, 0, collateral_balance, collateral_price, debt_price,
        collateral_decimals, debt_decimals, bonus_bps, protocol_fee_bps)
    taken = to_liquidator + fee
    if repaid < user_reserve_debt and taken < collateral_balance:
        debt_left = (user_reserve_debt - repaid) * debt_price // 10**debt_decimals
        coll_left = (collateral_balance - taken) * collateral_price // c_unit
        if debt_left < MIN_LEFTOVER_BASE or coll_left < MIN_LEFTOVER_BASE:
            raise MustNotLeaveDust(f"leaves debt {debt_left} and collateral {coll_left} (base units)")
    deficit = 0
    if total_collateral_base == taken * collateral_price // c_unit:
        deficit = max(total_debt_base - repaid * debt_price // 10**debt_decimals, 0)
    return repaid, to_liquidator, fee, deficit
