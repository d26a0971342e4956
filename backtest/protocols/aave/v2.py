"""Aave v2 liquidation rules (aave/protocol-v2), float64 for the engine and exact integers.

v2 differs from v3.0 in three ways that matter to a replay: the close factor is a flat 50 %
whatever the health factor, there is no protocol fee on the bonus, and the bonus is applied
before the division by the collateral price (so the integer rounding differs from v3).

Sources: contracts/protocol/lendingpool/LendingPoolCollateralManager.sol (liquidationCall,
_calculateAvailableCollateralToLiquidate), contracts/protocol/libraries/logic/GenericLogic.sol
(calculateUserAccountData, HEALTH_FACTOR_LIQUIDATION_THRESHOLD = 1e18),
contracts/protocol/libraries/math/PercentageMath.sol.
"""

from __future__ import annotations

import numpy as np

from backtest.protocols.aave.v3 import (account_data_exact, health_factor, percent_div,
                                        percent_mul)

LIQUIDATION_CLOSE_FACTOR_PERCENT = 5_000          # LendingPoolCollateralManager.sol
CLOSE_FACTOR = 0.5

__all__ = ["health_factor", "account_data_exact", "liquidatable", "max_repay", "seize",
           "liquidate", "liquidation_exact"]


# ----------------------------------------------------------------- float64, whole book at once

def liquidatable(hf) -> np.ndarray:
    """HF below 1 (GenericLogic.HEALTH_FACTOR_LIQUIDATION_THRESHOLD); no oracle sentinel in v2."""
    return np.asarray(hf, dtype=float) < 1.0


def max_repay(reserve_debt) -> np.ndarray:
    """Half of the user's stable + variable debt in the debt reserve, at any HF below 1."""
    return CLOSE_FACTOR * np.asarray(reserve_debt, dtype=float)


def seize(debt_to_cover, debt_price, collateral_price, collateral_balance, bonus):
    """(debt_repaid, collateral_to_liquidator): `bonus` 0.05 means 5 % extra collateral.

    When the bonus-inflated collateral exceeds the balance, the whole balance goes and the
    repaid debt shrinks to what that balance buys at the bonus price.
    """
    debt_to_cover = np.asarray(debt_to_cover, dtype=float)
    wanted = debt_price * debt_to_cover * (1.0 + bonus) / collateral_price
    capped = wanted > collateral_balance
    taken = np.where(capped, collateral_balance, wanted)
    repaid = np.where(capped, collateral_price * np.asarray(collateral_balance, dtype=float)
                      / debt_price / (1.0 + bonus), debt_to_cover)
    return repaid, taken


def liquidate(debt_to_cover, reserve_debt, debt_price, collateral_price, collateral_balance, bonus):
    """The whole call: cap at the close factor, then seize. Returns (debt_repaid, collateral)."""
    actual = np.minimum(np.asarray(debt_to_cover, dtype=float), max_repay(reserve_debt))
    return seize(actual, debt_price, collateral_price, collateral_balance, bonus)


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
