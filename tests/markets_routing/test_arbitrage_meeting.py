"""Arbitrage against a reference market shallower than the venues (issue 19's schedule puzzle).

The earlier rule (`arbitrage = "pull"`, a bare Router's) pulls each venue to the reference price as it was
before the block, then passes the flow to the reference market. Where that flow moves the reference further than the venue
moved (a deep pool; the square-root law is steepest where its outstanding flow crosses zero), the
reference lands beyond the pool by more than the fee, and the next block's arbitrage pulls the pool back
across: a two-block cycle that grows until its amplitude is ~1 %. `arbitrage = "meet"`
(backtest/markets/arb_meet.py, a run's default since 2026-12-06) pulls both to the price where they meet instead."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.config import RunConfig
from backtest.markets.reference import ReferenceMarket
from backtest.markets.router import Router
from backtest.markets.venue_kinds import USD, V2Pool

ETH, FEE = 0, 0.0005


def deep_pool(meet: bool, kick: float = 300.0) -> Router:
    """A 300,000 ETH / 600M USD pool (fee 5 bps) over a WETH-like reference (Y sigma 0.206, V 1.11e9 USD a
    day, theta 0.234, h 667 s: backtest/markets/impact_params.py), after a sale of `kick` ETH into it."""
    r = Router(np.array([2_000.0]), [V2Pool(ETH, USD, 3e5, 6e8, FEE, name="v2")])
    r.attach(ReferenceMarket(r.price.copy(), np.full(1, 0.206), np.full(1, 1.11e9), np.full(1, 0.234),
                             np.full(1, 667.0)))
    r.meet = meet
    r.sell(ETH, kick)
    return r


def gaps(r: Router, blocks: int = 10) -> list[float]:
    """log(reference / pool) after each of `blocks` arbitrages 12 s apart."""
    out = []
    for _ in range(blocks):
        r.arbitrage(12.0, 0.0)
        out.append(math.log(float(r.price[ETH]) / r.venues[0].mid()))
    return out


def test_pulling_a_deep_pool_to_the_reference_before_the_flow_sets_off_a_two_block_cycle():
    g = gaps(deep_pool(meet=False))
    # the sale left the pool 0.2 % low; block after block the reference lands on the other side of the
    # pool, by more than the fee, and the swing grows to over 2 % from one block to the next
    assert all(a * b < 0 for a, b in zip(g[1:], g[2:]))
    assert all(abs(x) > FEE for x in g[1:])
    assert abs(g[-1]) > 0.015 and abs(g[-1]) > 5 * abs(g[0])


def test_the_meeting_price_leaves_pool_and_reference_a_fee_apart_and_still():
    r = deep_pool(meet=True)
    g = gaps(r)
    # the pool was below: arbitrage buys from it until it is one fee under the reference it moved
    assert r.venues[0].mid() == pytest.approx(float(r.price[ETH]) * (1 - FEE), rel=1e-9)
    assert g[0] == pytest.approx(-math.log(1 - FEE), rel=1e-6)
    # nothing crosses afterwards: the later blocks only let the temporary impact decay
    assert max(abs(b - a) for a, b in zip(g, g[1:])) < 1e-4
    assert max(g) - min(g) < 1e-4


def test_the_meeting_price_is_between_where_pool_and_reference_started():
    r = deep_pool(meet=True)
    pool, ref = r.venues[0].mid(), float(r.price[ETH])
    r.arbitrage(12.0, 0.0)
    assert pool < float(r.price[ETH]) < ref and r.reference.flow[ETH] < 0      # arbitrage sold on the reference


def test_a_run_meets_by_default_and_pull_is_the_earlier_rule():
    config = RunConfig(scenario="s", lake="l")
    assert config.arbitrage == "meet" and 'arbitrage = "meet"' in config.to_toml()
    assert Router(np.array([1.0]), []).meet is False        # a bare Router pulls: a run sets it (engine/start.py)


@settings(max_examples=60, deadline=None)
@given(pools=st.lists(st.tuples(st.floats(1e2, 1e6), st.floats(0.5, 2.0), st.sampled_from([0.0005, 0.003, 0.01])),
                      min_size=1, max_size=3),
       kick=st.floats(-0.3, 0.3), extra=st.sampled_from([0.0, -5e6, 3e5]), scale=st.sampled_from([0.0, 1.0, 8.0]))
def test_the_compiled_meeting_of_v2_pools_is_the_python_bisection_bit_for_bit(pools, kick, extra, scale):
    """arb_meet._meet_v2 (numba) against meeting_price's Python closures, on v2 pools off the reference by
    up to 30 % (`kick` of the pool's depth sold or bought), with and without a quote-side flow and impact."""
    from backtest import compiled
    from backtest.markets import arb_meet
    venues = [V2Pool(ETH, USD, depth, depth * 2_000.0 * tilt, fee) for depth, tilt, fee in pools]
    r = Router(np.array([2_000.0]), venues)
    r.attach(ReferenceMarket(r.price.copy(), np.full(1, 0.206 * scale), np.full(1, 1.11e9), np.full(1, 0.234),
                             np.full(1, 667.0)))
    r.meet = True
    r.sell(ETH, kick * pools[0][0])
    price = r.price.tolist()
    with compiled.python_path():
        python = arb_meet.meeting_price(r, ETH, price, extra)
    got = arb_meet.meeting_price(r, ETH, price, extra)
    assert got == python or (got != got and python != python)
    mids = [v.mid() for v in venues]
    lo = math.log(min([m for m in mids] + price)) - 0.1
    hi = math.log(max([m for m in mids] + price)) + 0.1
    rows = np.array([(v.base, v.quote, m, 1.0, 1.0 - v.fee) for v, m in zip(venues, mids)])
    ref = r.reference
    args = (rows, price[ETH], float(ref.exo[ETH]), float(ref.permanent[ETH]) + float(ref.temporary[ETH]),
            float(ref.coefficient[ETH]), float(ref.outstanding[ETH]), float(ref.volume[ETH]), extra, lo, hi)
    assert arb_meet._meet_v2_rows_py(*args) == python


@pytest.mark.parametrize("kind", ["2", "3", "d"])
@pytest.mark.parametrize("rel", [0.9, 0.999, 1.0, 1.004, 1.2])
def test_pulled_is_what_pull_to_returns_without_the_move(kind, rel):
    """arb_meet asks `pulled` of ~55 prices a block instead of pulling a copy: it must be pull_to's answer
    bit for bit, leave the venue as it was, and pull_to must still move it."""
    from tests.markets_routing.test_quote_ceilings import venues
    venue = venues(kind, [0.003])[0]
    venue.sell(3.0)                                          # off its starting price, some depth consumed
    target = venue.mid() * rel
    before = repr(venue)
    got = venue.pulled(target, target)
    assert repr(venue) == before
    assert venue.pull_to(target, target) == got
    assert rel == 1.0 and kind != "d" or repr(venue) != before
