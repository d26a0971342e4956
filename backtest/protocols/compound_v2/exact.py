"""Compound v2 liquidation rules (compound-finance/compound-protocol), float64 and exact mantissas.

Collateral is held as cTokens; the exchange rate turns them into underlying. A liquidator
repays up to closeFactor of one borrow and seizes cTokens worth repay x incentive; since
v2.9 (CToken.seizeInternal) 2.8 % of the seized cTokens are redeemed into the market's
reserves instead of going to the liquidator.

Sources: contracts/Comptroller.sol (getHypotheticalAccountLiquidityInternal,
liquidateBorrowAllowed, liquidateCalculateSeizeTokens, _setCloseFactor bounds),
contracts/CToken.sol (exchangeRateStoredInternal, seizeInternal),
contracts/CTokenInterfaces.sol (protocolSeizeShareMantissa = 2.8e16),
contracts/ExponentialNoError.sol (truncating mantissa arithmetic).
"""

from __future__ import annotations

import numpy as np

EXP_SCALE = 10**18
PROTOCOL_SEIZE_SHARE_MANTISSA = 28 * 10**15   # 2.8 %
PROTOCOL_SEIZE_SHARE = 0.028
CLOSE_FACTOR_MIN = 0.05                       # Comptroller: closeFactorMinMantissa (exclusive)
CLOSE_FACTOR_MAX = 0.9                        # closeFactorMaxMantissa


# ----------------------------------------------------------------- float64, whole book at once

def exchange_rate(cash, total_borrows, total_reserves, total_supply, initial_rate):
    """Underlying per cToken; the initial rate while no cTokens exist."""
    total_supply = np.asarray(total_supply, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = (np.asarray(cash) + total_borrows - total_reserves) / np.where(total_supply > 0, total_supply, 1.0)
    return np.where(total_supply > 0, rate, initial_rate)


def account_liquidity(ctoken_balance, exchange_rate_, collateral_factor, price, borrow_balance):
    """(liquidity_usd, shortfall_usd) per account from [accounts, markets] balances.

    Collateral counts at cTokens x exchange rate x collateral factor x price; borrows at full
    value. Exactly one of the two outputs is non-zero.
    """
    coll = (np.asarray(ctoken_balance, dtype=float) * (np.asarray(exchange_rate_) * collateral_factor * price)).sum(axis=1)
    debt = (np.asarray(borrow_balance, dtype=float) * price).sum(axis=1)
    return np.maximum(coll - debt, 0.0), np.maximum(debt - coll, 0.0)


def liquidatable(shortfall) -> np.ndarray:
    return np.asarray(shortfall, dtype=float) > 0.0


def max_repay(borrow_balance, close_factor) -> np.ndarray:
    return np.asarray(borrow_balance, dtype=float) * close_factor


def seize_tokens(repay, price_borrowed, price_collateral, exchange_rate_, incentive):
    """cTokens seized for `repay` underlying of the borrowed asset; `incentive` 0.08 = +8 %."""
    return np.asarray(repay, dtype=float) * (1.0 + incentive) * price_borrowed / (price_collateral * exchange_rate_)


def liquidate(repay, borrow_balance, close_factor, price_borrowed, price_collateral, exchange_rate_,
              incentive, ctoken_balance, protocol_seize_share=PROTOCOL_SEIZE_SHARE):
    """(repaid, cTokens to liquidator, cTokens to protocol, underlying added to reserves), one account.

    Repay is capped at the close factor. On chain a seize above the borrower's cToken balance
    reverts (LIQUIDATE_SEIZE_TOO_MUCH); here the repay shrinks until the seize fits, which
    is what a liquidator re-submitting would do. The engine's terms (`terms.py`) are this function
    at an exchange rate of 1 (collateral in underlying): one float copy.
    """
    repay, seized, protocol = seize_fitting(min(repay, borrow_balance * close_factor), price_borrowed,
                                            price_collateral, exchange_rate_, incentive, ctoken_balance,
                                            protocol_seize_share)
    return repay, seized - protocol, protocol, protocol * exchange_rate_


def seize_fitting(repay, price_borrowed, price_collateral, exchange_rate_, incentive, ctoken_balance, share):
    """(repay, cTokens seized, of which to the protocol) for a repay within the close factor: seize_tokens,
    the repay scaled down when the seize exceeds the balance. Plain floats: the replay's hot path."""
    seized = repay * (1.0 + incentive) * price_borrowed / (price_collateral * exchange_rate_)
    if seized > ctoken_balance:
        repay, seized = repay * ctoken_balance / seized, ctoken_balance
    return repay, seized, seized * share


# ------------------------------------------------------------- exact mantissas, as the contracts

def _mul_exp(a: int, b: int) -> int:
    return a * b // EXP_SCALE


def exchange_rate_exact(cash: int, total_borrows: int, total_reserves: int, total_supply: int,
                        initial_rate_mantissa: int) -> int:
    if total_supply == 0:
        return initial_rate_mantissa
    return (cash + total_borrows - total_reserves) * EXP_SCALE // total_supply


def account_liquidity_exact(ctoken_balance: list[int], exchange_rate_mantissa: list[int],
                            collateral_factor_mantissa: list[int], price_mantissa: list[int],
                            borrow_balance: list[int]) -> tuple[int, int]:
    """(liquidity, shortfall) in 1e18 USD; prices as the oracle gives them (1e36 / 10^decimals)."""
    sum_coll = sum_borrow = 0
    for bal, er, cf, p, debt in zip(ctoken_balance, exchange_rate_mantissa, collateral_factor_mantissa,
                                    price_mantissa, borrow_balance):
        tokens_to_denom = _mul_exp(_mul_exp(cf, er), p)
        sum_coll += tokens_to_denom * bal // EXP_SCALE
        sum_borrow += p * debt // EXP_SCALE
    return (sum_coll - sum_borrow, 0) if sum_coll > sum_borrow else (0, sum_borrow - sum_coll)


def max_repay_exact(borrow_balance: int, close_factor_mantissa: int) -> int:
    return close_factor_mantissa * borrow_balance // EXP_SCALE


def seize_tokens_exact(repay: int, price_borrowed_mantissa: int, price_collateral_mantissa: int,
                       exchange_rate_mantissa: int, incentive_mantissa: int) -> int:
    """liquidateCalculateSeizeTokens; `incentive_mantissa` is 1.08e18 for +8 %."""
    numerator = _mul_exp(incentive_mantissa, price_borrowed_mantissa)
    denominator = _mul_exp(price_collateral_mantissa, exchange_rate_mantissa)
    ratio = numerator * EXP_SCALE // denominator
    return ratio * repay // EXP_SCALE


def seize_split_exact(seize_tokens_: int, exchange_rate_mantissa: int,
                      protocol_seize_share_mantissa: int = PROTOCOL_SEIZE_SHARE_MANTISSA) -> tuple[int, int, int]:
    """(cTokens to liquidator, cTokens to protocol, underlying added to reserves), seizeInternal."""
    protocol_tokens = seize_tokens_ * protocol_seize_share_mantissa // EXP_SCALE
    return seize_tokens_ - protocol_tokens, protocol_tokens, exchange_rate_mantissa * protocol_tokens // EXP_SCALE
