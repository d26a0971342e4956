"""Arbitrage's meeting-price table kept between blocks (arb_meet.arbitrage's compiled path).

meet_compiled.table builds an asset's rows anew for each meeting price (~3-8 us a call: a tuple a venue,
the joined tick and knot tables looked up, one array). Nearly every asset meets every block, and only a
row's columns 1-7 move as venues trade (mid, quote's USD price, 1 - fee and the kind's state). So each
router keeps its assets' rows; a block hands the kernel those columns and the reference's impact state in
one flat array (`_dynamic`), which it writes into the rows before it bisects (`_meet_settle_kept`). The
kernel's inputs are then the floats meet_compiled.table and inputs give, so its answer is theirs
(tests/markets_routing/test_meet_kept.py). A row set is kept while its venues and their tick tables and
knots are the same objects (their identities are checked each call; the objects are held, so no id is
reused); otherwise the rows are built again.

`step` is arb_meet.arbitrage's whole step for an asset in that one call: `_idle`'s test, `_meet`'s checks
and bracket (math.log, the same libm call) and the meeting price, in their order, so Python goes through
arb_meet's layers only where something is wrong (TooFar, a broken tick table: `_meet` then says what).
"""

from __future__ import annotations

import math

import numpy as np

from backtest.markets import meet_compiled
from backtest.markets.depth_book import DepthBook
from backtest.markets.venue_kinds import V2Pool, V3Pool

MOVING = 7              # a row's columns 1..7: mid, USD per quote unit, 1 - fee, then the kind's state


MET, IDLE, ASIDE = 0, 1, 2    # `step`'s answers: a meeting price; nothing trades; the general path answers


def meeting_price(router, a: int, price: list, venues: list, mids: list, units: list, extra: float, lo: float,
                  hi: float, keep: float) -> tuple | None:
    """meet_compiled.meeting_price with `keep` (arbitrage's), on the rows `router` keeps for `a`: (price,
    `_settle`'s rows as lists, None if a tick table broke there), or None (a venue of another kind, a tick
    table broken in the bisection: the Python path answers)."""
    got = _kept(router, a, venues, mids, units)
    if got is None:
        return None
    p, ok, rows = meet_settle_kept(got[0], got[1], got[2], got[3], price[a], extra, lo, hi, keep)
    return None if not ok else (p, None) if rows.shape[1] == 0 else (p, rows.tolist())


def step(router, a: int, price: list, venues: list, mids: list, units: list, extra: float, keep: float):
    """arb_meet.arbitrage's step for `a` in one compiled call: its `_idle` test, `_meet`'s checks and bracket,
    then meeting_price: IDLE, (price, rows as lists or None) as `_meet` answers, or ASIDE where `_meet` must
    answer (what it raises, a tick table broken in the bisection, a venue of another kind)."""
    got = _kept(router, a, venues, mids, units)
    if got is None:
        return ASIDE
    status, p, rows = step_kept(got[0], got[1], got[2], got[3], price[a], extra, keep)
    if status != MET:
        return status
    return p, (None if rows.shape[1] == 0 else rows.tolist())


def _kept(router, a: int, venues: list, mids: list, units: list) -> tuple | None:
    """(rows, ticks, tables, the moving columns and impact): the rows kept for `a`, built again if its venues or
    their tables are other objects; None for a venue of another kind."""
    kept = router.__dict__.get("_meet_kept")
    if kept is None:
        kept = router._meet_kept = {}
    dynamic, held = _dynamic(router.reference, a, venues, mids, units)
    got = kept.get(a)
    if got is None or got[0] != held[0]:
        table = meet_compiled.table(venues, mids, units)
        if table is None:
            return None
        got = kept[a] = (held[0], held[1], *table)
    return got[2], got[3], got[4], dynamic


def _dynamic(ref, a: int, venues: list, mids: list, units: list) -> tuple:
    """(the moving columns of each row, then meet_compiled.inputs' impact, as one array; (the ids of the venues
    and their tick tables or knots, those objects))."""
    out, ids, objects = [], [], []
    for venue, mid, unit in zip(venues, mids, units):
        kind = type(venue)
        if kind is V2Pool:
            out += (mid, unit, 1.0 - venue.fee, venue.base, venue.quote, 0.0, 0.0)
            ids.append(id(venue))
            objects.append(venue)
        elif kind is V3Pool:
            s = venue.state
            out += (mid, unit, 1.0 - s.fee, s.sqrt_price, float(s.tick), s.liquidity, s.fee)
            ids += (id(venue), id(s.ticks), id(s.liquidity_net))
            objects += (venue, s.ticks, s.liquidity_net)
        elif kind is DepthBook:
            out += (mid, unit, 1.0 - venue.fee, venue.net_sold, venue.reference, *venue._tail)
            ids += (id(venue), id(venue._knots))
            objects += (venue, venue._knots)
        else:
            ids.append(None)                # never kept: table() answers None for it
    carried = ref.carried
    out += (ref.exo.item(a), ref.permanent.item(a) + ref.temporary.item(a), ref.coefficient.item(a),
            ref.outstanding.item(a), ref.volume.item(a))
    out += (0.0, 0.0, 0.0) if carried is None else (1.0, float(carried.left[a, 0]), float(carried.left[a, 1]))
    return np.array(out), (tuple(ids), objects)


def _write(rows, dynamic):
    """The moving columns written into the kept rows; the impact after them."""
    n = rows.shape[0]
    for k in range(n):
        for j in range(MOVING):
            rows[k, 1 + j] = dynamic[MOVING * k + j]
    return dynamic[MOVING * n:]


def _meet_settle_kept(rows, ticks, tables, dynamic, pa, extra, lo, hi, keep):
    """meet_compiled.meet_settle on the kept rows, their moving columns written first."""
    return meet_compiled.meet_settle(rows, ticks, tables, pa, _write(rows, dynamic), extra, lo, hi, keep)


def _step_kept(rows, ticks, tables, dynamic, pa, extra, keep):
    """`step`'s kernel: `_step` on the kept rows, their moving columns written first."""
    return _step(rows, ticks, tables, _write(rows, dynamic), pa, extra, keep)


def _step(rows, ticks, tables, impact, pa, extra, keep):
    """An asset's step on its rows: (MET, price, `_settle`'s rows or none), (IDLE, pa, none) or (ASIDE, nan,
    none). Its tests are arb_meet's, in their order: `_idle` (arbitrage_goal is `_goal`), `_meet`'s finiteness,
    bracket and range, then the meeting price's (meet_block's kernel runs it for each asset of a block)."""
    none = np.zeros((0, 0))
    n = rows.shape[0]
    if extra == 0.0:
        idle = True
        for k in range(n):
            if meet_compiled._goal(rows, k, pa / rows[k, 2])[1]:
                idle = False
                break
        if idle:
            return IDLE, pa, none
    low = high = rows[0, 1] * rows[0, 2]
    total = 0.0
    for k in range(n):                                     # min, max and sum of the venues' USD prices
        usd = rows[k, 1] * rows[k, 2]
        if usd < low:
            low = usd
        if usd > high:
            high = usd
        total += usd
    if not (0.0 < low and total - total == 0.0 and 0.0 < pa < math.inf):
        return ASIDE, math.nan, none
    lo = math.log(low if low < pa else pa) - 0.1
    hi = math.log(high if high > pa else pa) + 0.1
    if not meet_compiled._EXP_MIN <= lo <= hi <= meet_compiled._EXP_MAX:
        return ASIDE, math.nan, none
    p, ok, out = meet_compiled.meet_settle(rows, ticks, tables, pa, impact, extra, lo, hi, keep)
    if not ok or not 0.0 < p < math.inf:
        return ASIDE, math.nan, none
    return MET, p, out


try:
    import numba
    _jit = numba.njit(cache=True, nogil=True)
    _write, _step = _jit(_write), _jit(_step)
    meet_settle_kept, step_kept = _jit(_meet_settle_kept), _jit(_step_kept)
except ImportError:                     # pragma: no cover - without numba compiled.ON is off
    meet_settle_kept = step_kept = None
