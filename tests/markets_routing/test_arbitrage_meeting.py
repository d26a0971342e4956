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
from hypothesis import example, given, settings
from hypothesis import strategies as st

from backtest.config import RunConfig
from backtest.markets import uniswap_v3 as v3
from backtest.markets.carried import CarriedFlow
from backtest.markets.depth_book import USD, DepthBook
from backtest.markets.reference import ReferenceMarket, _f
from backtest.markets.router import Router
from backtest.markets.venue_kinds import V2Pool, V3Pool

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


def test_partial_arbitrage_closes_its_part_of_the_gap_to_the_meeting_price():
    # half-life 12 s, blocks 12 s apart: each block closes half the pool's log gap to where full meeting takes it
    full, part = deep_pool(meet=True), deep_pool(meet=True)
    start = part.venues[0].mid()
    full.arbitrage(12.0, 0.0)
    part.arbitrage(12.0, 12.0)
    moved, whole = math.log(part.venues[0].mid() / start), math.log(full.venues[0].mid() / start)
    assert whole > 0 and moved == pytest.approx(0.5 * whole, rel=1e-9)
    # the reference took half the flow: it moved less than with full arbitrage, toward the pool
    assert float(full.price[ETH]) < float(part.price[ETH]) and part.reference.flow[ETH] < 0


@pytest.mark.parametrize("half_life", [12.0, 60.0, 600.0])
def test_partial_arbitrage_at_the_meeting_price_never_crosses(half_life):
    # the earlier rule at half-life 12 s lands the reference under the pool by more than the fee; meeting, pool
    # and reference approach from their sides: the pool rises block after block and stays under the reference
    pulled = [], []
    for meet, gaps_of in zip((False, True), pulled):
        r = deep_pool(meet=meet)
        for _ in range(40):
            r.arbitrage(12.0, half_life)
            gaps_of.append((math.log(float(r.price[ETH]) / r.venues[0].mid()), r.venues[0].mid()))
    g, mids = zip(*pulled[1])
    assert min(g) > 0 and all(b >= a for a, b in zip(mids, mids[1:]))
    if half_life == 12.0:
        assert pulled[0][0][0] < -FEE              # the earlier rule's first block overshoots


def test_a_run_meets_by_default_and_pull_is_the_earlier_rule():
    config = RunConfig(scenario="s", lake="l")
    assert config.arbitrage == "meet" and 'arbitrage = "meet"' in config.to_toml()
    assert Router(np.array([1.0]), []).meet is False        # a bare Router pulls: a run sets it (engine/start.py)


LOG_TICK = math.log(1.0001)
CURVE = dict(impacts=np.array([0.005, 0.01, 0.02, 0.05]), amounts=np.array([100.0, 250.0, 600.0, 2_000.0]))


def v3_pool(depth: float, fee: float, quote: int, price: float, token0: bool, decimals: tuple) -> V3Pool:
    """A v3 pool at `price` (quote per base) in four nested positions of +-0.3, 1.5, 6 and 30 % (virtual base
    reserves 40, 20, 10 and 8 x `depth`: ~1.6 x `depth` real within the widest), so a move of a few % crosses ticks."""
    base_dec, quote_dec = decimals
    d0, d1 = (base_dec, quote_dec) if token0 else (quote_dec, base_dec)
    raw = (price if token0 else 1.0 / price) * 10.0 ** (d1 - d0)        # token1 raw per token0 raw
    tick, sp = math.floor(math.log(raw) / LOG_TICK), math.sqrt(raw)
    unit = depth * 10.0 ** base_dec * (sp if token0 else 1.0 / sp)          # L of `depth` virtual base
    nets: dict[int, float] = {}
    for width, share in ((30, 40), (150, 20), (600, 10), (3_000, 8)):
        nets[tick - width] = nets.get(tick - width, 0.0) + share * unit
        nets[tick + width] = nets.get(tick + width, 0.0) - share * unit
    ticks = np.array(sorted(nets), dtype=np.int64)
    state = v3.PoolState(sp, tick, 78.0 * unit, ticks, np.array([nets[t] for t in ticks.tolist()]), fee)
    return V3Pool(ETH, quote, state, token0, base_dec, quote_dec, name="v3")


def mixed(kinds: list, quote: int, qp: float, token0: bool, decimals: tuple) -> list:
    """Venues of ETH quoted in USD or in asset 1 (at qp USD), each moved off 2,000 USD by its own trade."""
    make = {"2": lambda d, f: V2Pool(ETH, quote, d, d * 2_000.0 / qp, f, name="v2"),
            "3": lambda d, f: v3_pool(d, f, quote, 2_000.0 / qp, token0, decimals),
            "d": lambda d, f: DepthBook(ETH, fee=f, reference=2_000.0 / qp, quote_asset=quote,
                                        impacts=CURVE["impacts"], amounts=CURVE["amounts"] * d / 1e3)}
    out = []
    for kind, depth, fee, move in kinds:
        venue = make[kind](depth, fee)
        venue.sell(move * depth) if move > 0 else venue.buy(-move * depth) if move < 0 else None
        out.append(venue)
    return out


@settings(max_examples=120, deadline=None)
@given(kinds=st.lists(st.tuples(st.sampled_from("23d"), st.floats(1e2, 1e5), st.sampled_from([0.0005, 0.003, 0.01]),
                                st.one_of(st.just(0.0), st.floats(-0.3, 0.3))), min_size=1, max_size=4),
       quote=st.sampled_from([USD, 1]), token0=st.booleans(), decimals=st.sampled_from([(0, 0), (18, 6), (8, 18)]),
       extra=st.sampled_from([0.0, -5e6, 3e5]), scale=st.sampled_from([0.0, 1.0, 8.0]),
       outstanding=st.sampled_from([0.0, -3e7, 2e6]),
       carried=st.one_of(st.none(), st.tuples(st.sampled_from([0.0, 1e5, 1e8]), st.sampled_from([0.0, 1e5, 1e8]))))
def test_the_compiled_meeting_price_is_the_python_bisection_bit_for_bit(kinds, quote, token0, decimals, extra, scale,
                                                                        outstanding, carried):
    """meet_compiled (numba, one table of v2, v3 and book rows) against meeting_price's Python closures (the
    venues' own arbitrage_goal and pulled; the v3 walk uniswap_v3.swap), on venues moved off the reference by
    up to 30 % of their depth (v3 pools across ticks), with and without a quote-side flow, impact, outstanding
    flow and a carried real flow (feedback_mode "excess")."""
    from backtest import compiled
    from backtest.markets import arb_meet, meet_compiled
    qp = 1.0 if quote == USD else 0.9987
    r = Router(np.array([2_000.0, qp]), mixed(kinds, quote, qp, token0, decimals))
    r.attach(ReferenceMarket(r.price.copy(), np.full(2, 0.206 * scale), np.full(2, 1.11e9), np.full(2, 0.234),
                             np.full(2, 667.0)))
    r.reference.outstanding[ETH] = outstanding
    if carried is not None:
        r.reference.carried = CarriedFlow(np.array([[carried, (0.0, 0.0)]]))
    r.meet = True
    price = r.price.tolist()
    with compiled.python_path():
        python = arb_meet.meeting_price(r, ETH, price, extra)
    got = arb_meet.meeting_price(r, ETH, price, extra)
    assert got == python or (got != got and python != python)
    # and the kernel's parts, which the bisection's comparisons could hide a rounding of: flow(p) and the
    # reference after it, at prices around the venues' and the reference's
    if meet_compiled.meet is None:
        pytest.skip("numba not installed")
    mids = [v.mid() for v in r.venues]
    units = [1.0 if v.quote_asset == USD else qp for v in r.venues]
    usd = [m * q for m, q in zip(mids, units)] + price[:1]
    table, pa, impact = meet_compiled.inputs(r, ETH, price, mids, units)
    now = _f(impact[3], impact[4])
    with compiled.python_path():
        flow, after = arb_meet._flow(r, ETH, price, mids), arb_meet._reference_after(r.reference, ETH)
        for p in usd + [python, 0.8 * min(usd), 1.2 * max(usd)]:
            assert meet_compiled._flow(*table, p, pa) == (flow(p), True)
            assert meet_compiled._after(flow(p) + extra, impact, now) == after(flow(p) + extra)


def test_a_v3_pool_crosses_ticks_to_the_meeting_price_and_the_kernel_follows_it():
    """A v3 pool 20 % off beside a v2 pool and a book: the Python meeting price walks it across ticks, and the
    compiled one lands on the same float."""
    from backtest import compiled
    from backtest.markets import arb_meet
    venues = mixed([("3", 1e3, 0.0005, -0.2), ("2", 300.0, 0.003, 0.05), ("d", 1e3, 0.001, 0.1)], USD, 1.0, False,
                   (18, 6))
    r = Router(np.array([2_000.0, 1.0]), venues)
    r.attach(ReferenceMarket(r.price.copy(), np.full(2, 0.206), np.full(2, 1.11e9), np.full(2, 0.234),
                             np.full(2, 667.0)))
    r.meet = True
    price = r.price.tolist()
    with compiled.python_path():
        python = arb_meet.meeting_price(r, ETH, price)
        limit = venues[0]._sqrt_price_for(python / (1 - 0.0005))          # one fee above: where it is pulled
        walked = v3.swap(venues[0].state, math.inf, limit < venues[0].state.sqrt_price, limit)
    assert walked.ticks_crossed >= 1 and venues[0].mid() > python
    assert arb_meet.meeting_price(r, ETH, price) == python


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


@settings(max_examples=80, deadline=None)
@given(kinds=st.lists(st.tuples(st.sampled_from("23d"), st.floats(1e2, 1e5), st.sampled_from([0.0005, 0.003, 0.01]),
                                st.one_of(st.just(0.0), st.floats(-0.3, 0.3))), min_size=1, max_size=4),
       quote=st.sampled_from([USD, 1]), token0=st.booleans(), decimals=st.sampled_from([(0, 0), (18, 6), (8, 18)]),
       scale=st.sampled_from([0.0, 1.0, 8.0]), half_life=st.sampled_from([0.0, 30.0]),
       kicks=st.lists(st.floats(-0.2, 0.2), min_size=1, max_size=4))
@example(kinds=[("3", 1e3, 0.0005, -0.2), ("2", 300.0, 0.003, 0.05)], quote=USD, token0=False, decimals=(18, 6),
         scale=1.0, half_life=0.0, kicks=[0.0])                      # a v3 pool across ticks, base its token1
@example(kinds=[("3", 1e3, 0.003, 0.2), ("d", 1e3, 0.001, 0.1), ("2", 300.0, 0.0005, -0.1)], quote=1, token0=True,
         decimals=(8, 18), scale=1.0, half_life=30.0, kicks=[0.1, -0.05])    # partial, quoted in another asset
def test_the_compiled_pulls_leave_venues_and_reference_as_the_python_pulls(kinds, quote, token0, decimals, scale,
                                                                          half_life, kicks):
    """arb_meet.arbitrage's pulls made from meet_compiled.settle's rows (the goals, the partial-arbitrage
    power, reserves_at_price, a v3 pool's walk to its limit, a book's depth held, written back) against the
    venues' own arbitrage_goal and pull_to on the Python path: every venue's state and the reference market's
    arrays bit for bit, block after block, with a sale or purchase into the first venue between blocks."""
    import copy

    from backtest import compiled
    qp = 1.0 if quote == USD else 0.9987
    r = Router(np.array([2_000.0, qp]), mixed(kinds, quote, qp, token0, decimals))
    r.attach(ReferenceMarket(r.price.copy(), np.full(2, 0.206 * scale), np.full(2, 1.11e9), np.full(2, 0.234),
                             np.full(2, 667.0)))
    r.meet = True
    twin = copy.deepcopy(r)
    for kick in kicks:
        for router in (r, twin):
            venue = router.venues[0]
            venue.sell(kick * 100.0) if kick > 0 else venue.buy(-kick * 100.0) if kick < 0 else None
        fell = _block(r, half_life)
        with compiled.python_path():
            assert _block(twin, half_life) == fell         # both paths fail alike
        if fell:
            return
        assert _states(r) == _states(twin)
        for name in ("price", "permanent", "temporary", "outstanding", "flow"):
            assert getattr(r.reference, name).tobytes() == getattr(twin.reference, name).tobytes(), name


def _states(r: Router) -> bytes:
    """Every venue's moving numbers as float64 bytes (the Python walk leaves numpy floats where numba's leaves
    Python ones: the same values, other reprs)."""
    got = []
    for v in r.venues:
        got += ([v.base, v.quote] if isinstance(v, V2Pool) else [v.reference, v.net_sold] if isinstance(v, DepthBook)
                else [v.state.sqrt_price, v.state.tick, v.state.liquidity])
    return np.array(got, dtype=float).tobytes()


def _block(r: Router, half_life: float) -> str:
    """One block's arbitrage: '' or the error it raised (arb_meet.TooFar, where the maths cannot hold)."""
    try:
        r.arbitrage(12.0, half_life)
    except ValueError as err:
        return repr(err)
    return ""
