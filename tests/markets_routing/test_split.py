"""Optional order splitting: every venue used ends at the same marginal price, and no split does better."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest.markets import uniswap_v3 as v3
from backtest.markets.depth_book import DepthBook
from backtest.markets.router import Router
from backtest.markets.venue_kinds import V2Pool, V3Pool

ETH, USDC = 0, 1
PRICES = np.array([2_000.0, 1.0])
LOG_TICK = math.log(1.0001)
CURVE = dict(impacts=np.array([0.005, 0.01, 0.02, 0.05]), amounts=np.array([100.0, 250.0, 600.0, 2_000.0]))


def twin_pools(split=True):
    return Router(PRICES.copy(), [V2Pool(ETH, USDC, 1_000.0, 2e6, 0.003, name="a"),
                                  V2Pool(ETH, USDC, 1_000.0, 2e6, 0.003, name="b")], split=split)


def one_range_v3(low_price=1_900.0):
    liq = math.sqrt(2e9)            # virtual reserves 1,000 ETH / 2,000,000 USDC at 2,000
    low, high = math.floor(math.log(low_price) / LOG_TICK), math.ceil(math.log(2_100) / LOG_TICK)
    state = v3.PoolState(math.sqrt(2_000.0), math.floor(math.log(2_000) / LOG_TICK), liq,
                         np.array([low, high]), np.array([liq, -liq]), 0.0005)
    return V3Pool(ETH, USDC, state, True, 0, 0, name="v3")


def test_two_identical_pools_share_a_large_sale_half_and_half():
    # 100 ETH into one pool: 99.7 x 2e6 / 1,099.7 = 181,322.18. Half into each:
    # 2 x 49.85 x 2e6 / 1,049.85 = 189,931.90.
    assert twin_pools(split=False).sell_quote(ETH, 100.0) == pytest.approx(181_322.17877603, rel=1e-12)
    r = twin_pools()
    assert r.sell_quote(ETH, 100.0) == pytest.approx(189_931.89503262, rel=1e-9)
    r.sell(ETH, 100.0)
    assert [v.base for v in r.venues] == [pytest.approx(1_050.0, rel=1e-9)] * 2


def test_two_identical_pools_share_a_large_purchase_half_and_half():
    # 100 ETH from one pool: 2e6 x 100 / (900 x 0.997) = 222,890.89; 50 from each:
    # 2 x 2e6 x 50 / (950 x 0.997) = 211,159.80.
    assert twin_pools().buy_quote(ETH, 100.0) == pytest.approx(211_159.7951750, rel=1e-9)


def test_a_sale_the_best_venue_absorbs_at_a_better_margin_is_not_split():
    # A deep cheap pool and a thin dear one: after 1 ETH the deep pool still pays more at the
    # margin (0.9995 x 2e10 / 10,000.9995^2 = 1,998.6) than the thin one does for its first unit
    # (0.997 x 2,000 = 1,994): the whole order stays in one place, exactly as without splitting.
    venues = lambda: [V2Pool(ETH, USDC, 10_000.0, 2e7, 0.0005), V2Pool(ETH, USDC, 100.0, 2e5, 0.003)]
    split, whole = Router(PRICES.copy(), venues(), split=True), Router(PRICES.copy(), venues())
    assert split.sell_quote(ETH, 1.0) == whole.sell_quote(ETH, 1.0)
    split.sell(ETH, 1.0)
    assert (split.venues[1].base, split.venues[1].quote) == (100.0, 2e5)


def test_a_split_sale_ends_every_venue_used_at_the_same_marginal_price():
    r = Router(PRICES.copy(), [V2Pool(ETH, USDC, 1_000.0, 2e6, 0.003), one_range_v3(),
                               DepthBook(ETH, fee=0.001, reference=2_000.0, **CURVE)], split=True)
    route, usd = r._route_sale(ETH, 400.0)
    assert [v for v, _ in route] == [0, 1, 2] and sum(p for _, p in route) == pytest.approx(400.0, rel=1e-12)
    # d(proceeds)/d(amount) at each venue's share, net of fee: all equal (the first-order condition).
    margins = [r.venues[v].sell_marginal(part) for v, part in route]
    np.testing.assert_allclose(margins, margins[0], rtol=1e-9)
    assert usd == pytest.approx(sum(r.venues[v].sell_out(part) for v, part in route), rel=1e-12)
    # (A v2 pool keeps its fee, so after the trade its own spot margin is a little higher than
    # the margin of the trade's last unit; the condition is on the trade, not on spot prices.)
    assert r.sell(ETH, 400.0) == usd


def test_a_v3_range_that_runs_out_takes_what_it_can_and_the_rest_goes_elsewhere():
    # The v3 range ends 5 % below: alone it pays for about 26 ETH of 100 and nothing for the
    # rest; the thin v2 pool alone pays 99.7 x 2e5 / 199.7 = 99,849.77; split beats both.
    pool = one_range_v3()
    thin = V2Pool(ETH, USDC, 100.0, 2e5, 0.003)
    r = Router(PRICES.copy(), [thin, pool], split=True)
    whole = max(pool.sell_out(100.0), thin.sell_out(100.0))
    assert whole == pytest.approx(99.7 * 2e5 / 199.7, rel=1e-12)
    assert r.sell_quote(ETH, 100.0) > whole * 1.05


fractions = st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3)


@settings(max_examples=60, deadline=None)
@given(amount=st.floats(1.0, 3_000.0), weights=fractions, sold=st.floats(-200.0, 200.0))
def test_no_other_split_of_a_sale_or_purchase_does_better(amount, weights, sold):
    def venues():
        return [V2Pool(ETH, USDC, 800.0, 1.6e6, 0.003), one_range_v3(1_500.0),
                DepthBook(ETH, fee=0.001, reference=2_000.0, net_sold=sold, **CURVE)]
    r = Router(PRICES.copy(), venues(), split=True)
    total = sum(weights)
    parts = [amount * w / total for w in weights] if total > 0 else [amount, 0.0, 0.0]
    other_sale = sum(v.sell_out(p) for v, p in zip(venues(), parts) if p > 0)
    other_cost = sum(v.buy_in(p) for v, p in zip(venues(), parts) if p > 0)
    assert r.sell_quote(ETH, amount) >= other_sale * (1 - 1e-9)
    assert r.buy_quote(ETH, amount) <= other_cost * (1 + 1e-9)
    # and never worse than the best single venue
    assert r.sell_quote(ETH, amount) >= Router(PRICES.copy(), venues()).sell_quote(ETH, amount) * (1 - 1e-12)


def test_a_vanishing_split_order_bisects_instead_of_dividing_by_zero():
    # Found by tests/markets_routing/test_quote_ceilings.py: after 320 ETH sold into a v2 pool
    # and a v3 pool (the v3 range runs out), buying 1e-182 ETH split across the two gave equal
    # secant values at both ends of the bracket (0/0 in the Illinois step). The order now fills
    # at the cheaper venue's price, like any other tiny order.
    tick = math.log(1.0001)
    liq = math.sqrt(2e9)
    state = v3.PoolState(math.sqrt(2_000.0), math.floor(math.log(2_000) / tick), liq,
                         np.array([math.floor(math.log(1_500) / tick), math.ceil(math.log(2_600) / tick)]),
                         np.array([liq, -liq]), 0.0)
    r = Router(np.array([2_000.0, 1.0]), [V2Pool(0, 1, 1_000.0, 2e6, 0.0), V3Pool(0, 1, state, True, 0, 0)],
               split=True)
    r.sell(0, 320.0)
    tiny = 1.0657037734190147e-182
    cost = r.buy(0, tiny)
    cheapest = min(r.venues[0].mid(), r.venues[1].buy_in(1e-9) / 1e-9)      # per ETH, for a tiny order
    assert cost == pytest.approx(tiny * cheapest, rel=1e-6)
