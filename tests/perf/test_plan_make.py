"""liquidate makes a compiled plan's trades as quoted (quote_compiled.planned, then Router.make: no route
remembered, no slot read): the same cost, proceeds, venues, reference market and sold amounts as the Python path's
best_plan then execute (Router.buy and sell routing afresh), liquidation after liquidation on the same venues. The
draws cover a purchase at the reference market (USDC) or at venues (ETH), a sale whose route the purchase left, one
it lapsed (ETH's venues quoted in USDC, stETH's in ETH: chosen again from the plan's answers) and one of the asset
just bought (routed afresh)."""

import copy
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest import compiled
from backtest.agents.liquidator import best_plan, execute
from backtest.engine.counterfactual import StillRouter
from backtest.markets import quote_compiled
from tests.perf.test_quote_compiled import ETH, LINK, ROW, STETH, USDC, _Book, _plan_bits, _state, bits, router

pytestmark = pytest.mark.skipif(quote_compiled.plan is None or not compiled.ON, reason="numba not installed")

RESERVES = np.array([ETH, USDC, STETH, LINK, ETH])      # two reserves of the same asset
SANE = st.tuples(st.sampled_from([0, 1, 2, 3, 4]), st.sampled_from([0, 1, 2, 3, 4]),     # rows that make a plan
                 st.sampled_from([0.0, 0.4, 3.0, 80.0, 600.0, 1e5]), st.sampled_from([0.0, 0.2, 2.0, 30.0, 900.0]),
                 st.sampled_from([0.0, 0.01]), st.just(None))


def _built(rows) -> np.ndarray:
    built = np.zeros((max(len(rows), 1), 6))
    for k, (d, c, repay, taken, fee_share, top) in enumerate(rows):
        ceiling = (taken - taken * fee_share) * 2_100.0 - repay * 0.9
        built[k] = (ceiling if top is None else top, d, c, repay, taken, taken * fee_share if fee_share != math.inf
                    else math.inf)
    return built


def _markets(r) -> list:
    ref = r.reference
    return [[_state(v) for v in r.venues], r.price.tobytes(), r.venue_price.tobytes(), r.sold.tobytes(),
            *(getattr(ref, name).tobytes() for name in ("permanent", "temporary", "outstanding", "flow"))]


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       rounds=st.lists(st.lists(st.one_of(SANE, SANE, ROW), min_size=1, max_size=4), min_size=1, max_size=5),
       needed=st.sampled_from([-math.inf, -math.inf, 0.0, 50.0, 1e4]), feedback=st.booleans(), still=st.booleans())
def test_a_planned_liquidation_made_is_the_python_paths(seed, rounds, needed, feedback, still):
    fast = router(seed, feedback)
    if still:                                   # the execution-only run's router: its own make (buy and sell)
        fast.__class__ = StillRouter
    slow = copy.deepcopy(fast)
    book = _Book(len(RESERVES), RESERVES)
    for rows in rounds:
        built = _built(rows)
        with compiled.python_path():
            try:
                want = best_plan(None, None, 0.9, None, slow, RESERVES, None, None, None, 0.0, (1.0,), needed,
                                 (len(rows), built))
            except ValueError:                  # a NaN sale at a v3 pool: liquidate's Python path raises it too
                return
        got = quote_compiled.planned(fast, built, len(rows), RESERVES, needed)
        if got is None:                         # liquidate asks the Python path (a NaN amount)
            return
        plan, kept = got
        if want is None:
            assert plan[0] == quote_compiled.NONE
            continue
        assert plan[0] == quote_compiled.PLAN
        assert _plan_bits((*plan[3:8], *plan[1:3])) == _plan_bits(want[:7])
        if not (math.isfinite(want[2]) and math.isfinite(want[3] - want[4])):
            return
        made = fast.make(*plan[8:], kept)
        with compiled.python_path():
            assert tuple(map(bits, execute(want, 0, book, slow))) == tuple(map(bits, made))
        assert _markets(fast) == _markets(slow)
