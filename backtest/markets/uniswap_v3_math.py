"""Uniswap v3 integer maths, bit for bit with the pool contract (tests/chain compares them on anvil).

Written from the formulas of Uniswap/v3-core: contracts/libraries/TickMath.sol (sqrt price at a
tick, tick at a sqrt price), SqrtPriceMath.sol (next price from an amount, amount deltas),
SwapMath.sol (one swap step), TickBitmap.sol (next initialised tick within one 256-tick word)
and UniswapV3Pool.swap (the step loop). Prices are Q64.96 square roots; Python integers stand in
for uint256 and the overflow checks the contracts make are reproduced where they change a result.

The float engine model lives in backtest/markets/uniswap_v3.py; this module is the exact reference.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from decimal import Decimal, localcontext

Q96 = 1 << 96
Q128 = 1 << 128
UINT256_MAX = (1 << 256) - 1
MIN_TICK, MAX_TICK = -887272, 887272
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342
FEE_DENOMINATOR = 1_000_000   # fees are in pips (hundredths of a bip)


def _tick_factors() -> tuple[int, ...]:
    """round(2^128 / sqrt(1.0001)^(2^i)) for i = 0..19: the Q128 factors TickMath multiplies together."""
    with localcontext() as ctx:
        ctx.prec = 120
        root = Decimal("1.0001").sqrt()
        return tuple(int((Decimal(Q128) / root ** (1 << i)).to_integral_value()) for i in range(20))


_FACTORS = _tick_factors()


# ----------------------------------------------------------------------------- full-precision helpers

def mul_div(a: int, b: int, d: int) -> int:
    out = a * b // d
    if out > UINT256_MAX:
        raise OverflowError("mulDiv overflow")
    return out


def mul_div_up(a: int, b: int, d: int) -> int:
    return -(-(a * b) // d)


def div_up(a: int, b: int) -> int:
    return -(-a // b)


# ----------------------------------------------------------------------------- TickMath

def sqrt_ratio_at_tick(tick: int) -> int:
    """sqrt(1.0001^tick) * 2^96, rounded up from the Q128 product as TickMath.getSqrtRatioAtTick."""
    if not MIN_TICK <= tick <= MAX_TICK:
        raise ValueError(f"tick {tick} out of range")
    a = abs(tick)
    ratio = _FACTORS[0] if a & 1 else Q128
    for i in range(1, 20):
        if a & (1 << i):
            ratio = (ratio * _FACTORS[i]) >> 128
    if tick > 0:
        ratio = UINT256_MAX // ratio
    return (ratio >> 32) + (1 if ratio & 0xFFFFFFFF else 0)


def tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """The greatest tick whose sqrt ratio is <= the price (TickMath.getTickAtSqrtRatio's contract)."""
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise ValueError("sqrt price out of range")
    guess = math.floor(2 * math.log(sqrt_price_x96 / Q96) / math.log(1.0001))
    tick = max(MIN_TICK, min(MAX_TICK, guess))
    while tick > MIN_TICK and sqrt_ratio_at_tick(tick) > sqrt_price_x96:
        tick -= 1
    while tick < MAX_TICK and sqrt_ratio_at_tick(tick + 1) <= sqrt_price_x96:
        tick += 1
    return tick


# ----------------------------------------------------------------------------- SqrtPriceMath

def next_sqrt_price_from_amount0(sqrt_p: int, liquidity: int, amount: int, add: bool) -> int:
    """Price after adding/removing `amount` of token0, rounded up (towards less token0 out)."""
    if amount == 0:
        return sqrt_p
    numerator1 = liquidity << 96
    product = amount * sqrt_p
    if add:
        if product <= UINT256_MAX and numerator1 + product <= UINT256_MAX:
            return mul_div_up(numerator1, sqrt_p, numerator1 + product)
        return div_up(numerator1, numerator1 // sqrt_p + amount)
    if product > UINT256_MAX or numerator1 <= product:
        raise ValueError("not enough liquidity for token0 out")
    return mul_div_up(numerator1, sqrt_p, numerator1 - product)


def next_sqrt_price_from_amount1(sqrt_p: int, liquidity: int, amount: int, add: bool) -> int:
    """Price after adding/removing `amount` of token1, rounded down."""
    if add:
        return sqrt_p + (amount << 96) // liquidity
    quotient = div_up(amount << 96, liquidity)
    if sqrt_p <= quotient:
        raise ValueError("not enough liquidity for token1 out")
    return sqrt_p - quotient


def next_sqrt_price_from_input(sqrt_p: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    if zero_for_one:
        return next_sqrt_price_from_amount0(sqrt_p, liquidity, amount_in, True)
    return next_sqrt_price_from_amount1(sqrt_p, liquidity, amount_in, True)


def next_sqrt_price_from_output(sqrt_p: int, liquidity: int, amount_out: int, zero_for_one: bool) -> int:
    if zero_for_one:
        return next_sqrt_price_from_amount1(sqrt_p, liquidity, amount_out, False)
    return next_sqrt_price_from_amount0(sqrt_p, liquidity, amount_out, False)


def amount0_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """token0 between two prices: L * 2^96 * (b - a) / (b * a)."""
    a, b = min(sqrt_a, sqrt_b), max(sqrt_a, sqrt_b)
    numerator1, numerator2 = liquidity << 96, b - a
    if round_up:
        return div_up(mul_div_up(numerator1, numerator2, b), a)
    return mul_div(numerator1, numerator2, b) // a


def amount1_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """token1 between two prices: L * (b - a) / 2^96."""
    a, b = min(sqrt_a, sqrt_b), max(sqrt_a, sqrt_b)
    return mul_div_up(liquidity, b - a, Q96) if round_up else mul_div(liquidity, b - a, Q96)


def mint_amounts(sqrt_p: int, tick: int, tick_lower: int, tick_upper: int, liquidity: int) -> tuple[int, int]:
    """Tokens owed for adding `liquidity` on [lower, upper) (UniswapV3Pool._modifyPosition, rounded up)."""
    lo, hi = sqrt_ratio_at_tick(tick_lower), sqrt_ratio_at_tick(tick_upper)
    if tick < tick_lower:
        return amount0_delta(lo, hi, liquidity, True), 0
    if tick < tick_upper:
        return amount0_delta(sqrt_p, hi, liquidity, True), amount1_delta(lo, sqrt_p, liquidity, True)
    return 0, amount1_delta(lo, hi, liquidity, True)


# ----------------------------------------------------------------------------- SwapMath

def compute_swap_step(sqrt_cur: int, sqrt_target: int, liquidity: int, amount_remaining: int,
                      fee_pips: int) -> tuple[int, int, int, int]:
    """(sqrt_next, amount_in, amount_out, fee_amount) for one step towards `sqrt_target`.

    amount_remaining > 0 is exact input (fee included), < 0 exact output.
    """
    zero_for_one = sqrt_cur >= sqrt_target
    exact_in = amount_remaining >= 0
    amount_in = amount_out = 0
    if exact_in:
        less_fee = mul_div(amount_remaining, FEE_DENOMINATOR - fee_pips, FEE_DENOMINATOR)
        amount_in = (amount0_delta(sqrt_target, sqrt_cur, liquidity, True) if zero_for_one
                     else amount1_delta(sqrt_cur, sqrt_target, liquidity, True))
        sqrt_next = sqrt_target if less_fee >= amount_in else \
            next_sqrt_price_from_input(sqrt_cur, liquidity, less_fee, zero_for_one)
    else:
        amount_out = (amount1_delta(sqrt_target, sqrt_cur, liquidity, False) if zero_for_one
                      else amount0_delta(sqrt_cur, sqrt_target, liquidity, False))
        sqrt_next = sqrt_target if -amount_remaining >= amount_out else \
            next_sqrt_price_from_output(sqrt_cur, liquidity, -amount_remaining, zero_for_one)
    reached = sqrt_next == sqrt_target
    if zero_for_one:
        if not (reached and exact_in):
            amount_in = amount0_delta(sqrt_next, sqrt_cur, liquidity, True)
        if not (reached and not exact_in):
            amount_out = amount1_delta(sqrt_next, sqrt_cur, liquidity, False)
    else:
        if not (reached and exact_in):
            amount_in = amount1_delta(sqrt_cur, sqrt_next, liquidity, True)
        if not (reached and not exact_in):
            amount_out = amount0_delta(sqrt_cur, sqrt_next, liquidity, False)
    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining
    if exact_in and sqrt_next != sqrt_target:
        fee = amount_remaining - amount_in      # the remainder of the input is all fee
    else:
        fee = mul_div_up(amount_in, fee_pips, FEE_DENOMINATOR - fee_pips)
    return sqrt_next, amount_in, amount_out, fee


# ----------------------------------------------------------------------------- TickBitmap + swap loop

def next_initialized_tick(initialized: list[int], tick: int, spacing: int, lte: bool) -> tuple[int, bool]:
    """Next initialised tick at or below (lte) / above `tick`, looking no further than its 256-bit word.

    `initialized` is the sorted list of initialised ticks (multiples of `spacing`).
    """
    compressed = tick // spacing            # floor, as the contract's "round towards negative infinity"
    if lte:
        word_start = (compressed >> 8) << 8
        i = bisect.bisect_right(initialized, compressed * spacing) - 1
        if i >= 0 and initialized[i] >= word_start * spacing:
            return initialized[i], True
        return word_start * spacing, False
    start = compressed + 1
    word_end = ((start >> 8) << 8) + 255
    i = bisect.bisect_left(initialized, start * spacing)
    if i < len(initialized) and initialized[i] <= word_end * spacing:
        return initialized[i], True
    return word_end * spacing, False


@dataclass(frozen=True)
class SwapResult:
    amount0: int          # pool's deltas: positive = paid into the pool
    amount1: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    ticks_crossed: int


def swap_exact(sqrt_price_x96: int, tick: int, liquidity: int, liquidity_net: dict[int, int],
               tick_spacing: int, fee_pips: int, zero_for_one: bool, amount_specified: int,
               sqrt_price_limit_x96: int) -> SwapResult:
    """UniswapV3Pool.swap without the protocol fee (feeProtocol = 0, the factory default).

    `liquidity_net` maps every initialised tick (liquidityGross > 0) to its liquidityNet.
    """
    if amount_specified == 0:
        raise ValueError("amount_specified must be non-zero")
    if zero_for_one and not MIN_SQRT_RATIO < sqrt_price_limit_x96 < sqrt_price_x96:
        raise ValueError("price limit must be below the price")
    if not zero_for_one and not sqrt_price_x96 < sqrt_price_limit_x96 < MAX_SQRT_RATIO:
        raise ValueError("price limit must be above the price")
    initialized = sorted(liquidity_net)
    exact_in = amount_specified > 0
    remaining, calculated, crossed = amount_specified, 0, 0
    price, cur_tick, liq = sqrt_price_x96, tick, liquidity
    while remaining != 0 and price != sqrt_price_limit_x96:
        start = price
        tick_next, is_init = next_initialized_tick(initialized, cur_tick, tick_spacing, zero_for_one)
        tick_next = max(MIN_TICK, min(MAX_TICK, tick_next))
        sqrt_next = sqrt_ratio_at_tick(tick_next)
        beyond = sqrt_next < sqrt_price_limit_x96 if zero_for_one else sqrt_next > sqrt_price_limit_x96
        target = sqrt_price_limit_x96 if beyond else sqrt_next
        price, amount_in, amount_out, fee = compute_swap_step(price, target, liq, remaining, fee_pips)
        if exact_in:
            remaining -= amount_in + fee
            calculated -= amount_out
        else:
            remaining += amount_out
            calculated += amount_in + fee
        if price == sqrt_next:
            if is_init:
                net = liquidity_net[tick_next]
                liq += -net if zero_for_one else net
                if liq < 0:
                    raise ValueError("liquidity went negative")
                crossed += 1
            cur_tick = tick_next - 1 if zero_for_one else tick_next
        elif price != start:
            cur_tick = tick_at_sqrt_ratio(price)
    if zero_for_one == exact_in:
        amount0, amount1 = amount_specified - remaining, calculated
    else:
        amount0, amount1 = calculated, amount_specified - remaining
    return SwapResult(amount0, amount1, price, cur_tick, liq, crossed)
