"""The meeting price's v3 walk (v3_compiled.walk_amounts: what the bisection asks of a v3 pool ~50 times a
block) answers v3_compiled.swap_walk's amounts bit for bit, on a pool's row among others in meet_compiled's joined
table, either way across ticks, past the last initialised tick, and where a tick table breaks (both share the
step, v3_compiled._step; tests/perf/test_compiled_swap.py holds swap_walk to uniswap_v3.swap's Python)."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from backtest.markets import meet_compiled, v3_compiled
from backtest.markets.depth_book import USD, DepthBook
from backtest.markets.uniswap_v3 import PoolState
from backtest.markets.venue_kinds import V2Pool
from tests.markets_routing.test_arbitrage_meeting import mixed, v3_pool

pytestmark = pytest.mark.skipif(meet_compiled.meet is None, reason="numba not installed")


@settings(max_examples=200, deadline=None)
@given(depth=st.floats(1e2, 1e5), fee=st.sampled_from([0.0001, 0.0005, 0.003]), token0=st.booleans(),
       decimals=st.sampled_from([(0, 0), (18, 6), (8, 18)]), move=st.floats(-0.3, 0.3),
       rel=st.one_of(st.floats(0.2, 5.0), st.sampled_from([1.0, 0.997, 1.003, 1e-3, 1e3])),
       broken=st.sampled_from([None, 0, 3, 7]))
@example(depth=1e3, fee=0.0005, token0=False, decimals=(18, 6), move=-0.2, rel=1.35, broken=None)
@example(depth=1e3, fee=0.0005, token0=True, decimals=(18, 6), move=0.1, rel=0.5, broken=3)
def test_the_walk_to_a_price_is_swap_walks_amounts(depth, fee, token0, decimals, move, rel, broken):
    pool = v3_pool(depth, fee, USD, 2_000.0, token0, decimals)
    pool.sell(move * depth) if move > 0 else pool.buy(-move * depth) if move < 0 else None
    s = pool.state
    if broken is not None:                      # one tick's net 50x: crossing it takes liquidity below zero
        nets = s.liquidity_net.copy()
        nets[broken] *= 50.0
        pool.state = s = PoolState(s.sqrt_price, s.tick, s.liquidity, s.ticks, nets, s.fee)
    others = mixed([("3", 5e2, 0.003, 0.1), ("d", 1e3, 0.001, 0.0)], USD, 1.0, True, (18, 6))
    venues = [V2Pool(0, USD, 10.0, 20_000.0, 0.003), *others, pool]        # its ticks and tables after another's
    table = meet_compiled.table(venues, [v.mid() for v in venues], [1.0] * len(venues))
    limit = s.sqrt_price * math.sqrt(rel)
    zfo = limit < s.sqrt_price
    want = v3_compiled.swap_walk(s.sqrt_price, s.tick, s.liquidity, s.ticks, s.liquidity_net,
                                 v3_compiled.tick_sqrt_prices(s.ticks), s.fee, math.inf, zfo, limit)
    row = table.rows[len(venues) - 1]
    got = v3_compiled.walk_amounts(row[4], int(row[5]), row[6], row[7], table.ticks, int(row[11]), int(row[12]),
                                   table.tables, int(row[13]), zfo, limit)
    assert got[2] == want[8]
    if not got[2]:
        assert np.array(got[:2]).tobytes() == np.array([want[0], want[1]]).tobytes()


def test_a_book_and_pools_meet_as_before_on_the_joined_table():
    """`_flow` over a table whose second v3 pool's ticks start after the first's (offsets, not slices) equals the
    venues' own pulls (a book, a v2 pool) and the v3 pools' whole walks (`_v3_pull`, swap_walk)."""
    venues = mixed([("3", 5e2, 0.003, 0.1), ("2", 300.0, 0.003, 0.05), ("d", 1e3, 0.001, 0.1),
                    ("3", 1e3, 0.0005, -0.2)], USD, 1.0, False, (18, 6))
    table = meet_compiled.table(venues, [v.mid() for v in venues], [1.0] * len(venues))
    for p in (1_500.0, 1_990.0, 2_000.0, 2_050.0, 2_600.0):
        want = 0.0
        for k, v in enumerate(venues):
            goal, trades = meet_compiled._goal(table.rows, k, p)
            if not trades:
                continue
            if isinstance(v, (V2Pool, DepthBook)):
                want += v.pulled(goal, p)[0] * 1.0
            else:
                moved, token0, token1, _, _, _, bad = meet_compiled._v3_pull(table.rows, k, table.ticks, table.tables,
                                                                             goal)
                want += ((token0 if table.rows[k, 9] != 0.0 else token1) / table.rows[k, 10] if moved else 0.0) * 1.0
        assert meet_compiled._flow(table.rows, table.ticks, table.tables, p, 1.0) == (want, True)
