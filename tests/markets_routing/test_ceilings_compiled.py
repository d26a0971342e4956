"""Router.ceilings asks bounds_compiled.fill for every asset when any generation moved (compiled, with feedback,
where the venue table serves the router) instead of its Python pass over the assets that moved: the same four
answers, bit for bit, as the Python path's after any trades, path moves and arbitrage (the pass kept since the
last call, or nothing kept), and the lists are the arrays' floats."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest import compiled
from backtest.markets import bounds_compiled
from backtest.markets.reference import OutOfRange
from tests.markets_routing.test_bounds_compiled import OP, apply
from tests.perf.test_quote_compiled import router

pytestmark = pytest.mark.skipif(bounds_compiled._fill is bounds_compiled._fill_py or not compiled.ON,
                                reason="numba not installed")

def _bits(got) -> list:
    floor, ceiling, floors, ceilings = got
    return [floor.tobytes(), ceiling.tobytes(), struct.pack(f"<{len(floors)}d", *floors),
            struct.pack(f"<{len(ceilings)}d", *ceilings), [type(x) for x in floors + ceilings]]


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ops=st.lists(OP, max_size=12))
def test_the_compiled_ceilings_are_the_python_paths(seed, ops):
    fast, plain = router(seed), router(seed)
    calls = []
    fill = bounds_compiled.fill
    bounds_compiled.fill = lambda r, out: calls.append(r is fast) or fill(r, out)
    try:
        for op in ops:
            failed = []
            for r in (fast, plain):
                with compiled.python_path(r is plain):
                    try:
                        apply(r, op)
                    except OutOfRange:              # ops far beyond any market: the run would stop there
                        failed.append(r)
            if failed:
                assert failed == [fast, plain], op
                return
            got = fast.ceilings()
            with compiled.python_path():
                want = plain.ceilings()
            assert _bits(got) == _bits(want), op
            assert fast.ceilings() is got                      # kept until a generation moves
    finally:
        bounds_compiled.fill = fill
    assert not ops or any(calls)
