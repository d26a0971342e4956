"""The liquidator's pruned search picks the plan the full search picks, and its numba profit
bound is the numpy arithmetic bit for bit."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest import compiled
from backtest.agents import liquidator
from backtest.agents.liquidator import Plan, best_plan
from backtest.protocols.rules import RULES, Params
from backtest.markets import quote_compiled, uniswap_v3 as v3
from backtest.markets.router import Router
from backtest.markets.depth_book import DepthBook
from backtest.markets.venue_kinds import V2Pool, V3Pool

# Price assets: 0 LINK, 1 USDC (no venue: trades at its price), 2 WETH.
PRICES = np.array([15.0, 1.0, 2_000.0])
CURVE = dict(impacts=np.array([0.005, 0.01, 0.02, 0.05]), amounts=np.array([100.0, 250.0, 600.0, 2_000.0]))
PROTOCOLS = [p for p in ("aave-v2", "aave-v3", "aave-v3.3", "compound-v2") if p in RULES]


def market(depth: float, feedback: bool) -> Router:
    liq = math.sqrt(depth * depth * 2_000.0)             # v3 virtual reserves `depth` WETH on a wide range
    low, high = math.floor(math.log(1_000) / math.log(1.0001)), math.ceil(math.log(4_000) / math.log(1.0001))
    state = v3.PoolState(math.sqrt(2_000.0), math.floor(math.log(2_000) / math.log(1.0001)), liq,
                         np.array([low, high]), np.array([liq, -liq]), 0.0005)
    pools = [V2Pool(0, 1, depth * 100, depth * 1_500, 0.003), V2Pool(2, 1, depth, depth * 2_000, 0.003),
             V3Pool(2, 1, state, True, 0, 0), DepthBook(2, fee=0.001, reference=2_000.0, **CURVE)]
    return Router(PRICES.copy(), pools).fresh(PRICES, feedback)


def full_search(coll, debt, hf, price, venues, reserve_asset, lt, params, rules, sizes):
    """best_plan before pruning: every try quoted, a later one wins only if strictly better."""
    best = None
    for d in np.flatnonzero(debt > 0).tolist():
        for c in np.flatnonzero((coll > 0) & (lt > 0)).tolist():
            for size in sizes:
                repay, taken, fee = rules.terms(hf, d, c, coll, debt, price, params, size)
                if repay <= 0:
                    continue
                cost = venues.buy_quote(reserve_asset[d], repay)
                proceeds = venues.sell_quote(reserve_asset[c], taken - fee)
                if best is None or proceeds - cost > best[0]:
                    best = (proceeds - cost, d, c, repay, taken, fee, cost, proceeds)
    return None if best is None else Plan(best[1], best[2], *best[3:], 0.0)


@settings(max_examples=300)
@given(seed=st.integers(0, 2**32 - 1), protocol=st.sampled_from(PROTOCOLS), feedback=st.booleans(),
       depth=st.sampled_from([5.0, 50.0, 5_000.0]), needed=st.sampled_from([-math.inf, 0.0, 50.0, 1e4]))
def test_the_pruned_search_returns_the_full_searchs_plan(seed, protocol, feedback, depth, needed):
    rng = np.random.default_rng(seed)
    # Reserves: LINK, USDC, WETH, WETH again (a second protocol's reserve of the same asset).
    reserve_asset = np.array([0, 1, 2, 2])
    price = PRICES[reserve_asset] * rng.uniform(0.9, 1.1, 4)      # oracle off the venues by up to 10 %
    coll = rng.choice([0.0, 1.0], 4) * rng.lognormal(0, 2, 4) * 1e3 / price
    debt = rng.choice([0.0, 0.0, 1.0], 4) * rng.lognormal(0, 2, 4) * 1e3 / price
    debt[rng.integers(4)] += rng.lognormal(0, 2) * 500 / price[1]
    lt = rng.choice([0.0, 0.7, 0.8], 4)
    params = Params(rng.uniform(0.0, 0.12, 4), rng.choice([0.0, 0.1], 4), rng.choice([0.5, 1.0], 4))
    venues = market(depth, feedback)
    for asset, amount in ((0, rng.uniform(0, 30) * depth), (2, rng.uniform(-0.3, 0.3) * depth)):
        venues.sell(asset, amount) if amount > 0 else venues.buy(asset, -amount)   # venues off their mid
    hf, sizes, rules = rng.uniform(0.5, 1.0), (1.0, 0.5, 0.25, 0.1), RULES[protocol]
    want = full_search(coll, debt, hf, price, venues, reserve_asset, lt, params, rules, sizes)
    got = best_plan(coll, debt, hf, price, venues, reserve_asset, lt, params, rules, 0.0, sizes, needed)
    if got is None and want is not None:                # allowed only if nobody could take it anyway
        assert want.proceeds_usd - want.cost_usd < needed
    else:
        assert got == want
    if want is None or want.proceeds_usd - want.cost_usd >= needed:
        assert got == want


def test_a_plan_nobody_can_afford_is_not_quoted(monkeypatch):
    # 1 WETH (LT 0.8) against 1,700 USDC at WETH 2,000: aave-v3 repays 850 USDC (close factor 0.5)
    # for 850 / 2,000 x 1.05 = 0.44625 WETH. Its ceiling: 0.44625 x 0.997 x 2,000 (v2 mid less fee)
    # - 850 = 39.82 USD. With 40 USD of gas needed, no quote is asked.
    venues = Router(PRICES.copy(), [V2Pool(2, 1, 1e6, 2e9, 0.003)])
    asked = []
    monkeypatch.setattr(venues, "sell_quote", lambda *a: asked.append(a) or 0.0)
    coll, debt = np.array([0.0, 0.0, 1.0]), np.array([0.0, 1_700.0, 0.0])
    params = Params(np.full(3, 0.05), np.zeros(3), np.full(3, 0.5))
    args = (coll, debt, 0.99, PRICES, venues, np.arange(3), np.array([0.0, 0.0, 0.8]), params, RULES["aave-v3"], 0.0,
            (1.0,))
    with compiled.python_path():                        # the Python path asks the router per try
        assert best_plan(*args, needed=40.0) is None and asked == []
        assert best_plan(*args, needed=39.0) is not None and len(asked) == 1
    if compiled.ON:                                     # the compiled one prices all its tries in one call
        calls = []
        kernel = quote_compiled.plan
        monkeypatch.setattr(quote_compiled, "plan", lambda *a: calls.append(a) or kernel(*a))
        assert best_plan(*args, needed=40.0) is None and calls == []
        assert best_plan(*args, needed=39.0) is not None and len(calls) == 1 and len(asked) == 1


@pytest.mark.skipif(liquidator._bound_rows is None, reason="numba not installed")
@settings(max_examples=100)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 40), r=st.integers(1, 8), holes=st.booleans())
def test_the_compiled_profit_bound_is_the_numpy_one_bit_for_bit(seed, k, r, holes):
    rng = np.random.default_rng(seed)
    coll = rng.lognormal(0, 3, (k, r)) * (rng.random((k, r)) < 0.5)
    debt = rng.lognormal(0, 3, (k, r)) * (rng.random((k, r)) < 0.4)
    oracle, sell, buy = (rng.lognormal(0, 3, r) for _ in range(3))
    lt, bonus = rng.uniform(0, 0.9, r) * (rng.random(r) < 0.8), rng.uniform(0, 0.15, r)
    if holes:                                  # a zero price, an infinite one, a NaN
        oracle[0], sell[-1], buy[rng.integers(r)] = 0.0, np.inf, np.nan
    args = (coll, debt, debt * rng.uniform(0, 1, (k, r)), oracle, sell, buy, lt, bonus, 12.5)
    with np.errstate(all="ignore"):
        want = liquidator.profit_upper_bound_numpy(*args)
    got = liquidator.profit_upper_bound(*args)
    assert np.array_equal(got, want, equal_nan=True)
    assert got.tobytes() == want.tobytes() or np.isnan(want).any()
