"""Uniswap v3 float tick walk: single-range maths, tick crossing, fee, limits, lake input."""

import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import assume, given, settings, strategies as st

from backtest.errors import InputError
from backtest.markets import uniswap_v3 as v3

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"
Q96 = 2**96


def two_positions(fee=0.0):
    # Position A: L = 1e6 on [-100, 100]; position B: L = 1e6 on [-1000, 1000]; price 1 (tick 0).
    return v3.make_state(Q96, 0, 2 * 10**6, [-1000, -100, 100, 1000],
                         ["1000000", "1000000", "-1000000", "-1000000"], fee)


def test_inside_one_range_it_is_constant_product_on_virtual_reserves():
    # L = 2e6 at price 1: virtual reserves x = y = 2e6. Selling 1,000 token0 without fee:
    # out = 2e6 x 1000 / (2e6 + 1000) = 999.50025 (x*y=k), and sqrtP' = 2e6 / 2,001,000.
    out, new = v3.swap_exact_in(two_positions(), 1_000.0, zero_for_one=True)
    assert out == pytest.approx(2e6 * 1000 / 2_001_000, rel=1e-12)
    assert new.sqrt_price == pytest.approx(2e6 / 2_001_000, rel=1e-12)
    assert new.liquidity == 2e6 and new.tick == math.floor(2 * math.log(2e6 / 2_001_000) / math.log(1.0001))


def test_crossing_a_tick_applies_its_liquidity_net():
    state = two_positions()
    # To tick -100: sqrtP_a = 1.0001^-50; token0 needed = 2e6 (1/sqrtP_a - 1) = 2e6 (1.0001^50 - 1)
    # = 10,024.51...; token1 out = 2e6 (1 - 1.0001^-50) = 9,974.58...
    sa = 1.0001 ** -50
    first_in, first_out = 2e6 * (1 / sa - 1), 2e6 * (1 - sa)
    # Then 5,000 more token0 with L = 1e6 (A's liquidity left at -100):
    # sqrtP' = 1e6 sa / (1e6 + 5000 sa), out = 1e6 (sa - sqrtP').
    s2 = 1e6 * sa / (1e6 + 5_000 * sa)
    res = v3.swap(state, first_in + 5_000.0, zero_for_one=True)
    assert res.ticks_crossed == 1 and res.state.liquidity == 1e6
    assert res.amount_out == pytest.approx(first_out + 1e6 * (sa - s2), rel=1e-12)
    assert -1000 < res.state.tick < -100


def test_fee_comes_off_the_input():
    # 0.3 % fee inside one range: same as selling 997 of the 1,000 without fee.
    out_fee, _ = v3.swap_exact_in(two_positions(0.003), 1_000.0, True)
    out_net, _ = v3.swap_exact_in(two_positions(0.0), 997.0, True)
    assert out_fee == pytest.approx(out_net, rel=1e-12)


def test_walking_off_the_last_tick_stops_and_reports_input_used():
    # Selling a huge amount of token1 pushes the price past tick 1000, where no liquidity is left.
    res = v3.swap(two_positions(), 1e12, zero_for_one=False)
    # All liquidity used up: token0 out = L x (1/sqrtP - 1/sqrtP_upper) summed over ranges,
    # = 1e6 (1 - 1.0001^-50) + 1e6 (1 - 1.0001^-500); input used is far below 1e12.
    expected = 1e6 * (1 - 1.0001 ** -50) + 1e6 * (1 - 1.0001 ** -500)
    assert res.amount_out == pytest.approx(expected, rel=1e-12)
    assert res.amount_in_used < 1e12 and res.state.liquidity == 0 and res.ticks_crossed == 2


def test_price_limit_with_infinite_budget_gives_the_amount_to_move_the_price():
    # Amount of token1 that moves sqrtP from 1 to 1.001 inside A+B's range: L (1.001 - 1) = 2,000.
    res = v3.swap(two_positions(), math.inf, zero_for_one=False, sqrt_price_limit=1.001)
    assert res.amount_in_used == pytest.approx(2_000.0, rel=1e-9)
    assert res.state.sqrt_price == 1.001


def test_bad_tick_tables_are_input_errors():
    with pytest.raises(InputError, match="not an integer"):
        v3.make_state("0x12zz", 0, 10, [], [], 0.003)
    # integers given as floats or text both load (liquidity_net 1e6 written as a float)
    assert v3.make_state(Q96, 0, "10", [1], [1e6], 0.003).liquidity_net.tolist() == [1e6]
    with pytest.raises(InputError, match="duplicate"):
        v3.make_state(Q96, 0, 10, [5, 5], ["1", "2"], 0.003)
    # A table missing the upper tick of the active position: liquidity goes negative.
    broken = v3.make_state(Q96, 0, 10**6, [-100, 100], ["1000000", "-5000000"], 0.0)
    with pytest.raises(InputError, match="negative"):
        v3.swap(broken, 1e9, zero_for_one=False)


def test_state_from_lake_picks_the_latest_snapshot_at_or_before_the_block():
    pools = pd.DataFrame({"pool": ["p", "p"], "block_number": [10, 20], "fee": [0.0005, 0.0005],
                          "sqrt_price_x96": [str(Q96), str(2 * Q96)], "tick": [0, 13863],
                          "liquidity": ["1000", "2000"]})
    ticks = pd.DataFrame({"pool": ["p"] * 3, "block_number": [10, 10, 20], "tick": [-60, 60, 0],
                          "liquidity_net": ["1000", "-1000", "7"]})
    s = v3.state_from_lake(pools, ticks, "p", 15)
    assert (s.sqrt_price, s.liquidity, s.ticks.tolist(), s.fee) == (1.0, 1000.0, [-60, 60], 0.0005)
    assert v3.state_from_lake(pools, ticks, "p", 25).ticks.tolist() == [0]
    with pytest.raises(InputError, match="no state"):
        v3.state_from_lake(pools, ticks, "p", 5)


exact = pytest.importorskip("backtest.markets.uniswap_v3_math")


@settings(max_examples=150, deadline=None)
@given(amount=st.integers(10**3, 10**24), zfo=st.booleans(), fee=st.sampled_from([100, 500, 3000, 10000]),
       widths=st.lists(st.integers(1, 40), min_size=1, max_size=5),
       liqs=st.lists(st.integers(10**15, 10**22), min_size=5, max_size=5))
def test_float_walk_agrees_with_exact_integer_swap(amount, zfo, fee, widths, liqs):
    # Nested positions centred on tick 0 (spacing 10), each [-10w, +10w] with its own L.
    net: dict[int, int] = {}
    for w, liq in zip(widths, liqs):
        net[-10 * w] = net.get(-10 * w, 0) + liq
        net[10 * w] = net.get(10 * w, 0) - liq
    active = sum(liqs[: len(widths)])
    sqrt0 = exact.sqrt_ratio_at_tick(3)
    limit = exact.MIN_SQRT_RATIO + 1 if zfo else exact.MAX_SQRT_RATIO - 1
    ref = exact.swap_exact(sqrt0, 3, active, net, 10, fee, zfo, amount, limit)
    # Skip amounts within 1e-6 of exactly reaching a tick: there one rounding unit decides
    # whether the tick is crossed, in the contract as in float.
    near = [exact.swap_exact(sqrt0, 3, active, net, 10, fee, zfo, a, limit)
            for a in (amount - amount // 10**6 - 1, amount + amount // 10**6 + 1)]
    assume(all(r.ticks_crossed == ref.ticks_crossed for r in near))
    assume(all((r.amount0 if zfo else r.amount1) > (ref.amount0 if zfo else ref.amount1) for r in near[1:]))
    state = v3.make_state(sqrt0, 3, active, list(net), [str(v) for v in net.values()], fee / 1e6)
    res = v3.swap(state, float(amount), zfo)
    out_exact = -(ref.amount1 if zfo else ref.amount0)
    used_exact = ref.amount0 if zfo else ref.amount1
    # The contract rounds every step (fee up, output down): a few raw units per step.
    units = 5 * (ref.ticks_crossed + 1)
    assert res.amount_out == pytest.approx(out_exact, rel=1e-8, abs=units)
    assert res.amount_in_used == pytest.approx(used_exact, rel=1e-8, abs=units)
    assert res.ticks_crossed == ref.ticks_crossed
    assert res.state.liquidity == pytest.approx(ref.liquidity, rel=1e-9, abs=1)


def test_real_usdc_usdt_pool_tick_at_the_depeg_low():
    # Hourly USDC/USDT 0.01 % pool state: tick -1363 at 2023-03-11 08:00 UTC (MANIFEST.md).
    path = REAL / "uniswap_v3_usdc_usdt_pool_state_quantlet" / "hourly_pool_state_full.parquet"
    if not path.exists():
        pytest.skip("real data not present")
    df = pd.read_parquet(path)
    row = df.loc[df["poolTick"].idxmin()]
    assert int(row["poolTick"]) == -1363
    state = v3.make_state(int(v3.sqrt_price_at_tick(-1363) * Q96), -1363, int(row["poolLiquidity"]),
                          [], [], 0.0001)
    # 1.0001^-1363 = 0.87260 USDT per USDC (both 6 decimals).
    assert v3.price(state, 6, 6) == pytest.approx(0.8726, abs=5e-5)
    # Within the active range the pool's own liquidity sets the depth: moving sqrtP up by 0.1 %
    # takes L x 0.001 x sqrtP of USDT (raw) net of the 0.01 % fee, so / 0.9999 gross.
    res = v3.swap(state, math.inf, False, sqrt_price_limit=state.sqrt_price * 1.001)
    # (no initialised ticks were loaded, so liquidity is constant up to the limit)
    assert res.amount_in_used == pytest.approx(
        float(row["poolLiquidity"]) * 0.001 * state.sqrt_price / 0.9999, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(amount=st.floats(1.0, 1e7), zfo=st.booleans(), fee=st.sampled_from([0.0, 0.0005, 0.003]))
def test_round_trip_never_makes_money(amount, zfo, fee):
    # Sell, then sell the proceeds back: with a fee you end with less; without one you get back
    # exactly what the pool took (less than `amount` if it ran out of liquidity), at the same price.
    state = two_positions(fee)
    first = v3.swap(state, amount, zfo)
    back = v3.swap(first.state, first.amount_out, not zfo)
    assert back.amount_out <= first.amount_in_used * (1 + 1e-9)
    if fee == 0.0:
        assert back.amount_out == pytest.approx(first.amount_in_used, rel=1e-9)
        assert back.state.sqrt_price == pytest.approx(state.sqrt_price, rel=1e-9)
        assert back.state.liquidity == state.liquidity


def test_a_moved_state_is_replaces():
    """PoolState.moved (a trade's new state, built without the frozen __init__) is dataclasses.replace's: the same
    fields in the same order, equal, pickled alike, frozen, the ticks and fee shared, the old state untouched."""
    import dataclasses
    import pickle
    old = v3.make_state(2**96, 0, 10**18, [-60, 60], [10**18, -10**18], 0.003)
    got = old.moved(0.99, -3, 5e17)
    want = dataclasses.replace(old, sqrt_price=0.99, tick=-3, liquidity=5e17)
    assert type(got) is v3.PoolState and got is not old
    assert list(vars(got).items()) == list(vars(want).items())
    assert pickle.dumps(got) == pickle.dumps(want)
    assert got.ticks is old.ticks and got.liquidity_net is old.liquidity_net and got.fee == old.fee
    assert (old.sqrt_price, old.tick, old.liquidity) == (1.0, 0, 1e18)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.tick = 1
