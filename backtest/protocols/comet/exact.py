"""Compound v3 (Comet) liquidation rules (compound-finance/comet), float64 and exact integers.

Comet has no liquidator bonus on the account: `absorb` moves *all* of an underwater account's
collateral to the protocol, credits the account with its value x liquidationFactor (a surplus
becomes a base supply balance), and the reserves pay the debt. The protocol then sells the
collateral through `buyCollateral` at a store-front discount, but only while reserves are
below target. Base balances here are present values (principal x index already applied).

Source: contracts/Comet.sol (isLiquidatable, absorbInternal, buyCollateral, quoteCollateral,
mulPrice/divPrice/mulFactor), contracts/CometCore.sol (FACTOR_SCALE = 1e18, PRICE_SCALE = 1e8).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

FACTOR_SCALE = 10**18
PRICE_SCALE = 10**8


class Absorb(NamedTuple):
    new_balance: np.ndarray       # base units, >= 0: what the account is left with
    base_paid_out: np.ndarray     # base units the reserves pay (AbsorbDebt.basePaidOut)
    value_absorbed: np.ndarray    # USD, collateral value x liquidationFactor
    shortfall: np.ndarray         # base units of debt the discounted collateral did not cover


# ----------------------------------------------------------------- float64, whole book at once

def collateral_value(collateral, collateral_price, factor) -> np.ndarray:
    return (np.asarray(collateral, dtype=float) * (np.asarray(collateral_price) * factor)).sum(axis=1)


def liquidatable(base_balance, base_price, collateral, collateral_price, liquidate_collateral_factor):
    """A borrower whose debt exceeds collateral x liquidateCollateralFactor (isLiquidatable)."""
    base_balance = np.asarray(base_balance, dtype=float)
    liquidity = base_balance * base_price + collateral_value(collateral, collateral_price,
                                                             liquidate_collateral_factor)
    return (base_balance < 0) & (liquidity < 0)


def absorb(base_balance, base_price, collateral, collateral_price, liquidation_factor) -> Absorb:
    """Absorb every row's account; all its collateral goes to the protocol."""
    base_balance = np.asarray(base_balance, dtype=float)
    value = collateral_value(collateral, collateral_price, liquidation_factor)
    raw = base_balance + value / base_price
    new = np.maximum(raw, 0.0)
    return Absorb(new, new - base_balance, value, np.maximum(-raw, 0.0))


def absorb_one(base_balance: float, base_price: float, collateral: np.ndarray, collateral_price: np.ndarray,
               liquidation_factor: np.ndarray) -> tuple[float, float]:
    """`absorb` of one account (collateral [C]): (new balance, base paid out) as plain floats, the same sums
    and quotients (Comet's absorbs, one account at a time; tests/protocols/test_comet.py)."""
    value = float((np.asarray(collateral, dtype=float) * (np.asarray(collateral_price) * liquidation_factor)).sum())
    raw = float(base_balance) + value / float(base_price) if base_price != 0 else \
        float(np.float64(base_balance) + np.float64(value) / np.float64(base_price))
    new = raw if (raw > 0.0 or raw != raw) else 0.0           # np.maximum(raw, 0.0)
    return new, new - float(base_balance)


def quote_collateral(base_amount, base_price, asset_price, liquidation_factor, store_front_price_factor):
    """Collateral units bought with `base_amount`: price discounted by storeFront x (1 - LF)."""
    discount = store_front_price_factor * (1.0 - np.asarray(liquidation_factor, dtype=float))
    return np.asarray(base_amount, dtype=float) * base_price / (np.asarray(asset_price) * (1.0 - discount))


def quote_collateral_one(base_amount: float, base_price: float, asset_price: float, liquidation_factor: float,
                         store_front_price_factor: float) -> float:
    """`quote_collateral` of one purchase in plain floats (Comet's keepers ask it of every size each block they
    look): the same products and quotient in the same order (tests/protocols/test_comet.py); a zero divisor
    goes to numpy (its inf or NaN)."""
    per_unit = asset_price * (1.0 - store_front_price_factor * (1.0 - liquidation_factor))
    if per_unit == 0.0:
        return float(quote_collateral(base_amount, base_price, asset_price, liquidation_factor, store_front_price_factor))
    return base_amount * base_price / per_unit


def buy_collateral(base_amount, reserves, target_reserves, collateral_reserves, base_price, asset_price,
                   liquidation_factor, store_front_price_factor):
    """(collateral_out, allowed). Not allowed (NotForSale / InsufficientReserves) -> nothing moves."""
    out = quote_collateral(base_amount, base_price, asset_price, liquidation_factor, store_front_price_factor)
    allowed = (np.asarray(reserves) < target_reserves) & (out <= collateral_reserves)
    return np.where(allowed, out, 0.0), allowed


# ------------------------------------------------------------- exact integers, as the contracts

def mul_price(n: int, price: int, from_scale: int) -> int:
    return n * price // from_scale


def div_price(n: int, price: int, to_scale: int) -> int:
    return n * to_scale // price


def mul_factor(n: int, factor: int) -> int:
    return n * factor // FACTOR_SCALE


def _signed_mul_price(n: int, price: int, from_scale: int) -> int:
    # Solidity signed division truncates toward zero
    q = abs(n) * price // from_scale
    return -q if n < 0 else q


def liquidatable_exact(base_balance: int, base_price: int, base_scale: int, collateral: list[int],
                       prices: list[int], scales: list[int], liquidate_cf: list[int]) -> bool:
    if base_balance >= 0:
        return False
    liquidity = _signed_mul_price(base_balance, base_price, base_scale)
    for amount, price, scale, cf in zip(collateral, prices, scales, liquidate_cf):
        liquidity += mul_factor(mul_price(amount, price, scale), cf)
    return liquidity < 0


def absorb_exact(base_balance: int, base_price: int, base_scale: int, collateral: list[int],
                 prices: list[int], scales: list[int], liquidation_factor: list[int]) -> tuple[int, int, int]:
    """(new balance, basePaidOut, usdValue of basePaidOut) as absorbInternal."""
    delta_value = 0
    for amount, price, scale, lf in zip(collateral, prices, scales, liquidation_factor):
        delta_value += mul_factor(mul_price(amount, price, scale), lf)
    new = max(base_balance + div_price(delta_value, base_price, base_scale), 0)
    paid = new - base_balance
    return new, paid, mul_price(paid, base_price, base_scale)


def quote_collateral_exact(base_amount: int, base_price: int, base_scale: int, asset_price: int,
                           asset_scale: int, liquidation_factor: int, store_front_price_factor: int) -> int:
    discount = mul_factor(store_front_price_factor, FACTOR_SCALE - liquidation_factor)
    discounted = mul_factor(asset_price, FACTOR_SCALE - discount)
    return base_price * base_amount * asset_scale // discounted // base_scale


def buy_collateral_exact(base_amount: int, min_amount: int, reserves: int, target_reserves: int,
                         collateral_reserves: int, **quote) -> int:
    """Collateral out, or ValueError with the contract's revert name."""
    if reserves >= 0 and reserves >= target_reserves:
        raise ValueError("NotForSale")
    out = quote_collateral_exact(base_amount, **quote)
    if out < min_amount:
        raise ValueError("TooMuchSlippage")
    if out > collateral_reserves:
        raise ValueError("InsufficientReserves")
    return out
