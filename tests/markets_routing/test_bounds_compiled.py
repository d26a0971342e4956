"""The ceilings compiled over the venue table (markets/bounds_compiled.py, Prescreen.order's) are Router.ceilings'
Python pass, bit for bit:
each asset's PriceBounds._bounds (the venues' first_marginals() times their quote assets' prices, the first
venue's kept unless strictly beaten), its reference price where it has no venue, after any trades, path moves
and arbitrage, and on venues set where a square is a rounding tie (C's pow and x * x differ there), a book at
±0.0, NaN, beyond its last knot or before its first."""

import math
import struct
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest import compiled
from backtest.markets import bounds_compiled
from backtest.markets.depth_book import DepthBook
from backtest.markets.reference import OutOfRange
from backtest.markets.venue_kinds import V2Pool
from tests.perf.test_quote_compiled import PRICE, router

pytestmark = pytest.mark.skipif(bounds_compiled._fill is bounds_compiled._fill_py or not compiled.ON,
                                reason="numba not installed")



def tie_near(x: float) -> float:
    """A float at or up to 1.42x above x, of 27 significant bits (odd, at least 2^26.5: its square is odd and 54
    bits long, a tie between two doubles), whose square C's pow rounds otherwise than x * x does."""
    m, e = math.frexp(x)
    k = max(int(m * 2**27), math.isqrt(2**53) + 1) | 1
    while (y := math.ldexp(k, e - 27)) * y == y ** 2:
        k += 2
    return y


def _python(r) -> list:
    """The Python pass's (floor, ceiling) per asset, each as its bits."""
    price = r.price.tolist()
    with compiled.python_path():
        r._all_moved()                          # nothing kept: every venue's first_marginals() asked now
        got = [r._bounds(a, price) for a in range(len(price))]
    return [struct.pack("<dd", *pair) for pair in got]


def _compiled(r) -> list:
    both = np.full((2, len(r.price)), -7.0)
    assert bounds_compiled.fill(r, both)
    return [struct.pack("<dd", both[0, a], both[1, a]) for a in range(both.shape[1])]


OP = st.tuples(st.sampled_from(["sell", "buy", "follow", "arb"]), st.sampled_from([0, 1, 2, 3]),
               st.sampled_from([0.5, 3.0, 40.0, 900.0, 1e4, 1e7]))


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ops=st.lists(OP, max_size=12))
def test_compiled_ceilings_are_the_python_pass_bit_for_bit(seed, ops):
    r = router(seed)
    for op in ops:
        try:
            apply(r, op)
        except OutOfRange:              # ops far beyond any market (a price taken to 0 or inf): the run stops there
            return
        assert _compiled(r) == _python(r), op


def apply(r, op) -> None:
    """An OP on router `r`: a trade, a path move or a block's arbitrage."""
    kind, asset, amount = op
    if kind in ("sell", "buy"):
        getattr(r, kind)(asset, amount)
    elif kind == "follow":
        before = r.reference.exo.copy()
        r.follow_path(before, before * (0.8 + 0.1 * asset))
    else:
        r.arbitrage(12.0, 60.0 if asset % 2 else 0.0)


@pytest.mark.parametrize("held", [0.0, -0.0, 150.0, -150.0, 50.0, 3_000.0, -3_000.0, 1e9, math.nan])
@pytest.mark.parametrize("edge", [False, True])
def test_ties_signed_zeros_nan_and_both_ends_of_a_book(held, edge):
    r = router(1)
    for venue in r.venues:
        if type(venue) is V2Pool:                # reserves whose squares are ties: pow(x, 2.0) is not x * x here
            venue.base = tie_near(venue.base)
        elif type(venue) is DepthBook:
            venue.net_sold = held
            if edge:                             # knots not starting at 0: a Python list's [-1] before the first
                a, i, cum = venue._knots
                venue._knots = ([50.0 + x for x in a], i, cum)
        else:
            venue.state = replace(venue.state, sqrt_price=tie_near(venue.state.sqrt_price))
    r.__dict__.pop("_quote_table", None)         # the table read anew from the venues as set
    r._all_moved()
    assert _compiled(r) == _python(r)


def test_a_v2_pool_at_a_tie_is_its_first_marginals_where_a_product_is_not():
    # the tests above hold the squares to Python's `** 2`: here a product (LLVM's pow(x, 2.0) with the 2.0 known)
    # would give other floats, and the kernel gives first_marginals()'s
    first = bounds_compiled._first.py_func if hasattr(bounds_compiled._first, "py_func") else bounds_compiled._first
    differ = 0
    for base in (1_000.0, 777.0, 4e4, 3.3e7):
        venue = V2Pool(0, -1, tie_near(base), 2e6, 0.003)
        row = np.array([0.0, -1.0, venue.fee, venue.base, venue.quote] + [0.0] * 7)
        want = struct.pack("<dd", *venue.first_marginals())
        assert struct.pack("<dd", *bounds_compiled._first(row, np.zeros(0), 1.0, 2.0)) == want
        differ += struct.pack("<dd", *first(row, np.zeros(0), 1.0, _Two())) != want
    assert differ > 0


class _Two(float):
    """2.0 whose power is a product (what LLVM makes of pow(x, 2.0) with the 2.0 known)."""
    def __new__(cls):
        return super().__new__(cls, 2.0)

    def __rpow__(self, x):
        return x * x


def test_an_asset_without_a_venue_is_at_its_reference_price():
    r = router(3)
    both = np.zeros((2, len(PRICE)))
    assert bounds_compiled.fill(r, both)
    assert both[0, 1] == both[1, 1] == r.price[1] == PRICE[1]


def test_a_router_the_table_does_not_serve_is_left_to_the_python_pass():
    r = router(3)
    r.split = True
    both = np.zeros((2, len(PRICE)))
    assert not bounds_compiled.fill(r, both) and not both.any()
