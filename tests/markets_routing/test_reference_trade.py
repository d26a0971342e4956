"""ReferenceMarket.trade compiled (reference._trade, on the market's arrays as the rows of one): the Python path's
floats bit for bit, held to the square-root law written out here, so a reordered expression (the temporary share
as d - theta * d, a sum regrouped) fails on some draw; and a copied router prices at its own reference's rows."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest import compiled
from backtest.markets.reference import OutOfRange, ReferenceMarket, _trade_compiled
from backtest.markets.router import Router
from backtest.markets.venue_kinds import V2Pool

NAMES = ("price", "permanent", "temporary", "outstanding", "flow")
FLOAT = st.sampled_from([0.0, -0.0, 1e-300, 1e-9, 0.05, 0.3, 2.0, 40.0, 1e3, 1e9, 1e300, math.inf, -0.3, math.nan])


def _written_out(m: ReferenceMarket, a: int, usd: float) -> None:
    """trade as the module's docstring says it: delta = c (f(Q + q) - f(Q)), f(x) = sign(x) sqrt(|x| / V); a share
    theta of it permanent, the rest temporary; the price exo x exp(both), refused past a float's range."""
    m.flow[a] = m.flow[a] + usd
    c, q, v = m.coefficient[a], m.outstanding[a], m.volume[a]
    if c == 0.0 or usd == 0.0:
        return
    d = c * (math.copysign(math.sqrt(abs(q + usd) / v), q + usd) - math.copysign(math.sqrt(abs(q) / v), q)) \
        if v > 0 else c * 0.0
    if d == 0.0:
        return
    theta = m.permanent_share[a]
    kept, passing = m.permanent[a] + theta * d, m.temporary[a] + (1.0 - theta) * d
    price = m.exo[a] * (math.exp(kept + passing) if not kept + passing > 709.782712893384 else math.inf)
    if not (2.2250738585072014e-308 <= price <= 1.7976931348623157e308 or price != price):
        raise OutOfRange("past a float's range")
    m.permanent[a], m.temporary[a], m.outstanding[a], m.price[a] = kept, passing, q + usd, price


def _market(draw) -> ReferenceMarket:
    n = 3
    return ReferenceMarket(np.array(draw(st.lists(st.floats(1e-6, 1e6), min_size=n, max_size=n))),
                           *(np.array(draw(st.lists(FLOAT, min_size=n, max_size=n))) for _ in range(3)),
                           np.full(n, 600.0))


def _bits(m: ReferenceMarket) -> list:
    """Each array's bytes, a NaN as NaN: x86 keeps the first of two NaN operands, and LLVM may swap them."""
    return [np.where(np.isnan(getattr(m, name)), np.nan, getattr(m, name)).tobytes() for name in NAMES]


@pytest.mark.skipif(_trade_compiled is None or not compiled.ON, reason="numba not installed")
@pytest.mark.filterwarnings("ignore:.*encountered in scalar:RuntimeWarning")   # _written_out on NaN, inf, 1e300
@settings(max_examples=300, deadline=None)
@given(data=st.data(), flows=st.lists(st.tuples(st.integers(0, 2), st.sampled_from([-1.0, 1.0]),
                                                st.floats(-3.0, 13.0)), min_size=1, max_size=12))
def test_a_compiled_trade_is_the_python_paths_and_the_written_out_laws(data, flows):
    fast = _market(data.draw)
    slow, plain = copy.deepcopy(fast), copy.deepcopy(fast)
    for a, sign, size in flows:
        usd = sign * 10.0 ** size
        raised = []
        for m, python in ((fast, False), (slow, True), (plain, None)):
            try:
                if python is None:
                    _written_out(m, a, usd)
                else:
                    with compiled.python_path(python):
                        m.trade(a, usd)
                raised.append(False)
            except OutOfRange:
                raised.append(True)
        assert raised[0] == raised[1] == raised[2]
        assert _bits(fast) == _bits(slow) == _bits(plain)


def test_a_copied_router_prices_at_its_own_reference_market():
    """The reference's arrays are rows of one array: a deepcopy or a pickle makes that array anew, and the copy's
    router price (the reference's price array, as `attach` made it) must be the copy's row, moved by its trades."""
    n = 2
    r = Router(np.array([2_000.0, 1.0]), [V2Pool(0, 1, 100.0, 2e5, 0.003)])
    r.attach(ReferenceMarket(r.price.copy(), np.full(n, 0.2), np.full(n, 1e9), np.full(n, 0.3), np.full(n, 600.0)))
    before = r.price.copy()
    for twin in (copy.deepcopy(r), pickle.loads(pickle.dumps(r))):
        ref = twin.reference
        assert twin.price is ref.price
        assert all(getattr(ref, name).base is ref._rows for name in NAMES)
        twin.sell(1, 5e6)                       # no venue: its reference market takes the flow
        assert twin.price[1] != before[1] and ref.flow[1] != 0.0
        assert r.price.tobytes() == before.tobytes() and r.reference.flow[1] == 0.0
