"""Between steps every venue is pulled back to the exogenous path; with feedback off nothing moves.
And with one v2 pool per asset the router is today's Venues, bit for bit."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest.markets.router import Router
from backtest.markets.venue_kinds import DepthBook, V2Pool, V3Pool
from tests.markets_routing.reference_venues import Venues
from backtest.markets import uniswap_v3 as v3

ETH, USDC, WBTC = 0, 1, 2
LOG_TICK = math.log(1.0001)
CURVE = dict(impacts=np.array([0.005, 0.01, 0.02, 0.05]), amounts=np.array([100.0, 250.0, 600.0, 2_000.0]))


def v3_pool(fee=0.003):
    # Same virtual reserves as a 1,000 ETH / 2,000,000 USDC pool, on [1,500, 2,600].
    liq = math.sqrt(2e9)
    low, high = math.floor(math.log(1_500) / LOG_TICK), math.ceil(math.log(2_600) / LOG_TICK)
    state = v3.PoolState(math.sqrt(2_000.0), math.floor(math.log(2_000) / LOG_TICK), liq,
                         np.array([low, high]), np.array([liq, -liq]), fee)
    return V3Pool(ETH, USDC, state, True, 0, 0, name="v3")


def three_kinds():
    return Router(np.array([2_000.0, 1.0]), [V2Pool(ETH, USDC, 1_000.0, 2e6, 0.003, name="v2"), v3_pool(),
                                              DepthBook(ETH, fee=0.001, reference=2_000.0, name="cex", **CURVE)])


def test_arbitrage_halves_every_venues_log_gap_per_half_life():
    r = three_kinds()
    for v in r.venues:
        v.sell(50.0)                      # each venue pushed down by its own amount
        r._reprice(r.venues.index(v))
    before = r.venue_price.copy()
    assert (before < 2_000.0).all()
    # The exogenous price falls 10 % meanwhile; one half-life later each venue sits at
    # 1,800 x exp(gap / 2), gap = log(venue price / 2,000).
    r.arbitrage(np.array([2_000.0, 1.0]), np.array([1_800.0, 1.0]), dt=1_800.0, half_life=1_800.0)
    expected = 1_800.0 * np.exp(np.log(before / 2_000.0) / 2)
    np.testing.assert_allclose(r.venue_price, expected, rtol=1e-12)
    # ... and each venue's own state agrees with the price it is said to have.
    np.testing.assert_allclose([v.mid() for v in r.venues], expected, rtol=1e-9)
    assert r.price[ETH] == pytest.approx(float(np.dot(r.weights, expected)), rel=1e-12)


def test_the_depth_books_consumed_depth_refills_so_its_gap_decays_the_same_way():
    book = DepthBook(ETH, fee=0.0, reference=2_000.0, **CURVE)
    r = Router(np.array([2_000.0, 1.0]), [book])
    r.sell(ETH, 100.0)                    # bids to -0.5 % eaten: price 1,990
    r.arbitrage(np.array([2_000.0, 1.0]), np.array([2_000.0, 1.0]), dt=600.0, half_life=600.0)
    # Gap log(0.995) halves: price 2,000 x sqrt(0.995) = 1,994.99, i.e. impact 1 - sqrt(0.995)
    # = 0.2503 %, which is 50.06 ETH of the first 100 still consumed.
    assert r.price[ETH] == pytest.approx(2_000.0 * math.sqrt(0.995), rel=1e-12)
    assert book.net_sold == pytest.approx((1 - math.sqrt(0.995)) / 0.005 * 100.0, rel=1e-9)


def test_a_zero_half_life_closes_every_gap_at_once():
    r = three_kinds()
    r.sell(ETH, 300.0)
    r.arbitrage(np.array([2_000.0, 1.0]), np.array([2_100.0, 1.0]), dt=60.0, half_life=0.0)
    np.testing.assert_allclose([v.mid() for v in r.venues], 2_100.0, rtol=1e-9)
    assert r.price[ETH] == pytest.approx(2_100.0, rel=1e-12) and r.sold[ETH] == 0.0


def test_without_feedback_fills_are_at_mid_less_fee_and_no_venue_moves():
    r = three_kinds()
    r.feedback = False
    states = [(v.base, v.quote) if isinstance(v, V2Pool) else v.state if isinstance(v, V3Pool) else v.net_sold
              for v in r.venues]
    # The cheapest fee wins: the depth book's 0.1 %: 500 ETH fetch 500 x 2,000 x 0.999 = 999,000
    # (with feedback the same sale would fetch less than 990,000 anywhere).
    assert r.sell(ETH, 500.0) == pytest.approx(999_000.0, rel=1e-12)
    # Buying: 2,000 / 0.999 per ETH.
    assert r.buy(ETH, 10.0) == pytest.approx(20_000.0 / 0.999, rel=1e-12)
    after = [(v.base, v.quote) if isinstance(v, V2Pool) else v.state if isinstance(v, V3Pool) else v.net_sold
             for v in r.venues]
    assert after == states and r.price[ETH] == 2_000.0 and r.sold[ETH] == 500.0
    assert three_kinds().sell_quote(ETH, 500.0) < 990_000.0


def test_a_pool_quoted_in_weth_moves_with_weths_market_price():
    # WETH/USDC 1,000 / 2,000,000; wstETH/WETH 500 / 575 (1.15 WETH = 2,300 USD per wstETH).
    weth, usdc, wst = 0, 1, 2
    r = Router(np.array([2_000.0, 1.0, 2_300.0]),
               [V2Pool(weth, usdc, 1_000.0, 2e6, 0.003), V2Pool(wst, weth, 500.0, 575.0, 0.0005)])
    assert r.sell_quote(wst, 1.0) == pytest.approx(0.9995 * 575 / 500.9995 * 2_000.0, rel=1e-12)
    r.sell(weth, 100.0)                   # WETH falls; wstETH's pool, unchanged in WETH, falls in USD
    weth_price = r.venues[0].quote / r.venues[0].base
    assert r.price[weth] == weth_price
    assert r.price[wst] == pytest.approx(575.0 / 500.0 * weth_price, rel=1e-12)
    # Arbitrage converts wstETH's USD target at WETH's *new* market price: with both exogenous
    # prices down 10 % and no half-life, the pool ends at 2,070 / 1,800 = 1.15 WETH again.
    r.arbitrage(np.array([2_000.0, 1.0, 2_300.0]), np.array([1_800.0, 1.0, 2_070.0]), 60.0, 0.0)
    assert r.venues[1].mid() == pytest.approx(1.15, rel=1e-12)
    assert r.price[wst] == pytest.approx(2_070.0, rel=1e-12)


def test_venues_that_quote_each_other_in_a_cycle_are_refused():
    with pytest.raises(ValueError, match="cycle"):
        Router(np.array([2_000.0, 2_300.0]), [V2Pool(0, 1, 10.0, 9.0, 0.003), V2Pool(1, 0, 9.0, 10.0, 0.003)])


ops = st.lists(st.tuples(st.sampled_from(["sell", "buy", "arb"]), st.sampled_from([ETH, USDC, WBTC]),
                         st.floats(0.0, 400.0), st.floats(-0.2, 0.2)), min_size=1, max_size=60)


def within_reach(venues: Venues, asset: int, amount: float) -> bool:
    """Well inside what the asset's pool holds now: a purchase that would empty it drains the pool
    in Venues, while the router refuses it (cost inf, pool untouched)."""
    pool = venues.pool_of[asset]
    return pool < 0 or amount < 0.8 * venues.base[pool]


@settings(max_examples=150, deadline=None)
@given(ops=ops, feedback=st.booleans(), half_life=st.sampled_from([0.0, 600.0, 1_800.0]))
def test_one_v2_pool_per_asset_gives_exactly_todays_venues(ops, feedback, half_life):
    # ETH and WBTC each with one USDC pool, USDC without: the same call sequence must give the
    # same floats (==, not approx) from Venues and from the router.
    price = np.array([2_000.0, 1.0, 40_000.0])
    old = Venues(price=price.copy(), pool_of=np.array([0, -1, 1]), base=np.array([1_000.0, 50.0]),
                 quote=np.array([2e6, 2e6]), quote_asset=np.array([USDC, USDC]), fee=np.array([0.003, 0.003]),
                 feedback=feedback)
    new = Router(price.copy(), [V2Pool(ETH, USDC, 1_000.0, 2e6, 0.003), V2Pool(WBTC, USDC, 50.0, 2e6, 0.003)],
                 feedback=feedback)
    exo = price.copy()
    for op, asset, amount, move in ops:
        if op == "sell":
            assert old.sell_quote(asset, amount) == new.sell_quote(asset, amount)
            assert old.sell(asset, amount) == new.sell(asset, amount)
        elif op == "buy" and amount < 40.0 and within_reach(old, asset, amount):
            assert old.buy_quote(asset, amount) == new.buy_quote(asset, amount)
            assert old.buy(asset, amount) == new.buy(asset, amount)
        else:
            now = exo * np.exp(np.array([move, move / 100, -move]))
            old.arbitrage(exo, now, 600.0, half_life)
            new.arbitrage(exo, now, 600.0, half_life)
            exo = now
        assert old.price.tolist() == new.price.tolist()
        assert old.sold.tolist() == new.sold.tolist()
    assert old.base.tolist() == [new.venues[0].base, new.venues[1].base]
    assert old.quote.tolist() == [new.venues[0].quote, new.venues[1].quote]


# Amounts from a nano-unit up (below a wei, float64 subnormals are not a market question).
mixed_ops = st.lists(st.tuples(st.sampled_from(["sell", "buy", "arb"]), st.sampled_from([0, 2]),
                               st.one_of(st.just(0.0), st.floats(1e-9, 300.0)), st.floats(-0.15, 0.15)),
                     min_size=1, max_size=40)


@settings(max_examples=80, deadline=None)
@given(ops=mixed_ops)
def test_no_fill_beats_a_venues_own_price_less_its_fee_and_prices_stay_consistent(ops):
    # WETH on v2, v3 and an order book; wstETH on USDC v2 and a WETH-quoted v2 pool. Whatever
    # happened before, a sale never fetches more than amount x the best (price x (1 - fee)),
    # a purchase never costs less than amount x the lowest (price / (1 - fee)), and every
    # venue's recorded USD price is its own mid times its quote's market price.
    weth, usdc, wst = 0, 1, 2
    venues = [V2Pool(weth, usdc, 1_000.0, 2e6, 0.003), v3_pool(),
              DepthBook(weth, fee=0.001, reference=2_000.0, **CURVE),
              V2Pool(wst, usdc, 300.0, 690_000.0, 0.003), V2Pool(wst, weth, 500.0, 575.0, 0.0005)]
    r = Router(np.array([2_000.0, 1.0, 2_300.0]), venues)
    exo = r.price.copy()
    for op, asset, amount, move in ops:
        vs = r.by_asset[asset]
        best_bid = max(r.venue_price[v] * (1 - r.venues[v].fee) for v in vs)
        best_ask = min(r.venue_price[v] / (1 - r.venues[v].fee) for v in vs)
        if op == "sell":
            assert r.sell(asset, amount) <= amount * best_bid * (1 + 1e-9)
        elif op == "buy" and amount < 100.0:
            assert r.buy(asset, amount) >= amount * best_ask * (1 - 1e-9)
        else:
            now = exo * np.exp(np.array([move, 0.0, move * 0.9]))
            r.arbitrage(exo, now, 600.0, 1_800.0)
            exo = now
        for v, venue in enumerate(r.venues):
            assert r.venue_price[v] == pytest.approx(venue.mid() * r._quote_usd(v), rel=1e-9)
