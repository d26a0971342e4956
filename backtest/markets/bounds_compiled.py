"""Router.ceilings for the compiled screen: every asset's (purchase floor, sale ceiling) written in one call from
the venue table the compiled quotes already keep current (markets/quote_table.py), not a Python pass over the
assets and their venues' first_marginals() (price_bounds.py) and the lists and arrays Router.ceilings keeps. A
liquidation that buys USDC moves every asset quoted in USDC, so Prescreen.order asks for the ceilings again
after nearly every liquidation (42k times on the 1M bench).

Each venue's first-unit marginals are its first_marginals() expression for expression (a v2 pool's
buy_marginal(0.0) and sell_marginal(0.0), a v3 pool's mid read once, a depth book's impact read once), times
its quote asset's USD price; an asset's floor and ceiling are the first venue's, replaced only by a strictly
lower / higher one (PriceBounds._bounds); an asset with no venue is at its reference price. Squares go through
C's pow as Python's `** 2` does: `two` is an argument, so LLVM cannot turn pow(x, 2.0) into x * x (they differ
when x * x is a rounding tie). tests/markets_routing/test_bounds_compiled.py holds it to the Python pass bit for bit.

numba's cache holds quote_table's row kinds (V2, V3, BOOK, compiled in as constants) and
quote_compiled._bisect_right; backtest/kernel_cache.py drops it when they change.
"""

from __future__ import annotations

import math

import numpy as np

from backtest.markets.depth_book import USD
from backtest.markets.quote_compiled import _bisect_right
from backtest.markets.quote_table import V2, V3, table
from backtest.markets.venue_kinds import V3Pool


def fill(router, out: np.ndarray) -> bool:
    """out[0], out[1]: every asset's purchase floor and sale ceiling with feedback, as Router.ceilings' Python
    pass gives them (`out` [2, A] is the caller's: Prescreen.order asks after every liquidation, and keeps no
    list, array or cache of them); False (out untouched) where the table does not serve the router (split
    orders, a venue of another kind)."""
    t = table(router)
    if t is None:
        return False
    got = router.__dict__.get("_raw_factors")
    if got is None or got[0] is not t:                 # each v3 pool's 10 ** (d0 - d1), its own Python float
        factors = np.array([v._raw_price_factor() if kind is V3Pool else 1.0
                            for v, kind in zip(router.venues, t.kinds)], dtype=float)
        got = router._raw_factors = (t, factors)
    _fill(t.rows, t.tables, t.starts, t.order, got[1], router.price, 2.0, out)
    return True


def _first(row, tables, factor, two):
    """The venue's first_marginals(): (buy_marginal(0.0), sell_marginal(0.0)) in its quote asset."""
    kind, fee = row[0], row[2]
    if kind == V2:                               # V2Pool.buy_marginal(0.0), sell_marginal(0.0)
        base, quote = row[3], row[4]
        buy = math.inf if 0.0 >= base else base * quote / ((base - 0.0) ** two * (1.0 - fee))
        g = 1.0 - fee
        return buy, g * base * quote / (base + g * 0.0) ** two
    if kind == V3:                               # V3Pool._mid_at(sqrt_price), read once
        p = row[3] ** two * factor
        mid = p if row[8] == 1.0 else 1.0 / p
        keep = 1.0 - fee
        return mid / keep, keep * mid
    s, reference = row[3], row[4]                # BOOK: DepthBook: 1 - _impact(net_sold), read once
    left = 1.0 - math.copysign(_impact_at(row, tables, abs(s), two), s)
    return reference * left / (1.0 - fee), reference * left * (1.0 - fee)


def _impact_at(row, tables, q, two):
    """DepthBook._bid(q)[0]: the marginal impact after selling q >= 0 (knots a, i at tables[at:])."""
    at, n = int(row[7]), int(row[8])
    a, i = at, at + n
    if q <= tables[a + n - 1]:
        k = min(_bisect_right(tables, a, a + n, q) - 1, n - 2)
        kk = k + n if k < 0 else k               # a Python list's [-1]
        return tables[i + kk] + (tables[i + k + 1] - tables[i + kk]) * (q - tables[a + kk]) / \
            (tables[a + k + 1] - tables[a + kk])
    rel_n, x = row[5], row[6]
    u = q - tables[a + n - 1]
    return 1.0 - rel_n * (x / (x + u)) ** two


def _fill_py(rows, tables, starts, order, factors, price, two, out):
    """out[0, a], out[1, a]: PriceBounds._bounds(a) of every asset a (its reference price if it has no venue)."""
    for a in range(len(starts) - 1):
        lo, hi = starts[a], starts[a + 1]
        if lo == hi:
            out[0, a] = out[1, a] = price[a]
            continue
        low = high = 0.0
        for j in range(lo, hi):
            v = order[j]
            buy, sell = _first(rows[v], tables, factors[v], two)
            q = rows[v, 1]
            usd = 1.0 if q == USD else price[int(q)]          # Router._quote_usd(v)
            buy, sell = buy * usd, sell * usd
            if j == lo:
                low, high = buy, sell
            else:
                if buy < low:
                    low = buy
                if sell > high:
                    high = sell
        out[0, a], out[1, a] = low, high

try:
    import numba
    _jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    # inlined into _fill: a call per venue reference-counted the row view and the tables passed to it
    _inline = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
    _impact_at, _first = _inline(_impact_at), _inline(_first)
    _fill = _jit(_fill_py)
except ImportError:                     # pragma: no cover - without numba compiled.ON is off: the Python pass runs
    _fill = _fill_py
