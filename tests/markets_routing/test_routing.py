"""Routing between venues of one asset: each trade goes whole to the venue that pays best."""

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from backtest.markets import depth_curve as dc
from backtest.markets import uniswap_v2
from backtest.markets import uniswap_v3 as v3
from backtest.markets import v3_compiled
from backtest.markets.depth_book import USD, DepthBook
from backtest.markets.router import Router
from backtest.markets.venue_kinds import V2Pool, V3Pool

ETH, USDC = 0, 1
PRICES = np.array([2000.0, 1.0])
LOG_TICK = math.log(1.0001)


def deep_and_costly():
    # 1,000 ETH / 2,000,000 USDC at 0.3 %: deep, expensive.
    return V2Pool(ETH, USDC, 1_000.0, 2_000_000.0, 0.003, name="deep")


def thin_and_cheap():
    # 100 ETH / 200,000 USDC at 0.05 %: thin, cheap.
    return V2Pool(ETH, USDC, 100.0, 200_000.0, 0.0005, name="thin")


def test_a_small_sale_goes_to_the_cheap_pool_and_a_large_one_to_the_deep_pool():
    r = Router(PRICES.copy(), [deep_and_costly(), thin_and_cheap()])
    # 0.1 ETH: deep pays 0.0997 x 2e6 / 1,000.0997 = 199.380; thin pays 0.09995 x 2e5 / 100.09995 = 199.700.
    assert r.sell_quote(ETH, 0.1) == pytest.approx(199.70039945, rel=1e-10)
    # 10 ETH: deep pays 9.97 x 2e6 / 1,009.97 = 19,743.16; thin pays 9.995 x 2e5 / 109.995 = 18,173.55.
    assert r.sell_quote(ETH, 10.0) == pytest.approx(19_743.160688, rel=1e-10)


def test_a_sale_moves_only_the_pool_it_went_to():
    r = Router(PRICES.copy(), [deep_and_costly(), thin_and_cheap()])
    usd = r.sell(ETH, 10.0)
    deep, thin = r.venues
    assert usd == pytest.approx(19_743.160688, rel=1e-10)
    # deep: 1,010 ETH and 2,000,000 - 19,743.16 USDC; thin untouched.
    assert (deep.base, deep.quote) == (1_010.0, pytest.approx(2_000_000.0 - 19_743.160688, rel=1e-12))
    assert (thin.base, thin.quote) == (100.0, 200_000.0)
    assert r.sold[ETH] == 10.0


def test_the_price_is_the_reference_markets_and_a_sale_into_a_venue_moves_only_that_venue():
    r = Router(PRICES.copy(), [deep_and_costly(), thin_and_cheap()])
    r.sell(ETH, 10.0)
    deep_price = (2_000_000.0 - 19_743.160688) / 1_010.0          # 1,960.65
    assert r.venue_price[0] == pytest.approx(deep_price, rel=1e-9) and r.venue_price[1] == 2_000.0
    assert r.price[ETH] == 2_000.0        # until arbitrage passes the flow on (test_arbitrage_and_counterfactual)


def test_a_purchase_goes_to_the_cheapest_venue():
    r = Router(PRICES.copy(), [deep_and_costly(), thin_and_cheap()])
    # 1 ETH: deep asks 2e6 x 1 / (999 x 0.997) = 2,008.03; thin asks 2e5 / (99 x 0.9995) = 2,021.22.
    assert r.buy_quote(ETH, 1.0) == pytest.approx(2e6 / (999 * 0.997), rel=1e-12)
    # More than the thin pool holds: it cannot deliver (inf) and the deep pool serves it.
    assert r.buy_quote(ETH, 150.0) == pytest.approx(uniswap_v2.amount_in(150.0, 2e6, 1_000.0, 0.003), rel=1e-12)


def one_range_v3(fee=0.003):
    """L on [1,900, 2,100] at price 2,000, whole-token units (decimals 0): inside the range it is
    x*y=k on virtual reserves x = L/sqrtP = 1,000 ETH and y = L sqrtP = 2,000,000 USDC."""
    liq = math.sqrt(1_000 * 2_000_000)
    low, high = math.floor(math.log(1_900) / LOG_TICK), math.ceil(math.log(2_100) / LOG_TICK)
    state = v3.PoolState(math.sqrt(2_000.0), math.floor(math.log(2_000) / LOG_TICK), liq,
                         np.array([low, high]), np.array([liq, -liq]), fee)
    return V3Pool(ETH, USDC, state, base_is_token0=True, base_decimals=0, quote_decimals=0, name="v3"), low


@given(st.floats(1e-12, 1e12), st.integers(0, 24), st.integers(0, 24), st.booleans())
def test_a_v3_mid_is_the_plain_expression_with_the_decimals_scale_kept_once(sqrt_price, d_base, d_quote, token0):
    """V3Pool keeps 10^(d0 - d1) and the whole units from construction: its mid, inverse and sale are the plain
    per-call expressions bit for bit, and a replace() or pickle carries the scales of its own decimals."""
    import pickle
    from dataclasses import replace
    p = replace(one_range_v3()[0], base_is_token0=token0, base_decimals=d_base, quote_decimals=d_quote)
    d0, d1 = (d_base, d_quote) if token0 else (d_quote, d_base)
    raw = sqrt_price ** 2 * 10.0 ** (d0 - d1)
    price = raw if token0 else 1.0 / raw
    for q in (p, pickle.loads(pickle.dumps(p)), replace(p, name="copy")):
        assert q._mid_at(sqrt_price) == price
        assert q._sqrt_price_for(price) == math.sqrt((price if token0 else 1.0 / price) / 10.0 ** (d0 - d1))
        walked = v3_compiled.walk(q.state, 0.5 * 10.0 ** d_base, token0)
        assert q.sell_out(0.5) == float(walked[0]) / 10.0 ** d_quote


def test_v3_beats_a_thin_v2_pool_inside_its_range_and_loses_when_the_range_runs_out():
    pool, low = one_range_v3()
    thin = V2Pool(ETH, USDC, 100.0, 200_000.0, 0.003, name="thin-v2")
    r = Router(PRICES.copy(), [thin, pool])
    # 10 ETH stays in range: v3 pays as x*y=k on 1,000/2,000,000: 9.97 x 2e6 / 1,009.97 = 19,743.16,
    # the thin v2 pool 9.97 x 2e5 / 109.97 = 18,132.22.
    assert r.sell_quote(ETH, 10.0) == pytest.approx(19_743.160688, rel=1e-9)
    # 100 ETH: the range ends at tick `low` (~1,900): v3 pays only L (sqrtP - sqrtP_low)
    # = 44,721.36 x (44.7214 - 43.5890) = 50,725 and takes no more; v2 pays 99.7 x 2e5 / 199.7 = 99,849.77.
    v3_pays = math.sqrt(2e9) * (math.sqrt(2_000.0) - math.exp(low * LOG_TICK / 2))
    assert pool.sell_out(100.0) == pytest.approx(v3_pays, rel=1e-9)
    assert r.sell_quote(ETH, 100.0) == pytest.approx(99.7 * 2e5 / 199.7, rel=1e-12)


def test_v3_buying_walks_the_same_curve_in_the_other_direction():
    pool, _ = one_range_v3()
    # Buy 10 ETH inside the range: x*y=k on virtual reserves: 2e6 x 10 / (990 x 0.997) = 20,262.81.
    assert pool.buy_in(10.0) == pytest.approx(2e6 * 10 / (990 * 0.997), rel=1e-9)
    paid = pool.buy(10.0)
    # The pool now holds 990 virtual ETH, so its price is (2e6 + 20,262.81 x 0.997)/990 ... = y/x.
    assert pool.mid() == pytest.approx((2e6 + paid * 0.997) / 990.0, rel=1e-9)
    # Past the top of the range there is nothing left to buy.
    assert pool.buy_in(1_000.0) == math.inf


def test_v3_crossing_into_a_second_range_adds_its_liquidity():
    # Add a wide position (same L again) on [1,500, 2,600]: selling below 1,900 keeps paying.
    pool, low = one_range_v3(fee=0.0)
    liq = pool.state.liquidity
    wide_low, wide_high = math.floor(math.log(1_500) / LOG_TICK), math.ceil(math.log(2_600) / LOG_TICK)
    ticks = np.array([wide_low, low, pool.state.ticks[1], wide_high])
    state = v3.PoolState(pool.state.sqrt_price, pool.state.tick, 2 * liq, ticks, np.array([liq, liq, -liq, -liq]), 0.0)
    wide = V3Pool(ETH, USDC, state, True, 0, 0)
    # 100 ETH: 2L down to tick `low` takes 2L (1/sqrtP_low - 1/sqrtP) ETH, then L alone takes the rest.
    s0, s_low = math.sqrt(2_000.0), math.exp(low * LOG_TICK / 2)
    first_in = 2 * liq * (1 / s_low - 1 / s0)
    s_end = 1 / (1 / s_low + (100.0 - first_in) / liq)
    assert wide.sell_out(100.0) == pytest.approx(2 * liq * (s0 - s_low) + liq * (s_low - s_end), rel=1e-9)


CURVE = dict(impacts=np.array([0.005, 0.01, 0.02, 0.05]), amounts=np.array([100.0, 250.0, 600.0, 2_000.0]))


def test_a_depth_curve_wins_large_sales_and_a_deep_cheap_pool_small_ones():
    book = DepthBook(ETH, fee=0.001, reference=2_000.0, name="cex", **CURVE)
    pool = V2Pool(ETH, USDC, 10_000.0, 20_000_000.0, 0.0005, name="pool")
    r = Router(PRICES.copy(), [pool, book])
    # 1 ETH: the pool pays 0.9995 x 2e7 / 10,000.9995 = 1,998.80; the book 2,000 x (1 - 0.0025 %)
    # x 0.999 = 1,997.95.
    assert r.sell_quote(ETH, 1.0) == pytest.approx(1_998.80021992, rel=1e-10)
    # 100 ETH: the book pays 2,000 x 100 x (1 - 0.25 %) x 0.999 = 199,300.5; the pool 197,921.77.
    assert r.sell_quote(ETH, 100.0) == pytest.approx(199_300.5, rel=1e-12)
    r.sell(ETH, 100.0)
    # The book's bids down to 0.5 % are gone: its price is 1,990, and the next 150 ETH fetch
    # 2,000 x 150 x (1 - 0.75 %) x 0.999 = 297,452.25.
    assert book.mid() == pytest.approx(1_990.0, rel=1e-12)
    assert book.sell_out(150.0) == pytest.approx(297_452.25, rel=1e-12)


def test_buying_from_a_depth_curve_walks_up_the_mirrored_ask_side():
    book = DepthBook(ETH, fee=0.0, reference=2_000.0, **CURVE)
    # 100 ETH: asks rise linearly to +0.5 %: 2,000 x 100 x (1 + 0.25 %) = 200,500.
    assert book.buy_in(100.0) == pytest.approx(200_500.0, rel=1e-12)
    book.buy(100.0)
    assert book.mid() == pytest.approx(2_010.0, rel=1e-12) and book.net_sold == -100.0
    # Selling 100 back walks down the same asks: 200,500 again, and the book is where it began.
    assert book.sell(100.0) == pytest.approx(200_500.0, rel=1e-12)
    assert book.net_sold == 0.0


@given(q=st.floats(0.0, 50_000.0), sold=st.floats(-3_000.0, 3_000.0))
def test_the_books_one_amount_evaluation_agrees_with_depth_curve(q, sold):
    # DepthBook evaluates the curve for one amount at a time (the hot path); it must be the
    # depth_curve module's impact, proceeds and inverse, and the ask side their mirror image.
    book = DepthBook(ETH, fee=0.0, reference=1.0, net_sold=0.0, **CURVE)
    impact, area = book._bid(q)
    assert impact == pytest.approx(float(dc.impact(q, CURVE["impacts"], CURVE["amounts"])), rel=1e-12, abs=1e-15)
    assert area == pytest.approx(float(dc.sell(q, 1.0, CURVE["impacts"], CURVE["amounts"]).proceeds), rel=1e-12,
                                 abs=1e-12)
    t = impact
    assert book._amount_for_impact(t) == pytest.approx(float(dc.amount_for_impact(t, CURVE["impacts"], CURVE["amounts"])),
                                                       rel=1e-9, abs=1e-9)
    # Any stretch of the book is the difference of two running totals (here exact enough to compare).
    p = q / 3
    assert book._bid_between(p, q, q - p) == pytest.approx(area - book._bid(p)[1], rel=1e-9, abs=1e-9)
    book.net_sold = sold
    # Selling q then buying q back returns the book where it was, at the same money both ways.
    out = book.sell(q)
    assert book.buy(q) == pytest.approx(out, rel=1e-9, abs=1e-9)
    assert book.net_sold == pytest.approx(sold, abs=1e-9)


def test_mid_range_brackets_what_any_fill_can_fetch():
    r = Router(PRICES.copy(), [deep_and_costly(), thin_and_cheap()])
    r.sell(ETH, 10.0)                     # the deep pool falls to 1,960.65, the thin stays at 2,000
    low, high = r.mid_range()
    assert low[ETH] == pytest.approx((2e6 - 19_743.160688) / 1_010.0, rel=1e-9) and high[ETH] == 2_000.0
    assert low[ETH] < r.price[ETH] <= high[ETH]
    # A small sale now goes to the thin pool and fetches more than the deep pool's price, but never
    # more than the highest venue price.
    assert low[ETH] * 0.01 < r.sell_quote(ETH, 0.01) < high[ETH] * 0.01
    assert (low[USDC], high[USDC]) == (1.0, 1.0)


@given(st.lists(st.sampled_from([1_500.0, 2_000.0, 2_500.0, math.nan, math.inf, -0.0, 0.0]), min_size=3, max_size=3),
       st.floats(allow_nan=True), st.permutations([0, 1, 2]))
def test_mid_of_is_mid_range_of_one_asset(venue_prices, usdc_price, order):
    """Maker.trade reads mid_of for its few assets instead of the whole mid_range: the same floats, NaN where
    one venue is NaN, an asset with no venue (WBTC here) or one (USDC, priced by a pool) as well."""
    pools = [deep_and_costly(), thin_and_cheap(), V2Pool(ETH, USDC, 10.0, 20_000.0, 0.003, name="third")]
    r = Router(np.array([2000.0, 1.0, 30_000.0]), [pools[k] for k in order] + [V2Pool(USDC, USD, 1.0, 1.0, 0.0)])
    r.venue_price[:3] = venue_prices
    r.venue_price[3] = usdc_price
    low, high = r.mid_range()
    for a in range(3):
        assert [math.copysign(1.0, x) for x in r.mid_of(a)] == [math.copysign(1.0, low[a]), math.copysign(1.0, high[a])]
        assert np.array(r.mid_of(a)).tobytes() == np.array([low[a], high[a]]).tobytes()


@pytest.mark.parametrize("feedback", [True, False])
def test_a_venue_quoting_nan_never_wins_and_all_nan_goes_to_the_first(feedback):
    """A venue whose state went NaN once won every purchase when listed first (a NaN cost is never beaten
    by `<`), and a sale with every quote NaN went to venue index -1, the last one listed."""
    nan = math.nan

    def router(first_base, second_base):
        r = Router(np.array([2_000.0, 1.0]), [V2Pool(ETH, USDC, first_base, 2e6, 0.003),
                                              V2Pool(ETH, USDC, second_base, 2e6, 0.003)], feedback=feedback)
        if not feedback:                        # without feedback the venues' recorded prices decide
            r.venue_price[:] = [v.mid() for v in r.venues]
        return r
    mixed = router(nan, 1_000.0)
    assert mixed._best_sale(ETH, 1.0)[0] == 1 and mixed._best_purchase(ETH, 1.0)[0] == 1
    broken = router(nan, nan)
    assert broken._best_sale(ETH, 1.0)[0] == 0 and broken._best_purchase(ETH, 1.0)[0] == 0
