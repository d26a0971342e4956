"""Hand-worked cases for the exact Uniswap v3 port (no node needed); the chain tests do the random ones."""

from __future__ import annotations

import pytest

from backtest.markets import uniswap_v3_math as m

Q96 = 2**96


def test_sqrt_ratio_at_the_tick_bounds_is_tickmaths_constants():
    assert m.sqrt_ratio_at_tick(0) == Q96                      # 1.0001^0 = 1
    assert m.sqrt_ratio_at_tick(m.MIN_TICK) == 4295128739
    assert m.sqrt_ratio_at_tick(m.MAX_TICK) == 1461446703485210103287273052203988822378723970342
    with pytest.raises(ValueError):
        m.sqrt_ratio_at_tick(m.MAX_TICK + 1)


def test_tick_at_sqrt_ratio_is_the_greatest_tick_at_or_below_the_price():
    assert m.tick_at_sqrt_ratio(Q96) == 0
    assert m.tick_at_sqrt_ratio(Q96 - 1) == -1                  # a hair below 1.0 is in tick -1
    s = m.sqrt_ratio_at_tick(12_345)
    assert (m.tick_at_sqrt_ratio(s), m.tick_at_sqrt_ratio(s - 1)) == (12_345, 12_344)


def test_amount_deltas_between_price_1_and_4():
    # sqrt prices 1 and 2 (prices 1 and 4), L = 1e18:
    # token1 = L (2 - 1) = 1e18; token0 = L (1/1 - 1/2) = 5e17, both exact so no rounding either way
    lo, hi = Q96, 2 * Q96
    assert m.amount1_delta(lo, hi, 10**18, False) == m.amount1_delta(lo, hi, 10**18, True) == 10**18
    assert m.amount0_delta(lo, hi, 10**18, False) == m.amount0_delta(lo, hi, 10**18, True) == 5 * 10**17


def test_swap_step_that_stops_inside_the_range_charges_the_rest_as_fee():
    # 1e18 of token1 in at price 1, L = 1e18, 0.3 %: 0.997e18 moves the price (target 4 is far),
    # what remains of the input (3e15) is the fee; out is about L (1 - 1/1.997) = 0.49925e18
    nxt, amount_in, amount_out, fee = m.compute_swap_step(Q96, 2 * Q96, 10**18, 10**18, 3000)
    assert amount_in == 997 * 10**15 and fee == 3 * 10**15
    assert nxt == Q96 + (997 * 10**15 << 96) // 10**18
    assert amount_out == pytest.approx(10**18 * 0.997 / 1.997, rel=1e-12)


def test_swap_crosses_two_initialised_ticks_and_stops_at_the_limit():
    # positions [-60, 60) and [0, 120) of 1e18 each, spacing 60, start at tick 0: L = 2e18.
    # Buying token0 up to tick 120: L 2e18 from tick 0 to 60, crossing 60 leaves 1e18 to 120,
    # crossing 120 leaves 0. Input = both legs rounded up, each plus its fee (ceil(in * 3000 / 997000)).
    net = {-60: 10**18, 0: 10**18, 60: -(10**18), 120: -(10**18)}
    p0, p60, p120 = Q96, m.sqrt_ratio_at_tick(60), m.sqrt_ratio_at_tick(120)
    res = m.swap_exact(p0, 0, 2 * 10**18, net, 60, 3000, False, 10**30, p120)
    leg1, leg2 = m.amount1_delta(p0, p60, 2 * 10**18, True), m.amount1_delta(p60, p120, 10**18, True)
    fees = m.mul_div_up(leg1, 3000, 997_000) + m.mul_div_up(leg2, 3000, 997_000)
    assert (res.sqrt_price_x96, res.tick, res.liquidity, res.ticks_crossed) == (p120, 120, 0, 2)
    assert res.amount1 == leg1 + leg2 + fees
    assert res.amount0 == -(m.amount0_delta(p0, p60, 2 * 10**18, False) + m.amount0_delta(p60, p120, 10**18, False))


def test_next_initialised_tick_looks_no_further_than_one_word():
    # spacing 1, nothing initialised: from tick 10 going down the search stops at the word start (0),
    # going up at the word end (255); an initialised tick inside the word is found instead
    assert m.next_initialized_tick([], 10, 1, True) == (0, False)
    assert m.next_initialized_tick([], 10, 1, False) == (255, False)
    assert m.next_initialized_tick([3, 300], 10, 1, True) == (3, True)
    assert m.next_initialized_tick([3, 300], 10, 1, False) == (255, False)
    assert m.next_initialized_tick([-5], -1, 1, True) == (-5, True)   # word of -1 is [-256, -1]
