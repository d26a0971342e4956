"""clip.take_one and needs_redo_one (the keepers' per-auction take and status in plain floats) against
clip.take and needs_redo (numpy): the same floats, NaN and zero prices included."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest.protocols.maker import clip as mk

AMOUNT = st.one_of(st.floats(0.0, 1e9), st.sampled_from([0.0, 1e-12, math.nan, math.inf]))


def _same(x, y) -> bool:
    x, y = float(x), float(y)
    return (x != x and y != y) or (x == y and math.copysign(1.0, x) == math.copysign(1.0, y))


def _check(tab, lot, price, amt, max_price, chost):
    with np.errstate(all="ignore"):
        want = mk.take(tab, lot, price, amt, max_price, chost)
    got = mk.take_one(tab, lot, price, amt, max_price, chost)
    assert bool(want.allowed) == got.allowed
    for w, g in zip(want[:4], got[:4]):
        assert _same(w, g), (want, got)


@settings(max_examples=3000, deadline=None)
@given(AMOUNT, AMOUNT, st.one_of(st.floats(0.0, 1e5), st.just(0.0)), st.floats(0.0, 1.0),
       st.floats(0.5, 2.0), st.floats(0.0, 1e6))
def test_take_one_gives_takes_floats(tab, lot, price, share, above, chost):
    _check(tab, lot, price, lot * share, price * above, chost)


def test_take_one_edges_partial_refused_zero_price_and_nan():
    # a slice leaving less than chost is cut to leave exactly chost; refused when the tab is <= chost
    _check(10_000.0, 10.0, 1_500.0, 6.5, 1_500.0, 1_000.0)
    _check(900.0, 10.0, 1_500.0, 0.5, 1_500.0, 1_000.0)
    assert mk.take_one(900.0, 10.0, 50.0, 0.5, 50.0, 1_000.0).allowed is False
    # a zero price: numpy's inf / NaN, not a ZeroDivisionError
    _check(5_000.0, 10.0, 0.0, 5.0, 0.0, 6_000.0)       # a refused partial: (tab - chost) / 0
    _check(-1.0, 10.0, 0.0, 5.0, 0.0, 0.0)              # owe 0 > tab -1: tab / 0
    _check(math.nan, 10.0, 1_500.0, 5.0, 1_500.0, 100.0)
    _check(5_000.0, 10.0, math.nan, 5.0, math.nan, 100.0)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.floats(0.0, 1e4), st.just(math.nan)), st.one_of(st.floats(0.0, 1e4), st.just(math.nan)),
       st.one_of(st.floats(0.0, 1e4), st.sampled_from([0.0, math.nan])), st.floats(0.0, 1e4), st.floats(0.0, 1.0))
def test_needs_redo_one_is_needs_redo(dur, price, top, tail, cusp):
    with np.errstate(all="ignore"):
        assert mk.needs_redo_one(dur, price, top, tail, cusp) == bool(mk.needs_redo(dur, price, top, tail, cusp))


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.floats(0.0, 1e9), st.sampled_from([0.0, math.nan, math.inf])),
       st.one_of(st.floats(0.0, 1e6), st.sampled_from([0.0, 90.0, 8_400.0, math.nan, math.inf, -1.0])),
       st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.99, 0.0, 1.0, 1.5])),
       st.one_of(st.floats(1e-3, 1e4), st.sampled_from([90.0, 60.0, 0.0, -90.0])))
def test_stairstep_one_is_the_numpy_curve_bit_for_bit(top, dur, cut, step):
    with np.errstate(all="ignore"):            # the edges (cut 0, negative or NaN ages) warn, both ways
        want = float(mk.stairstep_exponential_decrease(top, dur, cut, step))
        got = mk.stairstep_one(top, dur, cut, step)
    assert _same(got, want)


NUMBER = st.one_of(st.floats(-1e6, 1e9), st.sampled_from([0.0, -0.0, 1e-12, math.nan, math.inf, -math.inf]))


@settings(max_examples=3000, deadline=None)
@given(NUMBER, NUMBER, NUMBER, NUMBER)
def test_room_one_is_room_bit_for_bit(Hole, Dirt, hole, dirt):
    with np.errstate(all="ignore"):
        want = mk.room(Hole, Dirt, hole, dirt)
    assert _same(mk.room_one(Hole, Dirt, hole, dirt), want)


@settings(max_examples=5000, deadline=None)
@given(AMOUNT, AMOUNT, st.sampled_from([1.0, 1.0, 1.07, 0.0, math.nan]), st.sampled_from([1.13, 1.0, 0.0, 1.5]),
       st.one_of(st.floats(0.0, 1e5), st.sampled_from([0.0, math.nan])), NUMBER, st.floats(0.0, 1.2))
def test_bark_one_is_bark_bit_for_bit(ink, art, rate, chop, dust, room, near):
    """Partial barks, dusty rests taken whole, dusty partials refused, no room, zero rate or penalty, NaN."""
    if near and math.isfinite(art):             # a room just around the debt: the partial and dust branches
        room = art * rate * chop * near
    with np.errstate(all="ignore"):
        want = mk.bark(ink, art, rate, chop, dust, room)
        got = mk.bark_one(ink, art, rate, chop, dust, room)
    assert bool(want.allowed) == got.allowed and type(got.allowed) is bool
    for w, g in zip(want[:4], got[:4]):
        assert type(g) is float and _same(w, g), (want, got)


def test_bark_one_takes_a_dusty_rest_whole_and_refuses_a_dusty_partial():
    whole = mk.bark_one(10.0, 10_000.0, 1.0, 1.1, 500.0, 9_900.0 * 1.1)     # 100 left < dust 500: all of it
    assert whole.allowed and whole.dart == 10_000.0 and whole.dink == 10.0
    part = mk.bark_one(10.0, 10_000.0, 1.0, 1.1, 500.0, 5_000.0 * 1.1)       # half: both sides above dust
    assert part.allowed and part.dart == 5_000.0 and part.dink == 5.0
    assert not mk.bark_one(10.0, 10_000.0, 1.0, 1.1, 500.0, 300.0 * 1.1).allowed      # a partial below dust


@settings(max_examples=500, deadline=None)
@given(AMOUNT, st.one_of(st.floats(0.0, 1e6), st.just(math.nan)), st.sampled_from([1.2, 1.0, 1.3]),
       st.sampled_from([250.0, 0.0, 300]), st.sampled_from([0.001, 0.0, 0.02]))
def test_kick_in_plain_floats_is_kick(tab, price, buf, tip, chip):
    """Maker.liquidate's kick (top = price x buf, coin = tip + tab x chip) in plain floats: clip.kick's numbers."""
    with np.errstate(all="ignore"):             # an infinite tab times a zero chip: NaN, as in plain floats
        top, coin = mk.kick(tab, np.float64(price), buf, tip, chip)
    one = mk.kick_one(tab, price, buf, tip, chip)
    assert _same(one[0], top) and _same(one[1], coin)


@pytest.mark.filterwarnings("ignore:.*encountered in power:RuntimeWarning")   # numpy's cut^k of a cut of 0 or past 1
@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.floats(0.0, 1e6), st.sampled_from([0.0, 2_400.0, math.nan, math.inf])),
       st.floats(0.0, 1e6), st.floats(0.0, 1e6), st.floats(0.0, 8.0),
       st.one_of(st.floats(0.5, 1.0), st.sampled_from([0.99, 1.0, 0.0, 1.5])),
       st.one_of(st.floats(1e-3, 1e4), st.sampled_from([90.0, 60.0, 0.0])),
       st.one_of(st.floats(0.0, 1e6), st.sampled_from([7_200.0, math.inf, math.nan])),
       st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.45, 0.0, math.nan])), st.lists(st.floats(0.0, 1.0), max_size=6))
def test_stairstep_least_is_a_floor_of_every_price_in_its_window(top, tic, since, steps, cut, step, tail, cusp, at):
    # Floors (backtest/protocols/maker/floors.py) skips an ilk's auctions on it: at every age of the window
    # (its ends, points inside, each price cut in it and the float either side) the auction needs no redo
    # and prices at or above the least; fails with the least read at the window's first cut only.
    until = since + steps * step
    least = mk.stairstep_least(top, since - tic, until - tic, cut, step, tail, cusp)
    if least is None:
        return
    nows = [since, until, *(since + x * (until - since) for x in at)]
    k = (since - tic) // step
    while tic + k * step <= until and len(nows) < 40:
        edge = tic + k * step
        nows += [edge, math.nextafter(edge, -math.inf), math.nextafter(edge, math.inf)]
        k += 1.0
    for now in (t for t in nows if since <= t <= until):
        dur = now - tic
        price = mk.stairstep_one(top, dur, cut, step)
        assert not mk.needs_redo_one(dur, price, top, tail, cusp)
        assert least <= price, (now, price, least)


def test_stairstep_least_refuses_a_window_a_redo_or_a_long_span_could_fall_in():
    assert mk.stairstep_least(2_400.0, 0.0, 360.0, 0.99, 90.0, 7_200.0, 0.45) == 2_400.0 * float(np.power(0.99, 4.0))
    assert mk.stairstep_least(2_400.0, 7_000.0, 7_360.0, 0.99, 90.0, 7_200.0, 0.45) is None     # past tail
    assert mk.stairstep_least(2_400.0, 6_000.0, 6_300.0, 0.90, 90.0, 7_200.0, 0.45) is None     # below cusp x top
    assert mk.stairstep_least(2_400.0, 0.0, 900.0, 0.99, 90.0, 7_200.0, 0.45) is None          # 11 cuts: not kept


SIZES = (1.0, 0.5, 0.25, 0.1)


def _takes(tab, lot, price, chost, sizes=SIZES):
    takes = [mk.take_one(tab, lot, price, lot * s, price, chost) for s in sizes]
    return [(t.slice, t.owe) for t in takes if t.allowed and t.slice > 0]


@settings(max_examples=5000, deadline=None)
@given(st.one_of(st.floats(0.0, 1e7), st.sampled_from([0.0, math.inf, math.nan])), AMOUNT,
       st.one_of(st.floats(1e-6, 1e5), st.sampled_from([0.0, math.inf])), st.floats(0.0, 2e4),
       st.floats(0.0, 1e5), st.sampled_from([0.99, 1 - 1e-8, 1 - 1e-9, 1.0, 1 + 1e-9, 1 + 1e-8, 1.01, math.inf]),
       st.sampled_from([1 + 1e-12, 1 + 1e-10, 1 + 1e-9, 1 + 3e-9, 1.001, 2.0]), st.floats(0.0, 1e3),
       st.lists(st.floats(0.01, 1.0), min_size=0, max_size=3))
def test_no_take_clears_only_where_none_can_clear_says_so_of_every_size(tab, lot, price, chost, floor, rel, over,
                                                                          gas, sizes):
    """clip.no_take_clears skips building an auction's Takes: where it says no take clears `bar`, none_can_clear
    says so of the takes of every size. Sale ceilings about the price paid for the DAI (rel), bars just above what
    the best take can gross (over) or above the gas alone, where a margin below SLACK's would fail."""
    from backtest.protocols.shared import none_can_clear
    ceiling = price * floor * rel if price * floor * rel == price * floor * rel else 1.0
    takes = _takes(tab, lot, price, chost, (1.0, *sizes))
    gross = max((s * ceiling - o * floor for s, o in takes), default=0.0)
    for bar in (gross * over, gross * over + gas, gas, gross + 1e-9 * gross * over):
        if mk.no_take_clears(tab, lot, price, chost, ceiling, floor, bar):
            assert none_can_clear(takes, ceiling, floor, bar), (takes, ceiling, floor, bar)


def test_no_take_clears_a_dear_auction_and_a_small_one_and_not_a_cheap_one():
    # 10 units at 1,000 DAI each, the sale ceiling 900 USD, DAI at 1: every take loses.
    assert mk.no_take_clears(1e4, 10.0, 1_000.0, 100.0, 900.0, 1.0, 5.0)
    # sold at 1,010: the whole lot grosses 100 USD, below a bar of 150, above one of 50.
    assert mk.no_take_clears(1e5, 10.0, 1_000.0, 100.0, 1_010.0, 1.0, 150.0)
    assert not mk.no_take_clears(1e5, 10.0, 1_000.0, 100.0, 1_010.0, 1.0, 50.0)
    # the tab caps the slice at 1 unit: 10 USD of gross at most.
    assert mk.no_take_clears(1e3, 10.0, 1_000.0, 100.0, 1_010.0, 1.0, 11.0)
    for bad in (math.nan, math.inf):
        assert not mk.no_take_clears(1e5, 10.0, 1_000.0, 100.0, bad, 1.0, 150.0)
        assert not mk.no_take_clears(1e5, bad, 1_000.0, 100.0, 900.0, 1.0, 150.0)
        assert not mk.no_take_clears(1e5, 10.0, 1_000.0, 100.0, 900.0, 1.0, bad)
