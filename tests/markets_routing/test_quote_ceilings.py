"""The linear ceilings the liquidator prunes with: no quote beats amount x first-unit net price.

best_plan (backtest/agents/liquidator.py) skips a try whose ceiling is below a gross already
seen; that is exact only if these hold at every venue kind, after trades moved the venues, with
feedback off and with orders split.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest.agents.liquidator import SLACK
from backtest.markets import uniswap_v3 as v3
from backtest.markets.depth_book import DepthBook
from backtest.markets.router import Router
from backtest.markets.venue_kinds import V2Pool, V3Pool

ETH, USDC = 0, 1
LOG_TICK = math.log(1.0001)
CURVE = dict(impacts=np.array([0.005, 0.01, 0.02, 0.05]), amounts=np.array([100.0, 250.0, 600.0, 2_000.0]))


def v3_pool(fee: float) -> V3Pool:
    # Virtual reserves 1,000 ETH / 2,000,000 USDC on [1,500, 2,600]: runs out beyond the range.
    liq = math.sqrt(2e9)
    low, high = math.floor(math.log(1_500) / LOG_TICK), math.ceil(math.log(2_600) / LOG_TICK)
    state = v3.PoolState(math.sqrt(2_000.0), math.floor(math.log(2_000) / LOG_TICK), liq,
                         np.array([low, high]), np.array([liq, -liq]), fee)
    return V3Pool(ETH, USDC, state, True, 0, 0, name="v3")


def venues(kinds: str, fees) -> list:
    make = {"2": lambda f: V2Pool(ETH, USDC, 1_000.0, 2e6, f), "3": v3_pool,
            "d": lambda f: DepthBook(ETH, fee=f, reference=2_000.0, **CURVE)}
    return [make[k](f) for k, f in zip(kinds, fees)]


def test_a_v2_pool_ceiling_is_its_mid_less_the_fee():
    # 1,000 ETH / 2,000,000 USDC at 0.3 %: first unit sells at 2,000 x 0.997 = 1,994 and buys at
    # 2,000 / 0.997 = 2,006.02; 10 ETH sell for 19,743.16 < 19,940 and cost 20,262.6 > 20,060.2.
    r = Router(np.array([2_000.0, 1.0]), venues("2", [0.003]))
    assert r.sale_ceiling(ETH) == pytest.approx(1_994.0, rel=1e-12)
    assert r.purchase_floor(ETH) == pytest.approx(2_000.0 / 0.997, rel=1e-12)
    assert r.sell_quote(ETH, 10.0) == pytest.approx(19_743.160688, rel=1e-10)
    assert r.sell_quote(ETH, 10.0) < 10 * r.sale_ceiling(ETH)
    assert r.buy_quote(ETH, 10.0) > 10 * r.purchase_floor(ETH)
    # An asset without a venue trades at its market price both ways.
    assert r.sale_ceiling(USDC) == r.purchase_floor(USDC) == 1.0


def test_without_feedback_the_ceiling_is_the_fill_price_itself():
    r = Router(np.array([2_000.0, 1.0]), venues("23d", [0.003, 0.0005, 0.001])).fresh(np.array([2_000.0, 1.0]), False)
    # Every fill is amount x venue price x (1 - fee): the cheapest fee (0.05 %) sets both bounds.
    assert r.sale_ceiling(ETH) == pytest.approx(2_000.0 * 0.9995, rel=1e-12)
    assert r.sell_quote(ETH, 7.0) == pytest.approx(7.0 * r.sale_ceiling(ETH), rel=1e-15)
    assert r.buy_quote(ETH, 7.0) == pytest.approx(7.0 * r.purchase_floor(ETH), rel=1e-15)


@settings(max_examples=150)
@given(kinds=st.sampled_from(["2", "3", "d", "23", "2d", "3d", "23d", "22"]),
       fees=st.lists(st.sampled_from([0.0, 0.0005, 0.003, 0.01]), min_size=3, max_size=3),
       moves=st.lists(st.floats(-400.0, 400.0), max_size=4),
       amount=st.floats(1e-9, 5_000.0), split=st.booleans())
def test_no_quote_beats_its_linear_ceiling(kinds, fees, moves, amount, split):
    r = Router(np.array([2_000.0, 1.0]), venues(kinds, fees), split=split)
    for m in moves:                      # move the venues first: the ceilings follow the state
        r.sell(ETH, m) if m > 0 else r.buy(ETH, -m)
    sale, purchase = r.sell_quote(ETH, amount), r.buy_quote(ETH, amount)
    # The liquidator allows SLACK x (proceeds + cost) for rounding; the fills keep far inside it.
    assert sale <= amount * r.sale_ceiling(ETH) * (1 + SLACK)
    assert purchase >= amount * r.purchase_floor(ETH) * (1 - SLACK)
    # quote_range (the engine's profit bound) brackets every fill, and sits inside mid_range.
    (low, high), (mid_low, mid_high) = r.quote_range(), r.mid_range()
    assert sale <= amount * high[ETH] and purchase >= amount * low[ETH]
    assert high[ETH] <= mid_high[ETH] * (1 + 2 * SLACK) and low[ETH] >= mid_low[ETH] * (1 - 2 * SLACK)


@settings(max_examples=200)
@given(kind=st.sampled_from("23d"), fee=st.sampled_from([0.0, 0.0005, 0.003, 0.01]),
       moves=st.lists(st.tuples(st.booleans(), st.sampled_from([0.0, 0.5, 30.0, 400.0, 5_000.0])), max_size=4),
       held=st.sampled_from([None, 0.0, -0.0, 150.0, -150.0, 3_000.0, math.nan]))
def test_first_marginals_are_the_two_marginals_at_zero(kind, fee, moves, held):
    # Router.ceilings asks every venue a trade moved for both, through first_marginals: the same floats
    venue = venues(kind, [fee])[0]
    for sell, amount in moves:
        (venue.sell if sell else venue.buy)(amount)
    if held is not None and kind == "d":
        venue.net_sold = held                # a book at ±0.0 (copysign), deep in the tail, NaN
    got = np.array(venue.first_marginals()).tobytes()
    assert got == np.array([venue.buy_marginal(0.0), venue.sell_marginal(0.0)]).tobytes()
