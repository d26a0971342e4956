"""Path moves pass through; between blocks arbitrage brings every venue back to the reference market
to within its fee and passes that flow on to it once; a drained pool never sets the reference;
with feedback off nothing moves."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest.markets.reference import ReferenceMarket
from backtest.markets.router import Router
from backtest.markets.depth_book import DepthBook
from backtest.markets.venue_kinds import V2Pool, V3Pool
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


def with_impact(r: Router, coefficient=0.04, volume=1e9, theta=0.5, half_life=1_800.0) -> Router:
    """The router with a reference market that moves: Y sigma = `coefficient` for every asset."""
    n = len(r.price)
    r.attach(ReferenceMarket(r.price.copy(), np.full(n, coefficient), np.full(n, volume), np.full(n, theta),
                             np.full(n, half_life)))
    return r


def test_a_path_move_passes_through_every_venue_and_the_reference_with_no_flow():
    r = with_impact(three_kinds())
    for v in range(len(r.venues)):
        r.venues[v].sell(50.0)                # each venue pushed down by its own amount
        r._reprice(v)
    before = r.venue_price.copy()
    r.follow_path(np.array([2_000.0, 1.0]), np.array([1_800.0, 1.0]))
    # Every venue keeps its gap to the path, the reference is the path, nothing reached it.
    np.testing.assert_allclose(r.venue_price, before * 0.9, rtol=1e-12)
    np.testing.assert_allclose([v.mid() for v in r.venues], before * 0.9, rtol=1e-9)
    assert r.price[ETH] == 1_800.0 and not r.reference.flow.any() and not r.reference.permanent.any()


def test_arbitrage_brings_each_pool_to_within_its_fee_and_passes_what_it_took_out_to_the_reference():
    r = with_impact(three_kinds())
    v2 = r.venues[0]
    r.venues[0].sell(50.0)
    r._reprice(0)
    base_before = v2.base
    r.arbitrage(12.0, 0.0)
    # The v2 pool ends where buying from it no longer pays: mid = reference (before the flow) x (1 - fee)...
    # the arbitrageur sold what it bought in the pool on the reference market, which fell by the
    # square-root law on that flow: 0.04 x sqrt(flow / 1e9).
    taken = base_before - v2.base
    assert taken > 0
    assert v2.mid() == pytest.approx(2_000.0 * (1 - 0.003), rel=1e-9)
    assert r.reference.flow[ETH] == pytest.approx(-taken * 2_000.0, rel=1e-12)
    drop = 0.04 * math.sqrt(taken * 2_000.0 / 1e9)
    assert math.log(r.price[ETH] / 2_000.0) == pytest.approx(-drop, rel=1e-9)
    # The v3 pool and the book were at the reference: they did not trade and did not move.
    assert r.venues[1].mid() == pytest.approx(2_000.0, rel=1e-12) and r.venues[2].net_sold == 0.0


def test_the_depth_book_refills_to_the_reference_and_its_makers_pass_the_sale_on():
    book = DepthBook(ETH, fee=0.0, reference=2_000.0, **CURVE)
    r = with_impact(Router(np.array([2_000.0, 1.0]), [book]), theta=1.0)
    r.sell(ETH, 100.0)                    # bids to -0.5 % eaten: price 1,990
    assert r.price[ETH] == 2_000.0        # the reference does not move within the block
    r.arbitrage(12.0, 0.0)
    assert book.net_sold == 0.0 and r.reference.flow[ETH] == pytest.approx(-100.0 * 2_000.0, rel=1e-12)
    assert r.price[ETH] == pytest.approx(2_000.0 * math.exp(-0.04 * math.sqrt(2e5 / 1e9)), rel=1e-12)
    assert book.mid() == r.price[ETH]


def test_a_half_life_closes_part_of_the_gap_beyond_the_fee_per_block():
    r = Router(np.array([2_000.0, 1.0]), [V2Pool(ETH, USDC, 1_000.0, 2e6, 0.003)])   # no impact
    r.sell(ETH, 100.0)
    mid = r.venues[0].mid()
    r.arbitrage(600.0, 600.0)             # one half-life: half the log gap to the band's edge
    edge = 2_000.0 * (1 - 0.003)
    assert r.venues[0].mid() == pytest.approx(mid * math.sqrt(edge / mid), rel=1e-12)
    r.arbitrage(12.0, 0.0)
    assert r.venues[0].mid() == pytest.approx(edge, rel=1e-12) and r.price[ETH] == 2_000.0


def test_a_pool_sold_through_its_last_tick_never_sets_the_reference():
    r = with_impact(Router(np.array([2_000.0, 1.0]), [v3_pool()]), coefficient=0.04, volume=1e9)
    pool = r.venues[0]
    r.sell(ETH, 1e6)                      # far more than the range holds: the pool's price collapses
    assert pool.mid() < 1_500.0 and r.price[ETH] == 2_000.0
    r.arbitrage(12.0, 0.0)
    # What the arbitrage took out is what the pool absorbed inside its range (it paid nothing for
    # the empty stretch): the reference moves by the impact of that, not to the pool's price.
    absorbed = -r.reference.flow[ETH] / 2_000.0
    assert 0 < absorbed < 1_000.0
    assert r.price[ETH] == pytest.approx(2_000.0 * math.exp(-0.04 * math.sqrt(absorbed * 2_000.0 / 1e9)), rel=1e-9)
    assert r.price[ETH] > 0.99 * 2_000.0


def test_temporary_impact_decays_and_the_permanent_share_stays():
    r = with_impact(Router(np.array([2_000.0, 1.0]), []), theta=0.25, half_life=600.0)
    r.sell(ETH, 1_000.0)                  # no venue: straight into the reference market
    total = math.log(r.price[ETH] / 2_000.0)
    assert total == pytest.approx(-0.04 * math.sqrt(2e6 / 1e9), rel=1e-12)
    r.arbitrage(600.0, 0.0)               # one half-life later
    assert math.log(r.price[ETH] / 2_000.0) == pytest.approx(total * (0.25 + 0.75 / 2), rel=1e-12)
    r.arbitrage(600.0 * 60, 0.0)
    assert math.log(r.price[ETH] / 2_000.0) == pytest.approx(total * 0.25, rel=1e-6)


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


def test_a_pool_quoted_in_weth_is_valued_and_arbitraged_at_weths_reference_price():
    # WETH/USDC 1,000 / 2,000,000; wstETH/WETH 500 / 575 (1.15 WETH = 2,300 USD per wstETH).
    weth, usdc, wst = 0, 1, 2
    r = Router(np.array([2_000.0, 1.0, 2_300.0]),
               [V2Pool(weth, usdc, 1_000.0, 2e6, 0.003), V2Pool(wst, weth, 500.0, 575.0, 0.0005)])
    assert r.sell_quote(wst, 1.0) == pytest.approx(0.9995 * 575 / 500.9995 * 2_000.0, rel=1e-12)
    r.sell(weth, 100.0)                   # the WETH pool falls; the references do not
    assert r.price[weth] == 2_000.0 and r.price[wst] == 2_300.0
    # The path falls 10 %: each pool moves with it; arbitrage then closes the WETH pool's gap to the
    # band's edge and leaves the wstETH pool at 2,070 / 1,800 = 1.15 WETH.
    r.follow_path(np.array([2_000.0, 1.0, 2_300.0]), np.array([1_800.0, 1.0, 2_070.0]))
    r.arbitrage(12.0, 0.0)
    assert r.venues[0].mid() == pytest.approx(1_800.0 * (1 - 0.003), rel=1e-12)
    assert r.venues[1].mid() == pytest.approx(1.15, rel=1e-12)
    assert r.price[wst] == pytest.approx(2_070.0, rel=1e-12)


def test_venues_that_quote_each_other_in_a_cycle_are_refused():
    with pytest.raises(ValueError, match="cycle"):
        Router(np.array([2_000.0, 2_300.0]), [V2Pool(0, 1, 10.0, 9.0, 0.003), V2Pool(1, 0, 9.0, 10.0, 0.003)])


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
            r.follow_path(exo, now)
            r.arbitrage(600.0, 1_800.0)
            exo = now
        for v, venue in enumerate(r.venues):
            assert r.venue_price[v] == pytest.approx(venue.mid() * r._quote_usd(v), rel=1e-9)


@pytest.mark.parametrize("usd", [1e3, 5e4, 2e6, 5e7])
@pytest.mark.parametrize("outstanding", [0.0, -3e6, 4e5])
def test_a_fill_through_the_impact_curve_is_the_mean_price_over_the_order(usd, outstanding):
    # Against a fine midpoint rule over the order's progress: the closed form (small orders) and the
    # quadrature (large ones) both give the mean of exp(delta) to 1e-8 relative.
    ref = ReferenceMarket(np.array([2_000.0]), np.array([0.2]), np.array([1e9]), np.array([0.3]), np.array([600.0]))
    ref.outstanding[0] = outstanding
    for units in (usd / 2_000.0, -usd / 2_000.0):
        n = 200_000
        u = (np.arange(n) + 0.5) / n
        q, v = outstanding, 1e9
        f = lambda x: np.sign(x) * np.sqrt(np.abs(x) / v)  # noqa: E731
        mean = np.exp(0.2 * (f(q - u * units * 2_000.0) - f(q))).mean()
        assert ref.fill(0, units) == pytest.approx(units * 2_000.0 * mean, rel=1e-8)
