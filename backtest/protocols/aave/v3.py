"""Aave v3.0 liquidation rules (aave/aave-v3-core), in two precisions, one copy of each.

* float64: what the replay engine runs (`health_factor` over the whole book, `max_close` per
  candidate, `terms` per liquidation try, through backtest/protocols/rules.py's RULES) and what the
  differential tests in tests/chain check against the deployed Pool; `seize` is `bonus_seize`
  over arrays;
* exact integer functions that mirror the Solidity (bps percentages, WAD health factor,
  half-up rounding of PercentageMath/WadRayMath), used by the differential tests
  against the deployed Pool and as the reference for the float versions.

Sources: GenericLogic.calculateUserAccountData, LiquidationLogic._calculateDebt and
_calculateAvailableCollateralToLiquidate, PercentageMath, WadRayMath.
"""

from __future__ import annotations

import numpy as np

PERCENTAGE_FACTOR = 10_000
HALF_PERCENTAGE_FACTOR = 5_000
WAD = 10**18
HALF_WAD = WAD // 2
HEALTH_FACTOR_LIQUIDATION_THRESHOLD = WAD            # ValidationLogic.sol L53
CLOSE_FACTOR_HF_THRESHOLD = 95 * 10**16               # LiquidationLogic.sol: 0.95e18
DEFAULT_LIQUIDATION_CLOSE_FACTOR = 5_000              # 50 %
MAX_LIQUIDATION_CLOSE_FACTOR = 10_000                 # 100 %
UINT256_MAX = 2**256 - 1
HF_CLOSE = CLOSE_FACTOR_HF_THRESHOLD / WAD            # 0.95 as a float


# ----------------------------------------------------------------- float64, whole book at once

def health_factor(collateral_usd: np.ndarray, debt_usd: np.ndarray, liquidation_threshold: np.ndarray) -> np.ndarray:
    """HF per account from [accounts, assets] USD values; +inf with no debt (uint256.max on chain).

    As GenericLogic.calculateUserAccountData, the value-weighted average threshold is a whole
    number of bps rounded down; without that floor a multi-collateral HF is off by up to
    1 bps / LT (1.3e-4 relative, seen against the deployed Pool in tests/chain).
    """
    collateral_usd = np.asarray(collateral_usd, dtype=float)
    weighted = collateral_usd @ liquidation_threshold
    total = collateral_usd.sum(axis=1)
    debt = np.asarray(debt_usd, dtype=float).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # a dust debt: HF inf
        avg = np.where(total > 0, weighted / np.where(total > 0, total, 1.0), 0.0)
        # +1e-9 bps: an exact whole number computed as k - 1 ulp must stay k
        avg_bps = np.floor(avg * PERCENTAGE_FACTOR + 1e-9)
        adjusted = total * avg_bps / PERCENTAGE_FACTOR
        return np.where(debt > 0, adjusted / np.where(debt > 0, debt, 1.0), np.inf)


def close_factor(hf, default=0.5, hf_threshold: float = HF_CLOSE):
    """50 % (`default`) of a debt reserve while HF > 0.95, the whole of it below. Floats in, a float
    out (the liquidator's hot path, `terms`); arrays broadcast (`max_close`)."""
    if isinstance(hf, float) and isinstance(default, float):
        return default if hf > hf_threshold else 1.0
    return np.where(np.asarray(hf) > hf_threshold, default, 1.0)


def max_close(hf: np.ndarray, cf: np.ndarray) -> np.ndarray:
    """close_factor of each account [K] on each debt reserve [R] (its close factor `cf`): [K, R]."""
    return close_factor(np.asarray(hf)[:, None], cf[None, :])


def bonus_seize(repay, pd, pc, balance, bonus, fee_on_bonus=0.0):
    """Collateral worth repay*(1+bonus), capped by the balance (then less is repaid); Aave v3's
    protocol fee is a share of the bonus part. Plain floats: (repaid, collateral taken from the
    user, protocol fee); the liquidator receives taken - fee. `bonus` is 0.05 for +5 %."""
    wanted = pd * repay / pc * (1.0 + bonus)
    if wanted > balance:
        taken, repay = balance, pc * balance / pd / (1.0 + bonus)
    else:
        taken = wanted
    return repay, taken, (taken - taken / (1.0 + bonus)) * fee_on_bonus


_seize = np.vectorize(bonus_seize, otypes=[float, float, float])


def seize(debt_to_cover, debt_price, collateral_price, collateral_balance, bonus, protocol_fee=0.0):
    """bonus_seize over arrays (broadcast): (debt_repaid, collateral_taken_from_user, protocol_fee_amount)."""
    return _seize(debt_to_cover, debt_price, collateral_price, collateral_balance, bonus, protocol_fee)


def terms(hf, d, c, coll, debt, price, p, size):
    """The engine's liquidation terms (backtest/protocols/rules.py): `size` of the close factor's
    cap on debt reserve `d`, against collateral reserve `c`, with the protocol fee on the bonus."""
    cap = close_factor(hf, p.close_factor[d]) * debt[d]
    return bonus_seize(cap * size, price[d], price[c], coll[c], p.bonus[c], p.protocol_fee[c])


# ------------------------------------------------------------- exact integers, as the contracts

def percent_mul(value: int, percentage: int) -> int:
    return (value * percentage + HALF_PERCENTAGE_FACTOR) // PERCENTAGE_FACTOR


def percent_div(value: int, percentage: int) -> int:
    return (value * PERCENTAGE_FACTOR + percentage // 2) // percentage


def wad_div(a: int, b: int) -> int:
    return (a * WAD + b // 2) // b


def account_data_exact(collateral: list[int], debt: list[int], prices: list[int], decimals: list[int],
                       lt_bps: list[int]) -> tuple[int, int, int, int]:
    """(totalCollateralBase, totalDebtBase, avgLiquidationThreshold, healthFactor) for one user.

    Balances in token base units, prices in the oracle's base currency units (8 decimals on
    mainnet). Every listed collateral counts (it is enabled as collateral with LT != 0).
    """
    total_coll = total_debt = weighted_lt = 0
    for c, d, p, dec, lt in zip(collateral, debt, prices, decimals, lt_bps):
        unit = 10**dec
        if c and lt:
            value = c * p // unit
            total_coll += value
            weighted_lt += value * lt
        if d:
            total_debt += d * p // unit
    avg_lt = weighted_lt // total_coll if total_coll else 0
    hf = UINT256_MAX if total_debt == 0 else wad_div(percent_mul(total_coll, avg_lt), total_debt)
    return total_coll, total_debt, avg_lt, hf


def liquidation_exact(debt_to_cover: int, user_reserve_debt: int, health_factor_wad: int,
                      collateral_balance: int, collateral_price: int, debt_price: int,
                      collateral_decimals: int, debt_decimals: int, bonus_bps: int,
                      protocol_fee_bps: int = 0) -> tuple[int, int, int]:
    """(debt repaid, collateral to the liquidator, collateral to the treasury) as LiquidationLogic.

    `bonus_bps` is Aave's own form: 10500 for a 5 % bonus.
    """
    close = DEFAULT_LIQUIDATION_CLOSE_FACTOR if health_factor_wad > CLOSE_FACTOR_HF_THRESHOLD \
        else MAX_LIQUIDATION_CLOSE_FACTOR
    max_debt = percent_mul(user_reserve_debt, close)
    actual = min(debt_to_cover, max_debt)
    c_unit, d_unit = 10**collateral_decimals, 10**debt_decimals
    base_collateral = debt_price * actual * c_unit // (collateral_price * d_unit)
    max_collateral = percent_mul(base_collateral, bonus_bps)
    if max_collateral > collateral_balance:
        collateral = collateral_balance
        debt_needed = percent_div(collateral_price * collateral * d_unit // (debt_price * c_unit), bonus_bps)
    else:
        collateral, debt_needed = max_collateral, actual
    fee = 0
    if protocol_fee_bps:
        bonus_collateral = collateral - percent_div(collateral, bonus_bps)
        fee = percent_mul(bonus_collateral, protocol_fee_bps)
    return debt_needed, collateral - fee, fee


# ------------------------------------------------------------- e-mode (v3.0 categories)

def emode_params(asset_category, user_category, ltv, liquidation_threshold, bonus,
                 category_ltv, category_lt, category_bonus):
    """Effective (ltv, lt, bonus) per [account, asset] under Aave v3.0 e-mode.

    An asset uses its category's parameters when the user's category is non-zero and equals
    the asset's category (GenericLogic.calculateUserAccountData and
    LiquidationLogic.executeLiquidationCall, aave/aave-v3-core). `asset_category` is [assets],
    `user_category` [accounts]; `category_*` are indexed by category id (index 0 unused).
    The optional category priceSource override is not modelled: pass the prices you want.
    """
    asset_category = np.asarray(asset_category)
    user_category = np.asarray(user_category)
    in_cat = (user_category[:, None] != 0) & (user_category[:, None] == asset_category[None, :])
    cat = np.where(in_cat, user_category[:, None], 0)
    pick = lambda base, table: np.where(in_cat, np.asarray(table, dtype=float)[cat],
                                        np.broadcast_to(np.asarray(base, dtype=float), in_cat.shape))
    return pick(ltv, category_ltv), pick(liquidation_threshold, category_lt), pick(bonus, category_bonus)
