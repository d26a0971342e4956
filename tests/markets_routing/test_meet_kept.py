"""The meeting-price rows a router keeps between blocks (backtest/markets/meet_kept.py) give the kernel the
floats a table built afresh gives (meet_compiled.table, inputs), block after block, and are built again when
a venue, a v3 pool's tick table or a book's knots are other objects."""

import dataclasses

import numpy as np
import pytest

from backtest import compiled
from backtest.markets import arb_meet, meet_compiled, meet_kept
from backtest.markets.carried import CarriedFlow
from backtest.markets.depth_book import USD, DepthBook
from backtest.markets.reference import ReferenceMarket
from backtest.markets.router import Router
from backtest.markets.venue_kinds import V2Pool, V3Pool
from tests.markets_routing.test_arbitrage_meeting import CURVE, mixed

ETH = 0
pytestmark = pytest.mark.skipif(meet_kept.meet_settle_kept is None or not compiled.ON, reason="numba not installed")


def router(quote: int, carried: bool) -> Router:
    qp = 1.0 if quote == USD else 0.9987
    venues = mixed([("2", 300.0, 0.003, 0.05), ("3", 1e3, 0.0005, -0.1), ("d", 1e3, 0.001, 0.1)], quote, qp, True,
                   (18, 6))
    r = Router(np.array([2_000.0, qp]), venues)
    r.attach(ReferenceMarket(r.price.copy(), np.full(2, 0.206), np.full(2, 1.11e9), np.full(2, 0.234),
                             np.full(2, 667.0)))
    if carried:
        r.reference.carried = CarriedFlow(np.array([[(1e5, 2e5), (0.0, 0.0)]]))
    r.meet = True
    return r


def both(r: Router, keep: float, extra: float = 0.0) -> tuple:
    """(the kept rows' answer, a fresh table's) for ETH now, each as a repr (floats to the last bit)."""
    price = r.price.tolist()
    venues = [r.venues[v] for v in r.by_asset[ETH]]
    mids = [v.mid() for v in venues]
    units = [1.0 if v.quote_asset == USD else price[v.quote_asset] for v in venues]
    lo = np.log(min(m * q for m, q in zip(mids, units)) * 0.5)
    hi = np.log(max(m * q for m, q in zip(mids, units)) * 2.0)
    kept = meet_kept.meeting_price(r, ETH, price, venues, mids, units, extra, lo, hi, keep)
    fresh = meet_compiled.meeting_price(r, ETH, price, mids, units, extra, lo, hi, keep)
    return repr(kept), repr(fresh)


@pytest.mark.parametrize("quote", [USD, 1])
@pytest.mark.parametrize("carried", [False, True])
@pytest.mark.parametrize("keep", [0.0, 0.7])
def test_the_kept_rows_answer_as_a_fresh_table_block_after_block(quote, carried, keep):
    r = router(quote, carried)
    for kick in (0.0, 2.0, -5.0, 30.0, -0.5):
        venue = r.venues[1]
        venue.sell(kick) if kick > 0 else venue.buy(-kick) if kick < 0 else None
        kept, fresh = both(r, keep, extra=1e5 * kick)
        assert kept == fresh and "nan" not in kept
        r.arbitrage(12.0, 30.0 if keep else 0.0)
    assert set(r._meet_kept) == {ETH}


def test_new_knots_or_a_new_tick_table_build_the_rows_again():
    r = router(USD, False)
    r.venues[1].sell(20.0)
    first, _ = both(r, 0.7)                     # partial: a book's pull reads its knots
    rows = r._meet_kept[ETH][2]
    book = next(v for v in r.venues if isinstance(v, DepthBook))
    a, i, cum = book._knots
    book._knots = ([2.0 * x for x in a], i, [2.0 * x for x in cum])        # twice as deep
    kept, fresh = both(r, 0.7)
    assert kept == fresh != first and r._meet_kept[ETH][2] is not rows
    pool = next(v for v in r.venues if isinstance(v, V3Pool))
    s = pool.state
    pool.state = dataclasses.replace(s, ticks=s.ticks.copy(), liquidity_net=s.liquidity_net * 2.0)
    again, fresh = both(r, 0.7)
    assert again == fresh != kept


def test_arbitrage_on_kept_rows_is_the_python_path_bit_for_bit():
    got, want = router(1, True), router(1, True)
    for kick in (3.0, -8.0, 0.0, 15.0):
        for r in (got, want):
            r.venues[0].sell(kick) if kick > 0 else r.venues[0].buy(-kick) if kick < 0 else None
        got.arbitrage(12.0, 0.0)
        with compiled.python_path():
            want.arbitrage(12.0, 0.0)
        assert got.reference.price.tobytes() == want.reference.price.tobytes()
        assert got.venue_price.tobytes() == want.venue_price.tobytes()
    assert got._meet_block.table is not None and not want.__dict__.get("_meet_block")       # meet_block's one call
    assert arb_meet.meeting_price(got, ETH, got.price.tolist()) > 0.0


def _generic(r: Router, price: list, venues: list, mids: list, units: list, extra: float, keep: float):
    """arb_meet.arbitrage's step one call at a time: None (idle), `_meet`'s answer, or the error it raises."""
    if extra == 0.0 and arb_meet._idle(venues, mids, units, price[ETH]):
        return None
    try:
        return arb_meet._meet(r, ETH, price, extra, mids, units, keep, venues)
    except ValueError as err:
        return type(err)


@pytest.mark.parametrize("case", ["moved", "idle", "extra", "drained", "nan reference", "inf reference"])
@pytest.mark.parametrize("keep", [0.0, 0.7])
def test_one_call_a_step_answers_as_idle_then_meet(case, keep):
    r = router(1, False)
    r.arbitrage(12.0, 0.0)
    extra = 0.0
    if case == "idle":                  # a pool at the reference and a book centred on it: nothing trades
        r = Router(np.array([2_000.0, 1.0]), [V2Pool(ETH, USD, 10.0, 20_000.0, 0.003),
                                              DepthBook(ETH, fee=0.001, reference=2_000.0, **CURVE)])
    elif case in ("moved", "extra"):
        r.venues[1].sell(25.0)
        extra = 3e6 if case == "extra" else 0.0
    elif case == "drained":
        r.venues[0].quote = 0.0
    price = r.price.tolist()
    if case.endswith("reference"):
        price[ETH] = np.nan if case.startswith("nan") else np.inf
    venues = [r.venues[v] for v in r.by_asset[ETH]]
    mids = [v.mid() for v in venues]
    units = [1.0 if v.quote_asset == USD else price[v.quote_asset] for v in venues]
    got = meet_kept.step(r, ETH, price, venues, mids, units, extra, keep)
    want = _generic(r, price, venues, mids, units, extra, keep)
    if want is None:
        assert got == meet_kept.IDLE and case == "idle"
    elif want is arb_meet.TooFar:
        assert got == meet_kept.ASIDE and case in ("drained", "nan reference", "inf reference")
    else:
        assert repr(got) == repr(want) and case in ("moved", "extra")
