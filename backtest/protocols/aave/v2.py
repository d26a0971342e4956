"""Aave v2 liquidation rules (aave/protocol-v2), float64 for the engine and exact integers, one copy each.

v2 differs from v3.0 in three ways that matter to a replay: the close factor is a flat 50 %
whatever the health factor, there is no protocol fee on the bonus, and the bonus is applied
before the division by the collateral price (so the integer rounding differs from v3; the floats
share v3's `bonus_seize`, within an ulp of either order, which the differential tests allow).
The float functions are what the engine runs (`terms`, `max_close` through
backtest/protocols/rules.py) and what tests/chain/test_aave_v2_differential.py checks.

Sources: contracts/protocol/lendingpool/LendingPoolCollateralManager.sol (liquidationCall,
_calculateAvailableCollateralToLiquidate), contracts/protocol/libraries/logic/GenericLogic.sol
(calculateUserAccountData, HEALTH_FACTOR_LIQUIDATION_THRESHOLD = 1e18),
contracts/protocol/libraries/math/PercentageMath.sol.
"""

from __future__ import annotations

import numpy as np

from backtest.protocols.aave.v3 import (account_data_exact, bonus_seize, health_factor, percent_div,
                                        percent_mul)
from backtest.protocols.aave.v3 import seize as _seize_v3

LIQUIDATION_CLOSE_FACTOR_PERCENT = 5_000          # LendingPoolCollateralManager.sol
CLOSE_FACTOR = 0.5

__all__ = ["health_factor", "account_data_exact", "liquidatable", "max_repay", "max_close", "seize",
           "liquidate", "terms", "liquidation_exact"]


# ----------------------------------------------------------------- float64, whole book at once

def liquidatable(hf) -> np.ndarray:
    """HF below 1 (GenericLogic.HEALTH_FACTOR_LIQUIDATION_THRESHOLD); no oracle sentinel in v2."""
    return np.asarray(hf, dtype=float) < 1.0


def max_repay(reserve_debt):
    """Half of the user's stable + variable debt in the debt reserve, at any HF below 1 (a float for a
    float, an array for an array)."""
    return CLOSE_FACTOR * reserve_debt


def max_close(hf: np.ndarray, cf: np.ndarray) -> np.ndarray:
    """[K, R]: 50 % of every debt reserve whatever the HF and the reserve's own close factor."""
    return np.full((len(hf), len(cf)), CLOSE_FACTOR)


def seize(debt_to_cover, debt_price, collateral_price, collateral_balance, bonus):
    """(debt_repaid, collateral_to_liquidator): v3's `bonus_seize` over arrays with no protocol fee.

    When the bonus-inflated collateral exceeds the balance, the whole balance goes and the
    repaid debt shrinks to what that balance buys at the bonus price.
    """
    repaid, taken, _ = _seize_v3(debt_to_cover, debt_price, collateral_price, collateral_balance, bonus, 0.0)
    return repaid, taken


def liquidate(debt_to_cover, reserve_debt, debt_price, collateral_price, collateral_balance, bonus):
    """The whole call: cap at the close factor, then seize. Returns (debt_repaid, collateral)."""
    actual = np.minimum(np.asarray(debt_to_cover, dtype=float), max_repay(np.asarray(reserve_debt, dtype=float)))
    return seize(actual, debt_price, collateral_price, collateral_balance, bonus)


def terms(hf, d, c, coll, debt, price, p, size):
    """The engine's liquidation terms (backtest/protocols/rules.py): LendingPoolCollateralManager's fixed
    50 % close factor at any HF, no protocol fee."""
    return bonus_seize(max_repay(debt[d]) * size, price[d], price[c], coll[c], p.bonus[c], 0.0)


# ------------------------------------------------------------- exact integers, as the contracts

def liquidation_exact(debt_to_cover: int, user_reserve_debt: int, collateral_balance: int,
                      collateral_price: int, debt_price: int, collateral_decimals: int,
                      debt_decimals: int, bonus_bps: int) -> tuple[int, int]:
    """(debt repaid, collateral to the liquidator) as LendingPoolCollateralManager.liquidationCall.

    Prices in the oracle's units (ETH wei on mainnet v2), `bonus_bps` 10500 for +5 %.
    """
    max_debt = percent_mul(user_reserve_debt, LIQUIDATION_CLOSE_FACTOR_PERCENT)
    actual = min(debt_to_cover, max_debt)
    c_unit, d_unit = 10**collateral_decimals, 10**debt_decimals
    # v2 applies percentMul to the numerator before dividing (v3 divides first).
    max_collateral = percent_mul(debt_price * actual * c_unit, bonus_bps) // (collateral_price * d_unit)
    if max_collateral > collateral_balance:
        collateral = collateral_balance
        debt_needed = percent_div(collateral_price * collateral * d_unit // (debt_price * c_unit), bonus_bps)
    else:
        collateral, debt_needed = max_collateral, actual
    return min(actual, debt_needed), collateral
