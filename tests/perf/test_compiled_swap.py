"""The compiled v3 tick walks (backtest/markets/v3_compiled.py) give the Python walks' floats, bit for bit:
exact-input swaps, swaps to a price limit, exact-output quotes, through tick tables sparse and dense."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest import compiled
from backtest.errors import InputError
from backtest.markets import uniswap_v3 as v3, v3_compiled
from backtest.markets.v3_compiled import exact_output

pytestmark = pytest.mark.skipif(v3_compiled.swap_walk is None, reason="numba not installed")


def pool(rng, n_ticks: int, fee: float) -> v3.PoolState:
    """Positions around tick ~76,000 (~2,000 token1 raw per token0 raw): each adds L at its lower tick
    and removes it at its upper, so the table is complete (liquidity never goes negative)."""
    mid = 76_000 + int(rng.integers(-500, 500))
    lows = mid - rng.integers(1, 4_000, n_ticks)
    highs = mid + rng.integers(1, 4_000, n_ticks)
    amounts = rng.lognormal(20, 2, n_ticks)
    nets: dict[int, float] = {}
    for lo, hi, a in zip(lows.tolist(), highs.tolist(), amounts.tolist()):
        nets[lo] = nets.get(lo, 0.0) + a
        nets[hi] = nets.get(hi, 0.0) - a
    ticks = np.array(sorted(nets), dtype=np.int64)
    tick = mid + int(rng.integers(-50, 50))
    liq = float(sum(a for lo, hi, a in zip(lows, highs, amounts) if lo <= tick < hi))
    sp = float(v3.sqrt_price_at_tick(tick)) * (1.0 + rng.uniform(0, 1e-4))
    return v3.PoolState(sp, tick, liq, ticks, np.array([nets[t] for t in ticks.tolist()]), fee)


def both(func, *args):
    """(compiled, Python): v3_compiled.swap against uniswap_v3.swap; exact_output with the switch on and off."""
    got = (v3_compiled.swap if func is v3.swap else func)(*args)
    with compiled.python_path():
        want = func(*args)
    return got, want


def same(a, b) -> bool:
    return np.array(a, dtype=float).tobytes() == np.array(b, dtype=float).tobytes()


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_ticks=st.sampled_from([1, 3, 40]), fee=st.sampled_from([0.0005, 0.003, 0.01]),
       zfo=st.booleans(), size=st.floats(-6, 2))
def test_swaps_and_exact_outputs_are_the_python_walks_bit_for_bit(seed, n_ticks, fee, zfo, size):
    rng = np.random.default_rng(seed)
    state = pool(rng, n_ticks, fee)
    depth = state.liquidity / state.sqrt_price if zfo else state.liquidity * state.sqrt_price   # virtual reserve in
    amount = depth * 10.0 ** size
    got, want = both(v3.swap, state, amount, zfo)
    assert same(got[:4], want[:4]) and got.state.tick == want.state.tick
    assert same([got.state.sqrt_price, got.state.liquidity], [want.state.sqrt_price, want.state.liquidity])
    for path in (False, True):          # the router's unwrapped walk (V3Pool._sell), both ways
        with compiled.python_path(path):
            walked = v3_compiled.walk(state, amount, zfo)
        assert same(walked[:5] + walked[6:], [*want[:4], want.state.sqrt_price, want.state.liquidity])
        assert walked[5] == want.state.tick and v3_compiled.after(state, walked) == want.state
    limit = state.sqrt_price * (1.0 - 0.2 * rng.random() if zfo else 1.0 + 0.2 * rng.random())
    got, want = both(v3.swap, state, math.inf, zfo, limit)
    assert same(got[:4], want[:4]) and got.state.tick == want.state.tick
    assert same([got.state.sqrt_price, got.state.liquidity], [want.state.sqrt_price, want.state.liquidity])
    out = depth * 10.0 ** size * (state.sqrt_price if zfo else 1.0 / state.sqrt_price) / 3.0
    got, want = both(exact_output, state, out, zfo)
    assert (got is None) == (want is None)
    assert got is None or same(got, want)


def test_an_incomplete_tick_table_is_the_same_error_both_ways():
    state = v3.PoolState(1.0, 0, 1e6, np.array([-10, 10], dtype=np.int64), np.array([5e6, -5e6]), 0.003)
    for path in (False, True):
        with compiled.python_path(path), pytest.raises(InputError, match="crossing tick 10"):
            v3_compiled.swap(state, 1e9, False)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_compiled_impact_fill_is_the_python_one_bit_for_bit(seed):
    # The reference market's fill factor: the closed form for small moves, Gauss-Legendre in sqrt(|flow|)
    # for large ones, orders crossing zero outstanding flow, both signs.
    from backtest.markets import reference
    rng = np.random.default_rng(seed)
    c, volume = rng.uniform(0.01, 3.0, 50), 10.0 ** rng.uniform(5, 10, 50)
    q = rng.normal(size=50) * 10.0 ** rng.uniform(0, 8, 50)
    usd = rng.choice([-1.0, 1.0], 50) * 10.0 ** rng.uniform(-2, 9, 50)
    args = list(zip(c.tolist(), q.tolist(), usd.tolist(), volume.tolist()))
    want = [reference._fill_factor(*a) for a in args]
    got = [reference._fill_factor_compiled(*a) for a in args]
    assert same(got, want)
    assert any(abs(a[0] * (reference._f(a[1] + a[2], a[3]) - reference._f(a[1], a[3]))) >= reference.SMALL
               for a in args)                              # the integral was exercised, not only the closed form
