"""Arbitrage's whole block in one compiled call (arb_meet.arbitrage's compiled path).

arb_meet.arbitrage steps each asset in turn (meet_kept.step: the idle test, the checks, the meeting price and
the pulls), writes the pulls back to the venues, sends their flow to the reference market and carries the
quote side of pools quoted in another asset to it. Per asset that was ~15 us of Python around ~7 us of
kernel. Here a router keeps one table of all its venues, in the order the block steps them (reversed
Router.order, an asset's venues in the router's order), and a block is one gather of the venues' moving
numbers, one kernel (`_block`: the venues' mids, every asset's `meet_kept._step`, the flows, ReferenceMarket.trade's
maths (reference._trade) on copies of the reference's arrays, the quote sides' trades last, then Router._requote's
books re-quoted and venue prices) and one write-back of the venues that traded or re-quoted. A v3 pool's and a
book's mid square with the C library's pow, as Python's `** 2` does (`_v3_mid`).

Every expression is arb_meet's, in its order, on the floats it reads (numba neither reassociates nor fuses
without fastmath), so the venues and the reference end as the Python path leaves them
(tests/markets_routing/test_meet_block.py). Where anything is wrong (a step arb_meet's `_meet` must answer,
a tick table broken, a trade whose price leaves a float's range) the kernel answers -1 having changed
nothing, and arb_meet's per-asset loop plays the block, raising what it raises. The table is built again
when a venue, a v3 pool's tick table or a book's knots are other objects (checked each block, held).

numba's cache holds the code of what the kernel calls (meet_kept._step, reference._trade and theirs);
backtest/kernel_cache.py drops it when any of them changes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from backtest.markets import meet_compiled, meet_kept
from backtest.markets.carried import CarriedFlow
from backtest.markets.depth_book import USD, DepthBook
from backtest.markets.meet_compiled import BOOK, V2, WIDTH
from backtest.markets.quote_compiled import knot_impact
from backtest.markets.reference import ReferenceMarket
from backtest.markets.reference import _trade_compiled as _trade
from backtest.markets.uniswap_v3 import PoolState
from backtest.markets.venue_kinds import V2Pool, V3Pool

ASSET, QUOTE, SCALE, VENUE = WIDTH, WIDTH + 1, WIDTH + 2, WIDTH + 3   # a row's own columns after meet_compiled's:
#     its asset, its quote asset (-1: USD), a v3 pool's 10.0 ** quote decimals (made's divisor), its index in venues
GATHERED = 5        # per venue each block: fee, four numbers of its state


class Kept(NamedTuple):
    """A router's venues as the block's table: `ids` (of the router's venues, held in `steps`, to know them
    again), `steps` [(venue, kind, held objects)] in the table's order, `table` (None: a venue of another kind),
    `ticks`, `tables`, `made` (the kernel's write-backs)."""
    ids: tuple
    steps: list
    table: np.ndarray | None
    ticks: np.ndarray
    tables: np.ndarray
    made: np.ndarray


def block(router, keep: float) -> bool:
    """The block's steps after the reference's decay, in one compiled call: True if made (the venues, the reference
    and the venues' USD prices as arb_meet's loop then Router._requote leave them), False if nothing changed and
    the loop must play it."""
    kept = router.__dict__.get("_meet_block")
    if kept is None or kept.ids != tuple(map(id, router.venues)):
        kept = router._meet_block = _build(router)
    if kept.table is None:
        return False
    gathered = _gather(kept.steps)
    if gathered is None:                        # a tick table or knots replaced: build again, once
        kept = router._meet_block = _build(router)
        gathered = _gather(kept.steps)
        if kept.table is None or gathered is None:
            return False
    ref = router.reference
    carried = ref.carried
    if carried is not None and type(carried) is not CarriedFlow or type(ref) is not ReferenceMarket:
        return False                    # its own excess or trade (a subclass): the kernel inlines the classes'
    left = _NO_LEFT if carried is None else carried.left
    n = block_kernel(kept.table, kept.ticks, kept.tables, gathered, keep, ref._rows, left, carried is not None,
                     kept.made, router.venue_price, 2.0)
    if n < 0:
        return False
    steps = kept.steps
    for k, a, b, c in kept.made[:n].tolist():              # meet_compiled.made's writes
        venue = steps[int(k)][0]
        kind = type(venue)
        if kind is V2Pool:
            venue.base, venue.quote = a, b
        elif kind is DepthBook:
            venue.reference, venue.net_sold = a, b
        else:
            s = venue.state
            venue.state = PoolState(a, int(b), c, s.ticks, s.liquidity_net, s.fee)
    return True


_NO_LEFT = np.zeros((0, 2))


def _build(router) -> Kept:
    """The table of the router's venues in the block's order (meet_compiled.table's rows, the moving columns
    left for the kernel), each row's asset, quote asset and v3 quote divisor after them."""
    venues, steps, order = router.venues, [], []
    for a in reversed(router.order):
        for v in router.by_asset[a]:
            venue = venues[v]
            kind = type(venue)
            held = (venue.state.ticks, venue.state.liquidity_net) if kind is V3Pool else \
                (venue._knots,) if kind is DepthBook else ()
            steps.append((venue, kind, held))
            order.append(venue)
    made = np.zeros((2 * len(order), 4))       # a row per venue traded, then per book re-quoted
    got = meet_compiled.table(order, [1.0] * len(order), [1.0] * len(order)) if order else None
    if got is None:
        return Kept(tuple(map(id, venues)), steps, None, meet_compiled._NO_TICKS, meet_compiled._NO_TABLES, made)
    at = {id(venue): v for v, venue in enumerate(venues)}
    own = [(venue.asset, -1.0 if venue.quote_asset == USD else venue.quote_asset,
            venue._quote_unit if type(venue) is V3Pool else 1.0, at[id(venue)]) for venue in order]
    return Kept(tuple(map(id, venues)), steps, np.hstack((got.rows, np.array(own, dtype=float))), got.ticks,
                got.tables, made)


def _gather(steps: list) -> np.ndarray | None:
    """Each venue's fee and state as `_moving` reads them; None if a tick table or knots are other objects than the
    table holds."""
    out = []
    for venue, kind, held in steps:
        if kind is V2Pool:
            out += (venue.fee, venue.base, venue.quote, 0.0, 0.0)
        elif kind is V3Pool:
            s = venue.state
            if s.ticks is not held[0] or s.liquidity_net is not held[1]:
                return None
            out += (s.fee, s.sqrt_price, s.tick, s.liquidity, 0.0)
        else:
            if venue._knots is not held[0]:
                return None
            out += (venue.fee, venue.net_sold, venue.reference, *venue._tail)
    return np.array(out, dtype=float)


def _v3_mid(sp, factor, token0, two):
    """V3Pool._mid_at: `two` is 2.0 passed in at run time, so `sp ** two` is the C library's pow as Python's
    `sqrt_price ** 2` (LLVM makes a constant square sp * sp, another float in ~1 of 1,000)."""
    p = sp ** two * factor
    return p if token0 else 1.0 / p


def _book_mid(table, k, tables, two):
    """DepthBook.mid on row `k` (net sold, reference, tail rel_n and x; its knots' impacts then amounts in `tables`):
    reference * (1 - _impact(net sold)), _bid's marginal impact by bisect_right on the knots' amounts."""
    net, at, n = table[k, 4], int(table[k, 8]), int(table[k, 9])
    q = abs(net)
    last = tables[at + 2 * n - 1]
    if q <= last:                                          # impacts at `at`, amounts after them
        impact = knot_impact(tables, at + n, at, n, q)
    else:
        x = table[k, 7]
        impact = 1.0 - table[k, 6] * (x / (x + (q - last))) ** two
    return table[k, 5] * (1.0 - math.copysign(impact, net))


def _moving(table, gathered, at, tables, two):
    """meet_kept._dynamic's columns written into the rows: mid (V2Pool.mid, V3Pool.mid, DepthBook.mid), USD per
    quote unit at the block's prices `at`, 1 - fee, then the kind's state."""
    for k in range(table.shape[0]):
        g = GATHERED * k
        q = int(table[k, QUOTE])
        table[k, 2] = 1.0 if q < 0 else at[q]
        table[k, 3] = 1.0 - gathered[g]
        if table[k, 0] == V2:
            base, quote = gathered[g + 1], gathered[g + 2]
            table[k, 1], table[k, 4], table[k, 5], table[k, 6], table[k, 7] = quote / base, base, quote, 0.0, 0.0
        elif table[k, 0] == BOOK:
            for j in range(4):
                table[k, 4 + j] = gathered[g + 1 + j]
            table[k, 1] = _book_mid(table, k, tables, two)
        else:
            table[k, 4], table[k, 5], table[k, 6], table[k, 7] = gathered[g + 1], gathered[g + 2], \
                gathered[g + 3], gathered[g]
            table[k, 1] = _v3_mid(table[k, 4], table[k, 8], table[k, 9] != 0.0, two)


def _block(table, ticks, tables, gathered, keep, rows, left, carried, made, venue_price, two):
    """arb_meet.arbitrage's loop over the table then Router._requote (`_requote`): the number of `made` rows
    (venue, then its state after: a v2 pool's base and quote, a book's reference and depth held, a v3 pool's sqrt
    price, tick and liquidity), the reference's arrays (`rows`: ReferenceMarket._rows, one argument where nine cost
    ~2 us of dispatch), `left` and `venue_price` written; or -1, nothing written."""
    at = rows[0].copy()                                    # the block's price list
    ref = rows[:9].copy()                                  # reference.ROWS' first nine, traded on
    spent = left.copy()
    _moving(table, gathered, at, tables, two)
    cross = np.zeros(at.shape[0])
    impact = np.zeros(8)
    n, k0, end = 0, 0, table.shape[0]
    while k0 < end:
        a = int(table[k0, ASSET])
        k1 = k0 + 1
        while k1 < end and table[k1, ASSET] == a:
            k1 += 1
        pa, extra = at[a], cross[a]
        cross[a] = 0.0
        impact[0], impact[1], impact[2], impact[3], impact[4] = ref[1, a], ref[2, a] + ref[3, a], ref[4, a], \
            ref[5, a], ref[6, a]
        if carried:
            impact[5], impact[6], impact[7] = 1.0, spent[a, 0], spent[a, 1]
        status, p, out = meet_kept._step(table[k0:k1], ticks, tables, impact, pa, extra, keep)
        if status == meet_kept.IDLE:
            k0 = k1
            continue
        if status != meet_kept.MET or out.shape[1] == 0:
            return -1
        usd = extra
        for j in range(k1 - k0):
            if out[j, 0] == 0.0:
                continue
            k = k0 + j
            kind = table[k, 0]
            if kind == V2:
                base, quote = out[j, 1], out[j, 2]
                made[n, 0], made[n, 1], made[n, 2] = k, out[j, 3], out[j, 4]
                n += 1
            elif kind == BOOK:
                base, quote = out[j, 1], 0.0
                made[n, 0], made[n, 1], made[n, 2] = k, p / table[k, 2], out[j, 3]
                n += 1
            elif out[j, 0] == 2.0:                         # a v3 pool at its goal's sqrt price already
                base, quote = 0.0, 0.0
            else:
                base, quote = out[j, 1] / table[k, 10], out[j, 2] / table[k, SCALE]
                made[n, 0], made[n, 1], made[n, 2], made[n, 3] = k, out[j, 3], out[j, 4], out[j, 5]
                n += 1
            usd += base * pa
            q = int(table[k, QUOTE])
            if q >= 0:
                cross[q] += quote * at[q]
        if usd != 0.0 and not _trade(a, usd, ref, spent, carried):
            return -1
        k0 = k1
    for a in range(at.shape[0]):
        if cross[a] != 0.0 and not _trade(a, cross[a], ref, spent, carried):
            return -1
    rows[0], rows[2], rows[3], rows[5], rows[8] = ref[0], ref[2], ref[3], ref[5], ref[8]     # price, permanent,
    left[:] = spent                                                        # temporary, outstanding, flow
    return _requote(table, tables, made, n, rows[0], venue_price, two)


def _requote(table, tables, made, n, price, venue_price, two):
    """Router._requote on the table once the block's `made` rows are its state: a book with nothing consumed
    re-quotes around the moved reference (a `made` row more), every venue's USD price is read again. The count
    of `made` rows."""
    for j in range(n):
        k = int(made[j, 0])
        if table[k, 0] == BOOK:
            table[k, 5], table[k, 4] = made[j, 1], made[j, 2]
        elif table[k, 0] == V2:
            table[k, 4], table[k, 5] = made[j, 1], made[j, 2]
        else:
            table[k, 4], table[k, 5], table[k, 6] = made[j, 1], made[j, 2], made[j, 3]
    for k in range(table.shape[0]):
        q = int(table[k, QUOTE])
        usd = 1.0 if q < 0 else price[q]
        kind = table[k, 0]
        if kind == V2:
            mid = table[k, 5] / table[k, 4]
        elif kind == BOOK:
            if table[k, 4] == 0.0:
                table[k, 5] = price[int(table[k, ASSET])] / usd
                made[n, 0], made[n, 1], made[n, 2] = k, table[k, 5], table[k, 4]
                n += 1
            mid = _book_mid(table, k, tables, two)
        else:
            mid = _v3_mid(table[k, 4], table[k, 8], table[k, 9] != 0.0, two)
        venue_price[int(table[k, VENUE])] = mid * usd
    return n


try:
    import numba
    _jit = numba.njit(cache=True, nogil=True)
    _inline = numba.njit(cache=True, nogil=True, inline="always")
    _v3_mid, _book_mid = _inline(_v3_mid), _inline(_book_mid)
    _moving, _requote = _jit(_moving), _jit(_requote)
    block_kernel = _jit(_block)
except ImportError:                     # pragma: no cover - without numba compiled.ON is off
    block_kernel = None
