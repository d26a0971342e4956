"""The compiled screen prices every try's ceiling as the Python search does, bit for bit, and says
"no plan" only where the Python search (backtest.compiled.ON off) returns None."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest import compiled
from backtest.agents import liquidator, screen
from backtest.agents.liquidator import best_plan
from backtest.agents.round import Round
from backtest.engine.state import BookState
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
    out = np.full((64, 6), np.nan)
    n = screen.ceilings(screen.KIND[rules.terms], hf, coll, debt, price, reserve_asset, lt, params.bonus,
                        params.protocol_fee, params.close_factor, *venues.ceilings()[:2], np.array(sizes),
                        float(debt @ price), out)
    assert n == len(tops)
    assert out[:n, 0].tobytes() == np.array(tops, dtype=float).tobytes()
    assert out[:n, 1:].tobytes() == np.array(tries, dtype=float).reshape(-1, 5).tobytes()


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
    with compiled.python_path():
        want = best_plan(*args)
    assert best_plan(*args) == want
    verdict, _, _ = screen.screen(screen.KIND[rules.terms], hf, coll, debt, price, reserve_asset, lt, params.bonus,
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
                                               np.array([1.0]), 0.0, needed)[0]
    assert ask(40.0) == screen.REJECT and ask(39.0) == screen.PYTHON
    assert ask(math.inf) == screen.PYTHON and ask(-math.inf) == screen.PYTHON       # not finite: Python decides
    assert ask(40.0, np.array([0.0, 0.0, np.nan])) == screen.PYTHON


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), feedback=st.booleans())
def test_the_ceilings_cache_follows_every_trade(seed, feedback):
    from backtest.markets.reference import ReferenceMarket
    rng = np.random.default_rng(seed)
    venues = market(50.0, feedback)
    n = len(PRICES)          # USDC (1) has no venue and quotes every pool: its reference moves them all
    venues.attach(ReferenceMarket(PRICES.copy(), np.full(n, 0.5), np.full(n, 1e7), np.full(n, 0.5), np.full(n, 60.0)))
    before = venues.ceilings()
    assert venues.ceilings() is before                      # nothing moved: the same arrays
    for _ in range(12):
        asset, amount = int(rng.integers(n)), float(rng.lognormal(0, 2)) * [100.0, 2e5, 5.0][0]
        amount = [amount, amount * 2_000, amount / 10][asset]
        (venues.sell if rng.random() < 0.5 else venues.buy)(asset, amount)
        if rng.random() < 0.2:
            venues.arbitrage(12.0, 0.0)
        got = venues.ceilings()
        venues._first = [None] * len(venues.venues)         # every venue asked afresh
        assert got[2] == [float(venues.purchase_floor(a)) for a in range(n)]
        assert got[3] == [float(venues.sale_ceiling(a)) for a in range(n)]
        assert got[0].tolist() == got[2] and got[1].tolist() == got[3]
    if feedback:
        assert venues.ceilings()[3] != before[3]


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 60), holes=st.booleans())
def test_the_compiled_round_bound_is_the_gathered_one_bit_for_bit(seed, k, holes):
    from backtest.engine import replay
    rng = np.random.default_rng(seed)
    n, r = 80, 7
    names = ["aave-v2", "aave-v3", "aave-v3.3", "compound-v2", "morpho-blue"]
    picked = rng.choice(names, rng.integers(1, 4), replace=False)
    cols = [np.sort(rng.choice(r, rng.integers(1, r + 1), replace=False)) for _ in picked]
    group_of = rng.integers(0, len(picked), n)
    groups = [(RULES[name], np.flatnonzero(group_of == g), c) for g, (name, c) in enumerate(zip(picked, cols))]
    coll = rng.lognormal(0, 3, (n, r)) * (rng.random((n, r)) < 0.5)
    debt = rng.lognormal(0, 3, (n, r)) * (rng.random((n, r)) < 0.4)
    price = rng.lognormal(0, 3, r)
    lt = rng.uniform(0, 0.9, r) * (rng.random(r) < 0.8)
    params = Params(rng.uniform(0, 0.15, r), rng.uniform(0, 0.1, r), rng.choice([0.5, 1.0], r))
    if holes:
        price[0], coll[0, 1] = 0.0, np.inf
    venues = market(50.0, True)
    asset_of = rng.integers(0, 3, r)
    below = np.sort(rng.choice(n, k, replace=False))
    hf = rng.uniform(0.5, 1.0, k)
    state = BookState(coll, debt, [groups[g][0] for g in group_of], asset_of)     # read-only views, as the loop's
    args = (below, hf, state, Round(0, 0.0, 0, price, lt, params, 0.0, 12.0), venues, groups, group_of, 7.5)
    with np.errstate(all="ignore"):
        with compiled.python_path():
            want = replay.bounds(*args)
        got = replay.bounds(*args)
    assert got.tobytes() == want.tobytes()
