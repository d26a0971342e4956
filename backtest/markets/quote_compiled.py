"""best_plan's quotes compiled: every try it keeps priced at the venues in one call, not a Python
`Router.buy_quote` / `sell_quote` (a loop over venues, a walk, a route memo) per try.

The router's venues are rows of one table (markets/quote_table.py: a v2 pool's reserves, a v3 pool's sqrt
price, tick and liquidity, a depth book's consumed depth, reference and knots), a row rebuilt only after its
venue traded or moved. An asset with no venue is priced at its reference market (ReferenceMarket.fill, its closed form or
quadrature compiled in reference.py).

`plan` runs best_plan's search past the screen (the ceiling cut, the first try, the tries kept, the first
strictly best) on the whole-order routing of Router._best_sale / _best_purchase: every expression is the
Python's, in its order (numba neither reassociates nor fuses without fastmath), so the same floats come out
(tests/perf/test_quote_compiled.py holds it to the Python path bit for bit). What it does not price (a NaN
amount, whose v3 walk is the Python one; a tick table that breaks, whose InputError the Python path raises;
split orders; venues of another kind) it hands back to the Python path. Without feedback a quote is each venue's
price less its fee (Router._best_sale's other branch), and an asset with no venue trades at its price.

numba's cache holds v3_compiled's walks, reference._fill_factor and quote_table's row kinds (V2, V3, BOOK:
compiled in as constants); backtest/kernel_cache.py drops it when any of them changes.
"""

from __future__ import annotations

import math

import numpy as np

from backtest.markets import v3_compiled
from backtest.markets.quote_table import BOOK, V2, V3, table
from backtest.markets.reference import ROWS, _fill_factor_compiled

NONE, PLAN, PYTHON = 0, 1, 2     # `plan`'s verdicts: no plan, a plan, ask the Python path
SLACK = 1e-9                     # liquidator.SLACK (the ceilings' float rounding)
# rows of the reference market's [10, A] array (`ReferenceMarket._rows`: its per-asset arrays are views of them)
_PRICE, _COEFFICIENT, _OUTSTANDING, _VOLUME = (ROWS.index(k) for k in ("price", "coefficient", "outstanding", "volume"))


def best(router, built: np.ndarray, n: int, asset_of: np.ndarray, needed: float) -> tuple | None:
    """best_plan past the screen on its `n` tries `built` (top, d, c, repay, taken, fee rows): None (ask the
    Python path), or (verdict, cost, proceeds, d, c, repay, taken, fee) of the plan (verdict NONE: no plan).
    The chosen try's two routes are remembered as the router's own quotes leave them, for `execute`."""
    got = planned(router, built, n, asset_of, needed)
    if got is None:
        return None
    got, kept = got
    if got[0] == PLAN:
        router.remember(*got[8:], kept)
    return got[:8]


def planned(router, built: np.ndarray, n: int, asset_of: np.ndarray, needed: float) -> tuple | None:
    """`best`'s plan, not remembered: None (ask the Python path), or (`plan`'s tuple, where it left the sale at
    each venue: (the table, its count) or None). A plan's last eight are Router.remember's and Router.make's
    arguments before that one."""
    t = table(router)
    if t is None:
        return None
    ref = router.reference
    feedback = bool(router.feedback)
    got = plan(built, n, asset_of, float(needed), t.rows, t.ticks, t.tables, t.starts, t.order, router.price,
               ref._rows, router.venue_price, feedback, t.sales)        # the reference's rows as one argument
    if got[0] == PYTHON:
        return None
    if got[0] == PLAN and feedback and got[13] > 0 and router.by_asset[got[12]]:    # `plan` wrote the sale
        t.written += 1                                                               # (`_sale_at_each`)
        return got, (t, t.written)
    return got, None


def one(router, buy: bool, asset: int, amount: float) -> tuple | None:
    """Router._best_purchase / _best_sale of a whole order with feedback, compiled: (venue, USD), or None for the
    Python path. Only for an asset with a v3 pool or a depth book (a v2 pool's Python quote costs less than
    the call) and a float amount that is not NaN (the Python path gives a numpy amount numpy's own type back)."""
    if type(amount) is not float or not amount == amount:
        return None
    if not router._heavy[asset]:               # the router's own list of the assets `one` serves
        return None
    t = table(router)
    if t is None:
        return None
    ref = router.reference
    v, usd, ok = quote(buy, asset, amount, t.rows, t.ticks, t.tables, t.starts, t.order, router.price, ref._rows,
                       router.venue_price, True)
    return (v, usd) if ok else None


# -- the kernel ------------------------------------------------------------------------------------------
def _bisect_right(a, lo, hi, x):
    """bisect.bisect_right(a[lo:hi], x), its own loop (NaN goes to the end, as there)."""
    start = lo
    while lo < hi:
        mid = (lo + hi) // 2
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo - start


def _bid_inside(tables, at, n, p, q, width):
    """DepthBook._bid_between for p < a[-1] and q <= a[-1] (knots a, i, cum at tables[at:])."""
    a, i, cum = at, at + n, at + 2 * n
    kp = _bisect_right(tables, a, a + n, p) - 1
    if kp > n - 2:
        kp = n - 2
    kq = _bisect_right(tables, a, a + n, q) - 1
    if kq > n - 2:
        kq = n - 2
    t = tables
    ip = t[i + kp] + (t[i + kp + 1] - t[i + kp]) * (p - t[a + kp]) / (t[a + kp + 1] - t[a + kp])
    iq = t[i + kq] + (t[i + kq + 1] - t[i + kq]) * (q - t[a + kq]) / (t[a + kq + 1] - t[a + kq])
    if kp == kq:
        return width * (1.0 - (ip + iq) / 2.0)
    return ((t[a + kp + 1] - p) * (1.0 - (ip + t[i + kp + 1]) / 2.0) + (t[cum + kq] - t[cum + kp + 1])
            + (q - t[a + kq]) * (1.0 - (t[i + kq] + iq) / 2.0))


def _bid_between(row, tables, p, q, width):
    """DepthBook._bid_between: the integral of (1 - impact) from p to q = p + width, 0 <= p <= q."""
    at, n = int(row[7]), int(row[8])
    end = tables[at + n - 1]
    if p >= end:
        rel_n, x = row[5], row[6]
        return rel_n * x * x * width / ((x + p - end) * (x + q - end))
    if q > end:
        rel_n, x = row[5], row[6]
        tail = rel_n * x * x * (q - end) / ((x + end - end) * (x + q - end))
        return _bid_inside(tables, at, n, p, end, end - p) + tail
    return _bid_inside(tables, at, n, p, q, width)


def _between(row, tables, s0, width):
    """DepthBook._between: bids for s > 0, the mirrored asks for s < 0."""
    s1 = s0 + width
    if s1 <= 0.0:
        return 2.0 * width - _bid_between(row, tables, -s1, -s0, width)
    if s0 >= 0.0:
        return _bid_between(row, tables, s0, s1, width)
    return 2.0 * -s0 - _bid_between(row, tables, 0.0, -s0, -s0) + _bid_between(row, tables, 0.0, s1, s1)


def _v3_args(row, ticks, tables):
    first, n, at = int(row[9]), int(row[10]), int(row[11])
    return ticks[first:first + n], tables[at:at + n], tables[at + n:at + 2 * n]


def _sell_out(row, ticks, tables, amount):
    """venue.sell_out(amount), and False where the Python path must answer (a tick table breaks)."""
    kind, fee = row[0], row[2]
    if kind == V2:                                          # uniswap_v2.amount_out
        net = amount * (1.0 - fee)
        return net * row[4] / (row[3] + net), True
    if kind == V3:                                          # V3Pool.sell_out: v3_compiled.walk
        tk, nets, sps = _v3_args(row, ticks, tables)
        zfo = row[8] != 0.0
        out, _, _, _, _, _, _, _, bad = v3_compiled.swap_walk(
            row[3], int(row[4]), row[5], tk, nets, sps, fee, amount * row[6], zfo, 0.0 if zfo else math.inf)
        return out / row[7], not bad
    return row[4] * _between(row, tables, row[3], amount) * (1.0 - fee), True


def _buy_in(row, ticks, tables, amount):
    """venue.buy_in(amount)."""
    kind, fee = row[0], row[2]
    if kind == V2:                                          # uniswap_v2.amount_in(amount, quote, base, fee)
        if amount >= row[3]:
            return math.inf
        return row[4] * amount / ((row[3] - amount) * (1.0 - fee))
    if kind == V3:                                          # V3Pool.buy_in: exact_output
        tk, nets, sps = _v3_args(row, ticks, tables)
        ok, _, paid = v3_compiled.exact_output_walk(row[3], int(row[4]), row[5], tk, nets, sps, fee,
                                                    amount * row[6], not row[8] != 0.0)
        return paid / row[7] if ok else math.inf
    return row[4] * _between(row, tables, row[3] - amount, amount) / (1.0 - fee)


def _quote(buy, a, amount, m):
    """Router.buy_quote / sell_quote of `amount` (> 0) of asset `a`: (venue or -1, USD, ok)."""
    rows, ticks, tables, starts, order, price, ref, venue_price, feedback = m
    lo, hi = starts[a], starts[a + 1]
    if not feedback:                                        # each venue's price less its fee; nothing moves
        if lo == hi:
            return -1, amount * price[a], True
        best, best_usd = -1, (math.inf if buy else -math.inf)
        for j in range(lo, hi):
            v = order[j]
            if buy:
                usd = amount * venue_price[v] / (1 - rows[v, 2])
                if usd < best_usd or best < 0 or (best_usd != best_usd and usd == usd):
                    best, best_usd = v, usd
            else:
                usd = amount * venue_price[v] * (1 - rows[v, 2])
                if usd > best_usd or best < 0 or (best_usd != best_usd and usd == usd):
                    best, best_usd = v, usd
        return best, best_usd, True
    if lo == hi:                                            # ReferenceMarket.fill, units -amount or amount
        units = -amount if buy else amount
        p = ref[_PRICE, a]
        usd = -units * p
        c = ref[_COEFFICIENT, a]
        if c == 0.0 or usd == 0.0:
            got = units * p
        else:
            got = units * p * _fill_factor_compiled(c, ref[_OUTSTANDING, a], usd, ref[_VOLUME, a])
        return -1, (-got if buy else got), True
    best, best_usd = -1, (math.inf if buy else -math.inf)
    for j in range(lo, hi):
        v = order[j]
        row = rows[v]
        q = int(row[1])
        if buy:
            usd = _buy_in(row, ticks, tables, amount) * (1.0 if q == -1 else price[q])
            if usd < best_usd or best < 0 or (best_usd != best_usd and usd == usd):
                best, best_usd = v, usd
        else:
            out, ok = _sell_out(row, ticks, tables, amount)
            if not ok:
                return -1, math.nan, False
            usd = out * (1.0 if q == -1 else price[q])
            if usd > best_usd or best < 0 or (best_usd != best_usd and usd == usd):
                best, best_usd = v, usd
    return best, best_usd, True


def _quote_py(buy, a, amount, rows, ticks, tables, starts, order, price, ref,
              venue_price, feedback):
    """`_quote` on the arrays themselves (`one`'s entry)."""
    return _quote(buy, a, amount, (rows, ticks, tables, starts, order, price, ref, venue_price, feedback))


def _gross(built, k, asset_of, m):
    """liquidator._gross of try k: (gross, cost, proceeds, buy venue, sell venue, ok)."""
    repay, taken, fee = built[k, 3], built[k, 4], built[k, 5]
    sold = taken - fee
    if repay != repay or sold != sold:                      # a NaN amount: V3Pool's walk is the Python one
        return math.nan, math.nan, math.nan, -1, -1, False
    cost, buy_v, proceeds, sell_v = 0.0, -1, 0.0, -1
    if repay > 0:
        buy_v, cost, ok = _quote(True, asset_of[int(built[k, 1])], repay, m)
    if sold > 0:
        sell_v, proceeds, ok = _quote(False, asset_of[int(built[k, 2])], sold, m)
        if not ok:
            return math.nan, math.nan, math.nan, -1, -1, False
    return proceeds - cost, cost, proceeds, buy_v, sell_v, True


def _search(built, n, seen, first, known, asset_of, m):
    """liquidator._search over the tries k < n it keeps: the first, try `first` (whose gross is `known`) and those
    whose ceiling is not below `seen` (all of them for a NaN `seen`); the first strictly best."""
    best, gross, cost, proceeds, buy_v, sell_v = -1, 0.0, 0.0, 0.0, -1, -1
    for j in range(n):
        if not (j == 0 or j == first or not built[j, 0] < seen):
            continue
        if j == first:
            got = known
        else:
            got = _gross(built, j, asset_of, m)
            if not got[5]:
                return PYTHON, -1, 0.0, 0.0, -1, -1
        if best < 0 or got[0] > gross:
            best, (gross, cost, proceeds, buy_v, sell_v) = j, got[:5]
    return PLAN, best, cost, proceeds, buy_v, sell_v


def _sale_at_each(a, amount, m, sales):
    """The chosen sale (`amount` > 0 of asset `a`, feedback) at each of a's venues v: `_sell_out`'s answer in
    sales[v, 0]; a v3 pool's whole walk (v3_compiled.walk's tuple: raw out, spent, fee paid, ticks crossed,
    sqrt price, tick, liquidity) in sales[v, 1:8]; a book's mid after it in sales[v, 8] (`_book_mid`, NaN else). `_quote` walked the same pools for the same amount, so no
    tick table breaks here."""
    rows, ticks, tables, starts, order = m[0], m[1], m[2], m[3], m[4]
    for j in range(starts[a], starts[a + 1]):
        v = order[j]
        row = rows[v]
        if row[0] == V3:                                    # _sell_out's walk, kept whole
            tk, nets, sps = _v3_args(row, ticks, tables)
            zfo = row[8] != 0.0
            out, spent, fee_paid, crossed, sp, tick, liq, _, _ = v3_compiled.swap_walk(
                row[3], int(row[4]), row[5], tk, nets, sps, row[2], amount * row[6], zfo, 0.0 if zfo else math.inf)
            sales[v, 0] = out / row[7]
            sales[v, 1], sales[v, 2], sales[v, 3], sales[v, 4] = out, spent, fee_paid, crossed
            sales[v, 5], sales[v, 6], sales[v, 7] = sp, tick, liq
        else:
            sales[v, 0] = _sell_out(row, ticks, tables, amount)[0]
        sales[v, 8] = _book_mid(row, tables, row[3] + amount) if row[0] == BOOK else math.nan


def _book_mid(row, tables, s):
    """DepthBook.mid once `s` is consumed (the sale made: net sold + amount), for Router.sell's repricing; NaN past
    the knots (the tail's `** 2` is C's pow there, which LLVM may make a product): Router.sell asks the book then."""
    at, n = int(row[7]), int(row[8])
    q = abs(s)
    if not q <= tables[at + n - 1]:                         # DepthBook._bid's tail (or NaN)
        return math.nan
    return row[4] * (1.0 - math.copysign(knot_impact(tables, at, at + n, n, q), s))


def knot_impact(tables, a, i, n, q):
    """DepthBook._bid's marginal impact at `q` (0 <= q <= the last knot): its knots' amounts `tables[a:a + n]` and
    impacts `tables[i:i + n]`, interpolated between the knots bisect_right brackets `q` with (the last pair past it).
    The books' mids of `_book_mid` here and meet_block's (whose tables hold impacts first)."""
    k = _bisect_right(tables, a, a + n, q) - 1
    if k > n - 2:
        k = n - 2
    return tables[i + k] + (tables[i + k + 1] - tables[i + k]) * (q - tables[a + k]) / (tables[a + k + 1] - tables[a + k])


def _plan_py(built, n, asset_of, needed, rows, ticks, tables, starts, order, price, ref, venue_price, feedback,
             sales):
    """best_plan after the screen, on its rows: (verdict, cost, proceeds, d, c, repay, taken, fee, then
    Router.remember's arguments: the debt asset, repay, buy venue, cost, the collateral asset, the amount
    sold, sell venue, proceeds). With feedback, the chosen sale at each venue of its asset in `sales`
    (`_sale_at_each`)."""
    m = (rows, ticks, tables, starts, order, price, ref, venue_price, feedback)
    verdict, k, cost, proceeds, buy_v, sell_v = _choose(built, n, asset_of, needed, m)
    if verdict != PLAN:
        return verdict, 0.0, 0.0, -1, -1, 0.0, 0.0, 0.0, -1, 0.0, -1, 0.0, -1, 0.0, -1, 0.0
    d, c, repay, taken, fee = int(built[k, 1]), int(built[k, 2]), built[k, 3], built[k, 4], built[k, 5]
    if feedback and taken - fee > 0:
        _sale_at_each(asset_of[c], taken - fee, m, sales)
    return (verdict, cost, proceeds, d, c, repay, taken, fee,
            int(asset_of[d]), repay, buy_v, cost, int(asset_of[c]), taken - fee, sell_v, proceeds)


def _choose(built, n, asset_of, needed, m):
    """best_plan's search on the rows: (verdict, try, cost, proceeds, buy venue, sell venue)."""
    unknown = (math.nan, math.nan, math.nan, -1, -1, False)
    if n == 0:
        return NONE, -1, 0.0, 0.0, -1, -1
    top, nan = built[0, 0], False
    for k in range(n):
        t = built[k, 0]
        if t != t:
            nan = True
        elif t > top:
            top = t
    if nan:                                     # NaN somewhere: the plain search, in order
        return _search(built, n, math.nan, -1, unknown, asset_of, m)
    if top + SLACK * abs(needed) < needed:
        return NONE, -1, 0.0, 0.0, -1, -1
    first = 0
    while not built[first, 0] == top:
        first += 1
    got = _gross(built, first, asset_of, m)
    if not got[5]:
        return PYTHON, -1, 0.0, 0.0, -1, -1
    seen = got[0]
    if not seen == seen:
        return _search(built, n, math.nan, -1, unknown, asset_of, m)
    return _search(built, n, seen, first, got, asset_of, m)     # liquidator's keep: 0, first, not below seen


try:
    import numba
    _jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    # inlined where they are called: an array passed to a call, or unpacked from `m`, is reference counted per call
    # (~1 us of a plan's ~3); inlining the per-venue quotes too (_sell_out and below) saves ~0.1 us more and
    # doubles the compile (14 -> 27 CPU-s)
    _inline = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
    _bisect_right, _bid_inside, _bid_between, _between = (_jit(f) for f in (_bisect_right, _bid_inside, _bid_between,
                                                                             _between))
    knot_impact = _inline(knot_impact)
    _v3_args, _sell_out, _buy_in, _book_mid = (_jit(f) for f in (_v3_args, _sell_out, _buy_in, _book_mid))
    _quote, _gross, _search, _choose, _sale_at_each = (
        _inline(f) for f in (_quote, _gross, _search, _choose, _sale_at_each))
    plan, quote = _jit(_plan_py), _jit(_quote_py)
except ImportError:                     # pragma: no cover - without numba compiled.ON is off: the Python path runs
    plan = quote = None
