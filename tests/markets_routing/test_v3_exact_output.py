"""Buying from a v3 pool (exact output): the float walk against the contract's integer arithmetic."""

from hypothesis import assume, event, given, settings, strategies as st
import pytest

from backtest.markets import uniswap_v3 as v3
from backtest.markets import uniswap_v3_math as exact
from backtest.markets.v3_compiled import exact_output


@settings(max_examples=150, deadline=None)
@given(share=st.floats(0.0, 1.1), zfo=st.booleans(), fee=st.sampled_from([100, 500, 3000, 10000]),
       widths=st.lists(st.integers(1, 40), min_size=1, max_size=5),
       liqs=st.lists(st.integers(10**15, 10**22), min_size=5, max_size=5))
def test_float_exact_output_agrees_with_the_integer_swap(share, zfo, fee, widths, liqs):
    # Nested positions centred on tick 0 (spacing 10), [-10w, +10w] each, price at tick 3, as in
    # tests/markets/test_uniswap_v3.py; the contract's swap with a negative amount is exact output.
    net: dict[int, int] = {}
    for w, liq in zip(widths, liqs):
        net[-10 * w] = net.get(-10 * w, 0) + liq
        net[10 * w] = net.get(10 * w, 0) - liq
    active = sum(liqs[: len(widths)])
    sqrt0 = exact.sqrt_ratio_at_tick(3)
    state = v3.make_state(sqrt0, 3, active, list(net), [str(v) for v in net.values()], fee / 1e6)
    limit = exact.MIN_SQRT_RATIO + 1 if zfo else exact.MAX_SQRT_RATIO - 1
    # Ask for a share of all the pool holds on that side (its output for an unbounded input),
    # so that orders cross 0, 1, ... all the ticks and some ask for more than there is.
    everything = exact.swap_exact(sqrt0, 3, active, net, 10, fee, zfo, 10**40, limit)
    want = max(1_000, int(share * -(everything.amount1 if zfo else everything.amount0)))
    done = exact_output(state, float(want), zfo)
    ref = exact.swap_exact(sqrt0, 3, active, net, 10, fee, zfo, -want, limit)
    got_out = -(ref.amount1 if zfo else ref.amount0)
    if got_out < want:                    # the pool ran dry before delivering: the walk says so
        event("the pool ran dry")
        assert done is None or want - got_out <= 1e-9 * want
        return
    # Within 1e-6 of exactly reaching a tick one rounding unit decides whether it is crossed.
    near = [exact.swap_exact(sqrt0, 3, active, net, 10, fee, zfo, -w, limit).ticks_crossed
            for w in (want - want // 10**6 - 1, want + want // 10**6 + 1)]
    assume(all(n == ref.ticks_crossed for n in near))
    event(f"delivered, {ref.ticks_crossed} ticks crossed")
    sqrt_price, paid = done
    # The contract rounds every step (input and fee up): a few raw units per step.
    units = 5 * (ref.ticks_crossed + 1)
    assert paid == pytest.approx(ref.amount0 if zfo else ref.amount1, rel=1e-8, abs=units)
    assert sqrt_price == pytest.approx(ref.sqrt_price_x96 / 2**96, rel=1e-9)
