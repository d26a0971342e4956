"""Arbitrage's block in one compiled call (backtest/markets/meet_block.py) leaves every venue and the reference
market as arb_meet's loop on the Python path does, bit for bit, on routers of several assets: one with venues quoted
in another asset that has venues (its quote side steps that asset), pools quoted in a stablecoin without venues
(traded last), a carried real flow, partial arbitrage, trades between blocks; and where the loop raises, the kernel
changes nothing and the loop raises the same."""

import copy
import dataclasses
from unittest import mock

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from backtest import compiled
from backtest.markets import meet_block
from backtest.markets.carried import CarriedFlow
from backtest.markets.depth_book import USD, DepthBook
from backtest.markets.reference import ReferenceMarket
from backtest.markets.router import Router
from backtest.markets.venue_kinds import V2Pool
from tests.markets_routing.test_arbitrage_meeting import CURVE, v3_pool

pytestmark = pytest.mark.skipif(meet_block.block_kernel is None or not compiled.ON, reason="numba not installed")

ETH, STETH, USDC, CRV = 0, 1, 2, 3
PRICES = (2_000.0, 2_100.0, 0.9987, 0.5)
QUOTES = {ETH: (USDC, USD), STETH: (ETH, USDC, USD), CRV: (USDC, USD)}     # stETH's ETH pools step ETH


def venue(asset: int, kind: str, quote: int, depth: float, fee: float, move: float):
    """A venue of `asset` quoted in `quote` at the reference prices, moved off them by its own trade."""
    px = PRICES[asset] / (1.0 if quote == USD else PRICES[quote])
    if kind == "2":
        made = V2Pool(asset, quote, depth, depth * px, fee, name="v2")
    elif kind == "3":
        made = dataclasses.replace(v3_pool(depth, fee, quote, px, asset != CRV, (18, 6)), asset=asset)
    else:
        made = DepthBook(asset, fee=fee, reference=px, quote_asset=quote, impacts=CURVE["impacts"],
                         amounts=CURVE["amounts"] * depth / 1e3)
    made.sell(move * depth) if move > 0 else made.buy(-move * depth) if move < 0 else None
    return made


def router(venues: list, scale: float, carried, outstanding: float, usdc: float = 1.0) -> Router:
    r = Router(np.array(PRICES), venues)
    r.attach(ReferenceMarket(r.price.copy(), np.array([0.206, 0.19, 0.0024 * usdc, 0.33]) * scale, np.full(4, 1.11e9),
                             np.full(4, 0.234), np.full(4, 667.0)))
    r.reference.outstanding[ETH] = outstanding
    if carried is not None:
        r.reference.carried = CarriedFlow(np.array([[carried, carried[::-1], (0.0, 0.0), carried]]))
    r.meet = True
    return r


def state(r: Router) -> bytes:
    """Every venue's moving numbers, the reference's arrays, the carried flow left and the venues' USD prices, as
    float64 bytes (the Python path leaves numpy floats where the kernel leaves Python ones: the same values)."""
    got = []
    for v in r.venues:
        got += ([v.base, v.quote] if isinstance(v, V2Pool) else [v.reference, v.net_sold] if isinstance(v, DepthBook)
                else [v.state.sqrt_price, v.state.tick, v.state.liquidity])
    ref = r.reference
    arrays = [ref.price, ref.permanent, ref.temporary, ref.outstanding, ref.flow, r.venue_price]
    arrays += [] if ref.carried is None else [ref.carried.left.ravel()]
    return np.array(got, dtype=float).tobytes() + b"".join(a.tobytes() for a in arrays)


def play(r: Router, seconds: float, half_life: float) -> str:
    """One block's arbitrage: '' or the error it raised."""
    try:
        r.arbitrage(seconds, half_life)
    except ValueError as err:
        return repr(err)
    return ""


VENUE = st.tuples(st.sampled_from("23d"), st.integers(0, 2), st.floats(1e2, 1e5), st.sampled_from([0.0005, 0.003, 0.01]),
                  st.one_of(st.just(0.0), st.floats(-0.3, 0.3)))
SAMPLE = {ETH: [("2", 0, 3e4, 0.003, 0.0), ("3", 0, 1e3, 0.0005, -0.05), ("d", 1, 1e3, 0.001, 0.02)],
          STETH: [("2", 1, 1e4, 0.003, 0.01), ("3", 0, 1e3, 0.0001, 0.03)], CRV: [("2", 0, 1e5, 0.003, -0.1)]}


@settings(max_examples=150, deadline=None)
@given(layout=st.fixed_dictionaries({a: st.lists(VENUE, min_size=0, max_size=3) for a in QUOTES}),
       scale=st.sampled_from([0.0, 1.0, 8.0]), outstanding=st.sampled_from([0.0, -3e7, 2e6]),
       carried=st.one_of(st.none(), st.tuples(st.sampled_from([0.0, 1e5, 1e8]), st.sampled_from([0.0, 1e5, 1e8]))),
       half_life=st.sampled_from([0.0, 30.0]),
       kicks=st.lists(st.tuples(st.integers(0, 8), st.floats(-0.2, 0.2)), min_size=1, max_size=4))
@example(layout=SAMPLE, scale=1.0, outstanding=0.0, carried=None, half_life=0.0, kicks=[(0, 0.0), (3, 0.1), (5, -0.1)])
@example(layout=SAMPLE, scale=1.0, outstanding=-3e7, carried=(1e5, 1e8), half_life=30.0, kicks=[(1, 0.05), (4, -0.2)])
def test_one_call_a_block_leaves_venues_and_reference_as_the_python_loop(layout, scale, outstanding, carried,
                                                                          half_life, kicks):
    venues = [venue(a, kind, QUOTES[a][q % len(QUOTES[a])], depth, fee, move)
              for a, chosen in layout.items() for kind, q, depth, fee, move in chosen]
    got = router(venues, scale, carried, outstanding)
    want = copy.deepcopy(got)
    answers = []
    block = meet_block.block

    def spy(r, keep):
        answers.append(block(r, keep))
        return answers[-1]
    for k, (at, kick) in enumerate(kicks):
        for r in (got, want):
            if r.venues:
                v = r.venues[at % len(r.venues)]
                size = kick * (v.base if isinstance(v, V2Pool) else 100.0)
                v.sell(size) if size > 0 else v.buy(-size) if size < 0 else None
        with mock.patch.object(meet_block, "block", spy):
            fell = play(got, 12.0 * (k + 1), half_life)
        with compiled.python_path():
            assert play(want, 12.0 * (k + 1), half_life) == fell          # both paths raise alike
        assert state(got) == state(want)
        if fell:
            return
        assert not venues or answers[-1]                                 # the kernel made the block
    assert not want.__dict__.get("_meet_block")


@pytest.mark.parametrize("case", ["drained", "out of range", "another kind"])
def test_where_the_loop_must_answer_the_kernel_changes_nothing(case):
    """A drained pool (arb_meet.TooFar), an impact that takes a price past a float's range (OutOfRange: USDC's,
    the quote sides' trade last, after every asset traded) and a venue of another kind: the kernel answers False,
    nothing moved, and the loop plays the block as on the Python path."""
    venues = [venue(a, kind, QUOTES[a][q], depth, fee, move) for a, chosen in SAMPLE.items()
              for kind, q, depth, fee, move in chosen]
    if case == "another kind":
        venues.append(dataclasses.replace(venues[0], name="mine"))
        venues[-1].__class__ = type("Mine", (V2Pool,), {})
    got = router(venues, 1.0, None, 0.0, usdc=1e9 if case == "out of range" else 1.0)
    if case == "drained":
        got.venues[-1].quote = 0.0
    want = copy.deepcopy(got)
    before = state(got)
    got._all_moved()
    assert meet_block.block(got, 0.0) is False and state(got) == before
    fell = play(got, 12.0, 0.0)
    with compiled.python_path():
        assert play(want, 12.0, 0.0) == fell
    assert state(got) == state(want) and (fell != "") == (case != "another kind")


def test_the_kernels_mids_are_the_venues_own():
    """meet_block's v3 and book mids (the block's table and Router._requote's venue prices) equal V3Pool._mid_at and
    DepthBook.mid bit for bit over 20,000 sqrt prices and depths sold, where `sp * sp` (LLVM's square of a constant
    `** 2`) differs from Python's `sp ** 2` (the C library's pow) in ~1 of 1,000, and past a book's last knot."""
    rng = np.random.default_rng(19)
    sps = np.exp(rng.uniform(-20.0, 20.0, 20_000))
    for token0 in (True, False):
        pool = v3_pool(1e3, 0.003, USD, 2_000.0, token0, (18, 6))
        factor = pool._raw_price_factor()
        got = np.array([meet_block._v3_mid(sp, factor, token0, 2.0) for sp in sps.tolist()])
        want = np.array([pool._mid_at(sp) for sp in sps.tolist()])
        assert got.tobytes() == want.tobytes()
    assert (sps * sps != np.array([sp ** 2 for sp in sps.tolist()])).sum() > 0          # the case that tells
    book = DepthBook(ETH, fee=0.001, reference=2_000.0, impacts=CURVE["impacts"], amounts=CURVE["amounts"])
    kept = meet_block._build(Router(np.array(PRICES), [book]))
    table, tables, last = kept.table, kept.tables, book._knots[0][-1]
    for net in np.concatenate([rng.uniform(-last, last, 2_000), rng.uniform(-50.0 * last, 50.0 * last, 30_000),
                               [0.0, -0.0, last, -last]]).tolist():
        book.net_sold, book.reference = net, float(np.exp(rng.uniform(-5, 10)))
        table[0, 4:8] = (net, book.reference, *book._tail)
        assert np.float64(meet_block._book_mid(table, 0, tables, 2.0)).tobytes() == np.float64(book.mid()).tobytes()
