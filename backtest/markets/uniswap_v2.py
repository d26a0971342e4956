"""Constant-product pools (Uniswap v2, UniswapV2Library.getAmountOut/getAmountIn).

Float functions for the engine; exact integer ones mirroring the contract's 997/1000 fee
arithmetic for tests against the deployed pair.
"""

from __future__ import annotations

import math


def amount_out(amount_in: float, reserve_in: float, reserve_out: float, fee: float = 0.003) -> float:
    net = amount_in * (1.0 - fee)
    return net * reserve_out / (reserve_in + net)


def amount_in(amount_out_: float, reserve_in: float, reserve_out: float, fee: float = 0.003) -> float:
    """Input needed for an exact output; +inf if the pool cannot pay it."""
    if amount_out_ >= reserve_out:
        return math.inf
    return reserve_in * amount_out_ / ((reserve_out - amount_out_) * (1.0 - fee))


def get_amount_out_exact(amount_in_: int, reserve_in: int, reserve_out: int) -> int:
    with_fee = amount_in_ * 997
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


def get_amount_in_exact(amount_out_: int, reserve_in: int, reserve_out: int) -> int:
    return reserve_in * amount_out_ * 1000 // ((reserve_out - amount_out_) * 997) + 1


def reserves_at_price(reserve_base: float, reserve_quote: float, price: float) -> tuple[float, float]:
    """Reserves after an arbitrage moves the pool to `price` (quote per base) along x*y = k."""
    k = reserve_base * reserve_quote
    base = math.sqrt(k / price)
    return base, k / base
