"""Partial arbitrage at the meeting price (backtest/markets/arb_meet.py) far from balance: the reference ends
each block between where it was and the meeting price, and what the maths cannot hold is a one-line error.

Found at 8x WETH's impact and a 30 s half-life: a v2 pool at 100 beside a depth book at 48,572 took the
reference from 2,504 to 0 (a book re-centred on the meeting price with its marginal kept partway there
booked a purchase of its asks to ~10x its centre, which asks cannot reach: the whole ask tail, ~1e14 USD),
and the next block's bracket took log(0)."""

import copy
import math

import numpy as np
import pytest

from backtest import compiled
from backtest.markets import arb_meet
from backtest.markets.depth_book import USD, DepthBook
from backtest.markets.reference import ReferenceMarket
from backtest.markets.router import Router
from backtest.markets.venue_kinds import V2Pool

ETH = 0
CURVE = dict(impacts=np.array([0.005, 0.01, 0.02, 0.05]), amounts=np.array([100.0, 250.0, 600.0, 2_000.0]))


def router(venues: list, price: float = 2_504.0, scale: float = 8.0) -> Router:
    """`venues` of ETH over a reference at `price` with `scale` x WETH's impact (Y sigma 0.206, V 1.11e9 USD a
    day, theta 0.234, h 667 s), meeting."""
    r = Router(np.array([price]), venues)
    r.attach(ReferenceMarket(r.price.copy(), np.full(1, 0.206 * scale), np.full(1, 1.11e9), np.full(1, 0.234),
                             np.full(1, 667.0)))
    r.meet = True
    return r


def pool_and_book(book_depth: float) -> Router:
    return router([V2Pool(ETH, USD, 1e3, 1e5, 0.003, name="pool"),
                   DepthBook(ETH, fee=0.001, reference=48_572.0, name="book", impacts=CURVE["impacts"],
                             amounts=CURVE["amounts"] * book_depth / 1e3)])


def between_each_block(r: Router, blocks: int, half_life: float = 30.0) -> list:
    """Blocks of partial arbitrage 12 s apart; each block's (reference before, meeting price, reference after)."""
    out = []
    for _ in range(blocks):
        twin = copy.deepcopy(r)
        twin.reference.decay(12.0)
        before = float(twin.price[ETH])
        p = arb_meet.meeting_price(twin, ETH, twin.price.tolist())
        r.arbitrage(12.0, half_life)
        out.append((before, p, float(r.price[ETH])))
    return out


@pytest.mark.parametrize("python", [False, True])
@pytest.mark.parametrize("book_depth", [1e3, 1e4])
def test_a_book_far_off_beside_a_pool_leaves_the_reference_between_where_it_was_and_the_meeting_price(python,
                                                                                                   book_depth):
    with compiled.python_path(python):
        r = pool_and_book(book_depth)
        seen = between_each_block(r, 6)
    for before, p, after in seen:
        assert min(before, p) * (1 - 1e-12) <= after <= max(before, p) * (1 + 1e-12)
    assert seen[0][2] < seen[0][0] and seen[-1][2] > 2_000.0          # down toward the pool, nowhere near 0
    pool, book = r.venues
    assert pool.mid() < book.mid() and book.net_sold == 0.0 and book.reference == seen[-1][2]   # re-quoted


def test_a_books_partial_step_refills_its_consumed_depth_and_recentres_for_nothing():
    keep = 0.5 ** (12.0 / 30.0)
    fresh = DepthBook(ETH, fee=0.001, reference=2_600.0, name="fresh", **CURVE)         # nothing consumed, off-centre
    eaten = DepthBook(ETH, fee=0.001, reference=2_600.0, name="eaten", **CURVE)
    eaten.sell(400.0)
    r = router([fresh, eaten], price=2_500.0, scale=1.0)
    gap = math.log(eaten.mid() / eaten.reference)
    with compiled.python_path():
        p = arb_meet.meeting_price(r, ETH, r.price.tolist())
        goals = arb_meet._goals(r.venues, [v.mid() for v in r.venues], [1.0, 1.0], p, keep)
    assert fresh.pulled(goals[0], p) == (0.0, 0.0)                 # re-centred on p, nothing bought or sold
    assert math.log(goals[1] / p) == pytest.approx(keep * gap, rel=1e-12)
    assert -400.0 < eaten.pulled(goals[1], p)[0] < 0.0                 # part of what it absorbed passed on


def two_pools_across() -> Router:
    """A pool at 40 (bought from: its flow is concave in the log move) and one at 35,000 (sold into: convex):
    their partial flows add to more than their whole flows do."""
    return router([V2Pool(ETH, USD, 7e4, 7e4 * 40.0, 0.003, name="low"),
                   V2Pool(ETH, USD, 1.1e4, 1.1e4 * 35_000.0, 0.003, name="high")], price=2_000.0)


@pytest.mark.parametrize("python", [False, True])
def test_a_partial_step_that_would_cross_the_meeting_price_is_taken_whole(python):
    with compiled.python_path(python):
        r, whole = two_pools_across(), two_pools_across()
        keep = 0.5 ** (12.0 / 30.0)
        mids, price = [v.mid() for v in r.venues], r.price.tolist()
        p = arb_meet.meeting_price(r, ETH, price)
        assert arb_meet._crosses(r, ETH, price, 0.0, mids, [1.0, 1.0], p,
                                 arb_meet._goals(r.venues, mids, [1.0, 1.0], p, keep))
        (before, met, after), = between_each_block(r, 1)
        whole.arbitrage(12.0, 0.0)
    assert after == pytest.approx(met, rel=1e-9) and met < before
    assert [v.mid() for v in r.venues] == [v.mid() for v in whole.venues]
    assert r.reference.price.tobytes() == whole.reference.price.tobytes()


def test_the_compiled_partial_steps_are_the_python_ones_bit_for_bit():
    for make in (lambda: pool_and_book(1e4), two_pools_across):
        got, want = make(), make()
        for _ in range(4):
            got.arbitrage(12.0, 30.0)
            with compiled.python_path():
                want.arbitrage(12.0, 30.0)
            assert got.reference.price.tobytes() == want.reference.price.tobytes()
            assert _states(got) == _states(want)


def _states(r: Router) -> bytes:
    return np.array([[v.mid(), getattr(v, "base", 0.0), getattr(v, "net_sold", 0.0)] for v in r.venues]).tobytes()


@pytest.mark.parametrize("python", [False, True])
@pytest.mark.parametrize("case", ["drained", "nan", "reference inf", "reference 0", "extra"])
def test_what_the_maths_cannot_hold_is_a_one_line_error_naming_asset_and_venue(python, case):
    pool = V2Pool(ETH, USD, 1e3, 2e6, 0.003, name="0xpool")
    r = router([V2Pool(ETH, USD, 5e2, 1e6, 0.003, name="0xother"), pool], price=2_000.0)
    price, extra = r.price.tolist(), 0.0
    if case == "drained":
        pool.quote = 0.0
    elif case == "nan":
        pool.base = math.nan
    elif case == "extra":                   # a quote-side flow past anything the reference can price
        extra = 1e300
    else:
        price[ETH] = math.inf if case == "reference inf" else 0.0
    with compiled.python_path(python), pytest.raises(ValueError) as err:
        arb_meet.meeting_price(r, ETH, price, extra)
    assert isinstance(err.value, arb_meet.TooFar)
    text = str(err.value)
    named = "0xpool" in text if case in ("drained", "nan") else "'0x" in text
    assert "\n" not in text and "asset 0" in text and named


def test_the_earlier_rule_refills_a_books_depth_too():
    # `arbitrage = "pull"` (Router.arbitrage's own loop) took the same book's partial goal: the reference went to
    # ~2e-313 in one block; a book's partial step there is arb_meet._part's as well
    r = pool_and_book(1e3)
    r.meet = False
    for _ in range(4):
        r.arbitrage(12.0, 30.0)
        assert 100.0 < float(r.price[ETH]) < 2_504.0
        assert r.venues[1].net_sold == 0.0          # nothing consumed: re-centred, no flow
