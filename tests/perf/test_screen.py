"""The compiled screen prices every try's ceiling as the Python search does, bit for bit, and says
"no plan" only where the Python search (liquidator.COMPILED off) returns None."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest.agents import liquidator, screen
from backtest.agents.liquidator import best_plan
from backtest.protocols.rules import RULES, Params
from tests.perf.test_best_plan import PRICES, market

pytestmark = pytest.mark.skipif(screen.screen is None, reason="numba not installed")
PROTOCOLS = ["aave-v2", "aave-v3", "aave-v3.3", "compound-v2", "morpho-blue"]


def account(seed: int, rich: bool):
    """Four reserves (LINK, USDC, WETH, WETH again), positions from dust to $10M (Aave v3.3's $2,000
    close-factor and $1,000 leftover rules on both sides of their lines)."""
    rng = np.random.default_rng(seed)
    reserve_asset = np.array([0, 1, 2, 2])
    price = PRICES[reserve_asset] * rng.uniform(0.9, 1.1, 4)
    scale = 10.0 ** rng.uniform(0, 7 if rich else 3, 4)
    coll = rng.choice([0.0, 1.0], 4) * scale / price
    debt = rng.choice([0.0, 0.0, 1.0], 4) * 10.0 ** rng.uniform(0, 7 if rich else 3, 4) / price
    debt[rng.integers(4)] += scale[0] * rng.uniform(0.3, 1.2) / price[1]
    lt = rng.choice([0.0, 0.7, 0.8], 4)
    params = Params(rng.uniform(0.0, 0.15, 4), rng.choice([0.0, 0.1], 4), rng.choice([0.5, 1.0], 4))
    return rng, reserve_asset, price, coll, debt, lt, params


@settings(max_examples=400, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), protocol=st.sampled_from(PROTOCOLS), feedback=st.booleans(),
       depth=st.sampled_from([5.0, 50.0, 5_000.0]), rich=st.booleans())
def test_every_ceiling_is_the_python_one_bit_for_bit(seed, protocol, feedback, depth, rich):
    rng, reserve_asset, price, coll, debt, lt, params = account(seed, rich)
    venues = market(depth, feedback)
    venues.sell(2, rng.uniform(0, 0.3) * depth)
    rules, sizes = RULES[protocol], (1.0, 0.5, 0.25, 0.1)
    hf = float(rng.choice([rng.uniform(0.5, 0.95), rng.uniform(0.95, 1.0)]))
    tries, tops = liquidator._tries(coll, debt, hf, price, venues, reserve_asset, lt, params, rules, sizes)
    out = np.full(64, np.nan)
    n = screen.ceilings(screen.KIND[rules.terms], hf, coll, debt, price, reserve_asset, lt, params.bonus,
                        params.protocol_fee, params.close_factor, *venues.ceilings()[:2], np.array(sizes),
                        float(debt @ price), out)
    assert n == len(tops)
    assert out[:n].tobytes() == np.array(tops, dtype=float).tobytes()


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), protocol=st.sampled_from(PROTOCOLS), feedback=st.booleans(),
       depth=st.sampled_from([5.0, 50.0, 5_000.0]), rich=st.booleans(),
       needed=st.sampled_from([-math.inf, 0.0, 5.0, 50.0, 1e3, 1e5, math.inf]))
def test_the_compiled_path_returns_the_python_paths_plan(seed, protocol, feedback, depth, rich, needed):
    rng, reserve_asset, price, coll, debt, lt, params = account(seed, rich)
    venues = market(depth, feedback)
    venues.sell(0, rng.uniform(0, 30) * depth)
    hf, rules, sizes = rng.uniform(0.5, 1.0), RULES[protocol], (1.0, 0.5, 0.25, 0.1)
    args = (coll, debt, hf, price, venues, reserve_asset, lt, params, rules, 0.0, sizes, needed)
    try:
        liquidator.COMPILED = False
        want = best_plan(*args)
    finally:
        liquidator.COMPILED = True
    assert best_plan(*args) == want
    verdict = screen.screen(screen.KIND[rules.terms], hf, coll, debt, price, reserve_asset, lt, params.bonus,
                            params.protocol_fee, params.close_factor, *venues.ceilings()[:2], np.array(sizes),
                            float(debt @ price), needed)
    if verdict == screen.REJECT:                    # a "no" is always the Python search's None
        assert want is None


def test_the_screen_rejects_what_nobody_can_afford_and_hands_on_the_rest():
    # The case of test_best_plan: 39.82 USD of ceiling, so 40 needed is a no and 39 goes to Python.
    from backtest.markets.router import Router
    from backtest.markets.venue_kinds import V2Pool
    venues = Router(PRICES.copy(), [V2Pool(2, 1, 1e6, 2e9, 0.003)])
    coll, debt, lt = np.array([0.0, 0.0, 1.0]), np.array([0.0, 1_700.0, 0.0]), np.array([0.0, 0.0, 0.8])
    params = Params(np.full(3, 0.05), np.zeros(3), np.full(3, 0.5))
    ask = lambda needed, c=coll: screen.screen(0, 0.99, c, debt, PRICES, np.arange(3), lt, params.bonus,  # noqa: E731
                                               params.protocol_fee, params.close_factor, *venues.ceilings()[:2],
                                               np.array([1.0]), 0.0, needed)
    assert ask(40.0) == screen.REJECT and ask(39.0) == screen.PYTHON
    assert ask(math.inf) == screen.PYTHON and ask(-math.inf) == screen.PYTHON       # not finite: Python decides
    assert ask(40.0, np.array([0.0, 0.0, np.nan])) == screen.PYTHON


def test_the_ceilings_cache_follows_every_trade():
    venues = market(50.0, True)
    before = venues.ceilings()
    assert venues.ceilings() is before                      # nothing moved: the same arrays
    venues.sell(0, 500.0)                                   # LINK: one v2 pool
    after = venues.ceilings()
    assert after is not before and after[1][0] < before[1][0]
    assert after[1].tolist() == [venues.sale_ceiling(a) for a in range(3)]
    assert after[0].tolist() == [venues.purchase_floor(a) for a in range(3)]
