"""Arbitrage's meeting price (arb_meet.meeting_price) compiled, for an asset with venues of every kind.

meeting_price bisects, ~55 times a block, on flow(p): each venue pulled to `p` (arbitrage_goal, then
`pulled`), its base change valued at the block's price, the reference's impact of that flow (in
feedback_mode "excess", CarriedFlow.peek first). Here the venues are rows of one table, whatever their
kind, and the whole bisection is one compiled call: a v2 pool's reserves_at_price, a v3 pool's swap to
the price limit (v3_compiled.swap_walk, the walk V3Pool.pulled runs), a depth book's held_at
(depth_curve.py). Every expression is the Python's, in its order (numba neither reassociates nor fuses
without fastmath), so the same floats come out: tests/markets_routing/test_arbitrage_meeting.py holds the
kernel to arb_meet's closures bit for bit on mixed venues. Arbitrage's pulls to the price found (`_settle`:
the goals, the partial-arbitrage power, each kind's pull_to) come out of the same call, and `made` writes
them back to the venues (held to the Python pulls by test_the_compiled_pulls_leave_venues_...).

numba's cache holds the code of what the kernels call (v3_compiled's walk, depth_curve.held_at, reference._f);
backtest/kernel_cache.py drops it when any of them changes (numba checks only this file).
"""

from __future__ import annotations

import math
import sys
from typing import NamedTuple

import numpy as np

from backtest.markets import v3_compiled
from backtest.markets.depth_curve import held_at
from backtest.markets.uniswap_v3 import PoolState
from backtest.markets.reference import _f
from backtest.markets.depth_book import DepthBook
from backtest.markets.venue_kinds import V2Pool, V3Pool

ITERATIONS = 80          # bisection in log price: 2^-80 of the bracket (arb_meet's Python one too)
_EXP_MAX = math.log(sys.float_info.max)     # the bracket's range: exp finite ...
_EXP_MIN = math.log(sys.float_info.min)     # ... and a normal float (a target of 0 would divide by it)
V2, V3, BOOK = 0.0, 1.0, 2.0   # a row's kind
WIDTH = 14               # row: kind, mid, USD per quote unit, 1 - fee, then the kind's own (see `table`)


class Venues(NamedTuple):
    """An asset's venues as one table, three arrays (numba reads a few arrays fast, a named tuple slowly):
    `rows`, one a venue in the router's order; the v3 pools' ticks end to end (`ticks`); and in `tables`,
    each v3 pool's liquidity nets then its ticks' sqrt prices, each book's knot impacts then amounts."""
    rows: np.ndarray
    ticks: np.ndarray
    tables: np.ndarray


def table(venues: list, mids: list, units: list) -> Venues | None:
    """The rows: a v2 pool (base, quote); a v3 pool (sqrt price, tick, liquidity, fee, raw price factor,
    base is token0, 10^base decimals, where its ticks start, how many, where its tables start); a book
    (net sold, reference, tail rel_n and x, where its knots start, how many). Factors and powers of ten are
    the venue's own Python floats (numba's float ** int is not C's pow). None for a venue of another kind
    (the Python closures serve it)."""
    rows, parts = [], []            # parts: the v3 pools' (V3, ticks, nets), the books' (BOOK, amounts, impacts)
    for venue, mid, unit in zip(venues, mids, units):
        kind = type(venue)
        if kind is V2Pool:
            rows.append((V2, mid, unit, 1.0 - venue.fee, venue.base, venue.quote))
        elif kind is V3Pool:
            s = venue.state
            rows.append((V3, mid, unit, 1.0 - s.fee, s.sqrt_price, float(s.tick), s.liquidity, s.fee,
                         venue._raw_price_factor(), 1.0 if venue.base_is_token0 else 0.0, venue._base_unit))
            parts.append((V3, s.ticks, s.liquidity_net))
        elif kind is DepthBook:
            rows.append((BOOK, mid, unit, 1.0 - venue.fee, venue.net_sold, venue.reference, *venue._tail))
            parts.append((BOOK, *venue._knots[:2]))
        else:
            return None
    if not parts:                   # v2 pools only (the 1M bench's book): nothing to join
        return Venues(np.array([row + _PAD[6:] for row in rows]), _NO_TICKS, _NO_TABLES)
    places, ticks, tables = _joined(parts)
    at = iter(places)
    return Venues(np.array([row + (_PAD[6:] if row[0] == V2 else next(at)) for row in rows]), ticks, tables)


_PAD = (0.0,) * WIDTH
_NO_TICKS, _NO_TABLES = np.zeros(0, dtype=np.int64), np.zeros(0)
_JOINED: dict = {}        # ids of the tables joined -> (those tables, `_joined`'s answer)


def _joined(parts: list) -> tuple:
    """(each part's places in the arrays, as the rest of its row; the ticks; the tables): the v3 pools'
    (ticks, nets) and the books' knots (amounts, impacts) end to end, joined once per set of them (they do
    not change as the venues trade)."""
    key = tuple((id(a), id(b)) for _, a, b in parts)
    got = _JOINED.get(key)
    if got is not None and all(a is c and b is d for (_, a, b), (_, c, d) in zip(parts, got[0])):
        return got[1]
    if len(_JOINED) > 512:              # fresh routers copy their pools: forget old tables now and then
        _JOINED.clear()
    places, ticks, tables = [], [_NO_TICKS], [_NO_TABLES]
    n_ticks = n_tables = 0
    for kind, a, b in parts:
        n = len(a)
        if kind == V3:
            places.append((float(n_ticks), float(n), float(n_tables)))
            ticks.append(np.asarray(a, dtype=np.int64))
            tables += [np.asarray(b, dtype=float), v3_compiled.tick_sqrt_prices(a)]
            n_ticks += n
        else:
            places.append((float(n_tables), float(n), 0.0, 0.0, 0.0, 0.0))
            tables += [np.asarray(b, dtype=float), np.asarray(a, dtype=float)]
        n_tables += 2 * n
    answer = (places, np.concatenate(ticks), np.concatenate(tables))
    _JOINED[key] = (list(parts), answer)
    return answer


def meeting_price(router, a: int, price: list, mids: list, units: list, extra: float, lo: float,
                  hi: float, keep: float | None = None) -> tuple | None:
    """arb_meet.meeting_price past its early return, compiled: (price, None), or with `keep` (arbitrage's) the
    pulls to it in the same call, (price, `_settle`'s rows as lists, None if a tick table broke there). None
    for a venue of another kind or when a v3 pool's tick table breaks (liquidity below zero: the Python path
    raises the InputError that names it)."""
    venues, pa, impact = inputs(router, a, price, mids, units)
    if venues is None:
        return None
    if keep is None:
        got, ok = meet(*venues, pa, impact, extra, lo, hi)
        return (got, None) if ok else None
    got, ok, rows = meet_settle(*venues, pa, impact, extra, lo, hi, keep)
    return None if not ok else (got, None) if rows.shape[1] == 0 else (got, rows.tolist())


def inputs(router, a: int, price: list, mids: list, units: list) -> tuple:
    """(table, price of `a`, impact): the kernel's arguments, for venues at `mids` quoted in `units` USD.
    `impact` is the reference's state for `a` (exo, level, coefficient, outstanding, volume, carried?,
    carried sales left, carried purchases left)."""
    venues = [router.venues[v] for v in router.by_asset[a]]
    ref = router.reference
    carried = ref.carried
    left = (0.0, 0.0) if carried is None else (float(carried.left[a, 0]), float(carried.left[a, 1]))
    impact = np.array((ref.exo[a], float(ref.permanent[a]) + float(ref.temporary[a]), ref.coefficient[a],
                       ref.outstanding[a], ref.volume[a], 0.0 if carried is None else 1.0, *left))
    return table(venues, mids, units), price[a], impact


def _goal(rows, k, target):
    """arbitrage_goal on row `k` at `target` (quote per base): (goal, False when the venue does not trade)."""
    mid, keep = rows[k, 1], rows[k, 3]
    if rows[k, 0] == BOOK:                                 # a book goes to the target itself
        return target, not (rows[k, 4] == 0.0 and rows[k, 5] == target)
    low = target * keep
    goal = low if low > mid else mid                       # max(mid, low)
    high = target / keep
    if high < goal:                                        # min(goal, high)
        goal = high
    return goal, goal != mid


def _v3_pull(rows, k, ticks, tables, goal):
    """V3Pool._pull on row `k`: (moved?, token0 change, token1 change raw, sqrt price, tick, liquidity after,
    True if the tick table broke); not moved when the goal's sqrt price is the pool's."""
    sp0 = rows[k, 4]
    sp = math.sqrt((goal if rows[k, 9] != 0.0 else 1.0 / goal) / rows[k, 8])
    if sp == sp0:
        return False, 0.0, 0.0, sp0, 0, 0.0, False
    zfo = sp < sp0
    first, n, at = int(rows[k, 11]), int(rows[k, 12]), int(rows[k, 13])
    out, spent, _, _, sp_after, tick, liquidity, _, bad = v3_compiled.swap_walk(
        sp0, int(rows[k, 5]), rows[k, 6], ticks[first:first + n], tables[at:at + n], tables[at + n:at + 2 * n],
        rows[k, 7], math.inf, zfo, sp)
    token0, token1 = (spent, -out) if zfo else (-out, spent)
    return True, token0, token1, sp_after, tick, liquidity, bad


def _v3_amounts(rows, k, ticks, tables, goal):
    """`_v3_pull`'s (moved?, token0 change, token1 change raw, True if the tick table broke), by
    v3_compiled.walk_amounts on the joined arrays."""
    sp0 = rows[k, 4]
    sp = math.sqrt((goal if rows[k, 9] != 0.0 else 1.0 / goal) / rows[k, 8])
    if sp == sp0:
        return False, 0.0, 0.0, False
    zfo = sp < sp0
    out, spent, bad = v3_compiled.walk_amounts(rows[k, 4], int(rows[k, 5]), rows[k, 6], rows[k, 7], ticks,
                                               int(rows[k, 11]), int(rows[k, 12]), tables, int(rows[k, 13]), zfo, sp)
    token0, token1 = (spent, -out) if zfo else (-out, spent)
    return True, token0, token1, bad


def _flow(rows, ticks, tables, p, pa):
    """arb_meet._flow's flow(p) over the table: (USD flow, False if a tick table broke)."""
    usd = 0.0
    for k in range(rows.shape[0]):
        kind, target = rows[k, 0], p / rows[k, 2]
        goal, trades = _goal(rows, k, target)
        if not trades:
            continue
        if kind == BOOK:                                   # pulled(target, target)
            at, n = int(rows[k, 8]), int(rows[k, 9])
            usd += (_held_at(goal / target, tables[at:at + n], tables[at + n:at + 2 * n], rows[k, 6], rows[k, 7])
                    - rows[k, 4]) * pa
        elif kind == V2:                                   # reserves_at_price's base change
            base, quote = rows[k, 4], rows[k, 5]
            usd += (math.sqrt(base * quote / goal) - base) * pa
        else:
            moved, token0, token1, bad = _v3_amounts(rows, k, ticks, tables, goal)
            if bad:
                return usd, False
            if not moved:
                usd += 0.0 * pa
                continue
            base = token0 if rows[k, 9] != 0.0 else token1
            usd += base / rows[k, 10] * pa
    return usd, True


def _after(usd, impact, now):
    """arb_meet._reference_after's after(usd), `now` its _f(outstanding, volume)."""
    if impact[5] != 0.0:                                   # CarriedFlow.peek
        left = impact[6] if usd < 0 else impact[7]
        size = abs(usd)
        taken = left if left < size else size              # min(|usd|, left)
        usd = usd + taken if usd < 0 else usd - taken
    exo, level, c, q, v = impact[0], impact[1], impact[2], impact[3], impact[4]
    x = level + (0.0 if c == 0.0 or usd == 0.0 else c * (_f(q + usd, v) - now))
    return exo * (math.exp(x) if not x > _EXP_MAX else math.inf)


def _excess(t, x, pa, impact, now, extra):
    """meeting_price's excess(x) (> 0: the reference ends above exp(x)), and False if a tick table broke;
    `t` the table's three arrays."""
    usd, ok = _flow(t[0], t[1], t[2], math.exp(x), pa)
    return _after(usd + extra, impact, now) - math.exp(x), ok


def _meet_py(rows, ticks, tables, pa, impact, extra, lo, hi):
    """meeting_price's bisection on the table: (price, True), or (nan, False) if a tick table broke; (nan, True)
    if its bracket leaves exp's range (arb_meet raises TooFar)."""
    now = _f(impact[3], impact[4])
    t = (rows, ticks, tables)
    if extra == 0.0:
        usd, ok = _flow(rows, ticks, tables, pa, pa)
        if not ok:
            return math.nan, False
        if usd == 0.0:
            return pa, True
    gap, ok = _excess(t, lo, pa, impact, now, extra)
    while ok and gap < 0:
        lo -= 0.5
        if lo < _EXP_MIN:
            return math.nan, True
        gap, ok = _excess(t, lo, pa, impact, now, extra)
    if ok:
        gap, ok = _excess(t, hi, pa, impact, now, extra)
    while ok and gap > 0:
        hi += 0.5
        if hi > _EXP_MAX:
            return math.nan, True
        gap, ok = _excess(t, hi, pa, impact, now, extra)
    for _ in range(ITERATIONS):
        mid = (lo + hi) / 2.0
        if not ok or mid == lo or mid == hi:
            break
        gap, ok = _excess(t, mid, pa, impact, now, extra)
        if gap > 0:
            lo = mid
        else:
            hi = mid
    return (math.exp((lo + hi) / 2.0), True) if ok else (math.nan, False)


def _settle(rows, ticks, tables, p, keep):
    """arb_meet.arbitrage's pulls to the meeting price `p` (arbitrage_goal, `keep` of the gap left open as
    arb_meet._part leaves it, pull_to), computed and none made. Per row: 0 (no trade), 1 (a trade), 2 (a v3
    pool already at its goal's price: traded, nothing moves); the base and quote change (a v3 pool's raw, token
    amounts before the decimals); the state after (a v2 pool's base and quote, a v3 pool's sqrt price, tick and
    liquidity, a book's depth held). (that, False) if a tick table broke."""
    out = np.zeros((rows.shape[0], 6))
    for k in range(rows.shape[0]):
        kind, mid, target = rows[k, 0], rows[k, 1], p / rows[k, 2]
        goal, trades = _goal(rows, k, target)
        if not trades:
            continue
        if keep > 0.0:                                     # arb_meet._part
            goal = target * (mid / rows[k, 5]) ** keep if kind == BOOK else mid * (goal / mid) ** (1.0 - keep)
        out[k, 0] = 1.0
        if kind == V2:                                     # V2Pool.pull_to: reserves_at_price
            base, quote = rows[k, 4], rows[k, 5]
            product = base * quote
            after = math.sqrt(product / goal)
            out[k, 1], out[k, 2], out[k, 3], out[k, 4] = after - base, product / after - quote, after, product / after
        elif kind == BOOK:                                 # DepthBook.pull_to(goal, target): re-centred on target
            at, n = int(rows[k, 8]), int(rows[k, 9])
            held = held_at(goal / target, tables[at:at + n], tables[at + n:at + 2 * n], rows[k, 6], rows[k, 7])
            out[k, 1], out[k, 3] = held - rows[k, 4], held
        else:
            moved, token0, token1, sp, tick, liquidity, bad = _v3_pull(rows, k, ticks, tables, goal)
            if bad:
                return out, False
            if not moved:                                  # at its goal's sqrt price already
                out[k, 0] = 2.0
                continue
            out[k, 1], out[k, 2] = (token0, token1) if rows[k, 9] != 0.0 else (token1, token0)
            out[k, 3], out[k, 4], out[k, 5] = sp, tick, liquidity
    return out, True


def _crosses(rows, out, pa, whole, extra):
    """arb_meet._crosses on `_settle`'s rows: their flow with `extra` is beyond `whole`, the flow (with `extra`)
    that takes the reference to the meeting price."""
    part = extra
    for k in range(rows.shape[0]):
        if out[k, 0] == 1.0:                               # made's base change, times the price
            part += (out[k, 1] / rows[k, 10] if rows[k, 0] == V3 else out[k, 1]) * pa
    return part > whole if whole > 0.0 else part < whole if whole < 0.0 else part != 0.0


def _meet_settle(rows, ticks, tables, pa, impact, extra, lo, hi, keep):
    """`meet` then `_settle` at its price, whole if the partial step would cross it: (price, meet's ok, the rows;
    no columns if a tick table broke there or the price left exp's range)."""
    p, ok = meet(rows, ticks, tables, pa, impact, extra, lo, hi)
    if not ok or p != p:
        return p, ok, np.zeros((0, 0))
    out, ok = _settle(rows, ticks, tables, p, keep)
    if ok and keep > 0.0:
        usd, ok = _flow(rows, ticks, tables, p, pa)
        if ok and _crosses(rows, out, pa, usd + extra, extra):
            out, ok = _settle(rows, ticks, tables, p, 0.0)
    return p, True, out if ok else np.zeros((0, 0))


def made(venue, row: list, anchor: float) -> tuple[float, float]:
    """A `settle` row (a trade) made on its venue: pull_to's state and answer (base change, quote change)."""
    kind = type(venue)
    if kind is V2Pool:
        venue.base, venue.quote = row[3], row[4]
        return row[1], row[2]
    if kind is DepthBook:
        venue.reference, venue.net_sold = anchor, row[3]
        return row[1], 0.0
    if row[0] == 2.0:                                      # a v3 pool at its goal's sqrt price already
        return 0.0, 0.0
    s = venue.state
    venue.state = PoolState(row[3], int(row[4]), row[5], s.ticks, s.liquidity_net, s.fee)
    return row[1] / venue._base_unit, row[2] / venue._quote_unit


try:
    import numba
    _jit = numba.njit(cache=True, nogil=True)
    _inline = numba.njit(cache=True, nogil=True, inline="always")     # no call, no reference counts per array
    _goal, _v3_pull, _held_at = _inline(_goal), _jit(_v3_pull), _inline(held_at)
    _v3_amounts = _inline(_v3_amounts)
    _flow, _after, _excess = _inline(_flow), _inline(_after), _inline(_excess)
    meet, _settle, _crosses = _jit(_meet_py), _jit(_settle), _jit(_crosses)
    meet_settle = _jit(_meet_settle)
except ImportError:                     # pragma: no cover - without numba compiled.ON is off: arb_meet's closures run
    meet = meet_settle = None
    _held_at = held_at
