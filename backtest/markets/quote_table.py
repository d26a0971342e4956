"""The router's venues as the rows of one table, for the compiled quotes (markets/quote_compiled.py; the shape
of meet_compiled.table's): a v2 pool's reserves, a v3 pool's sqrt price, tick and liquidity (its ticks, liquidity
nets and ticks' sqrt prices end to end in two arrays), a depth book's consumed depth, reference and knots.

Kept on the router; a row is read again only after its venue traded or moved (Router._trading and
Router._all_moved, which end the router's other caches, mark it). Plain Python and numpy: the kernels that read
the table are quote_compiled's (which compiles V2, V3 and BOOK in as constants; kernel_cache.py recompiles it).
"""

from __future__ import annotations

import numpy as np

from backtest.markets import v3_compiled
from backtest.markets.depth_book import DepthBook
from backtest.markets.venue_kinds import V2Pool, V3Pool

V2, V3, BOOK = 0.0, 1.0, 2.0     # a row's kind
WIDTH = 12                       # row: kind, quote asset (USD -1), fee, then the kind's own (see `_row`)


class Table:
    """The router's venues as arrays, kept on the router: `rows` [V, WIDTH]; `ticks` (the v3 pools' ticks end
    to end); `tables` (each v3 pool's liquidity nets then its ticks' sqrt prices, each book's knot amounts,
    impacts and cumulative proceeds); `starts`/`order`, each asset's venues in the router's order."""

    def __init__(self, router):
        self.kinds = [type(v) for v in router.venues]
        self.ticks_of = [v.state.ticks if kind is V3Pool else None for v, kind in zip(router.venues, self.kinds)]
        ticks, tables, place = [np.zeros(0, dtype=np.int64)], [np.zeros(0)], []
        n_ticks = n_tables = 0
        for venue, kind in zip(router.venues, self.kinds):
            if kind is V3Pool:
                s = venue.state
                n = len(s.ticks)
                place.append((float(n_ticks), float(n), float(n_tables)))
                ticks.append(np.asarray(s.ticks, dtype=np.int64))
                tables += [np.asarray(s.liquidity_net, dtype=float), v3_compiled.tick_sqrt_prices(s.ticks)]
                n_ticks, n_tables = n_ticks + n, n_tables + 2 * n
            elif kind is DepthBook:
                knots = venue._knots
                n = len(knots[0])
                place.append((float(n_tables), float(n)))
                tables += [np.array(k, dtype=float) for k in knots]
                n_tables += 3 * n
            else:
                place.append(())
        self.ticks, self.tables = np.concatenate(ticks), np.concatenate(tables)
        self.rows = np.array([_row(venue, at) for venue, at in zip(router.venues, place)]).reshape(-1, WIDTH)
        self.seen = [None] * len(router.venues)        # per venue: the state objects its row was read from
        self.starts = np.cumsum([0] + [len(vs) for vs in router.by_asset]).astype(np.int64)
        self.order = np.array([v for vs in router.by_asset for v in vs], dtype=np.int64)
        self.known = all(kind in (V2Pool, V3Pool, DepthBook) for kind in self.kinds)
        self.sales = np.zeros((len(router.venues), 9))     # `plan`'s chosen sale at each venue of its asset (`sale`)
        self.written = 0
        self.refresh(router, range(len(router.venues)))

    def refresh(self, router, moved) -> bool:
        """Read again the state of the venues `moved` (fee, then a v2 pool's reserves, a v3 pool's sqrt price,
        tick and liquidity, a book's net sold and reference) where it is not the very objects last read; False
        if a v3 pool's tick table was replaced (build anew)."""
        venues, rows, seen, kinds = router.venues, self.rows, self.seen, self.kinds
        for v in moved:
            venue, kind, old = venues[v], kinds[v], seen[v]
            if kind is V3Pool:
                s = venue.state
                if s is old:
                    continue
                if s.ticks is not self.ticks_of[v]:
                    return False
                seen[v] = s             # cell by cell: ~0.4 us less than a slice assigned from a tuple
                rows[v, 2], rows[v, 3], rows[v, 4], rows[v, 5] = s.fee, s.sqrt_price, float(s.tick), s.liquidity
            else:
                got = (venue.fee, venue.base, venue.quote) if kind is V2Pool else \
                    (venue.fee, venue.net_sold, venue.reference)
                if old is not None and got[0] is old[0] and got[1] is old[1] and got[2] is old[2]:
                    continue
                seen[v] = got
                rows[v, 2], rows[v, 3], rows[v, 4] = got
        return True

    # `plan` writes its chosen sale into `sales` (`_sale_at_each`); `written` counts those writes, so what the router
    # keeps of one ((this table, its count): Router.remember) reads it only while no later plan wrote over it
    # (Router.sell chooses among sales[:, 0] again when only a quote asset's price moved since).
    def mid_after(self, written: int, v: int) -> float | None:
        """A depth book `v` that has made the kept sale: its mid as `plan` worked it out (DepthBook.mid's expression,
        quote_compiled._book_mid), for Router.sell's repricing; None once overwritten or where `plan` left it NaN."""
        if written == self.written:
            mid = self.sales.item(v, 8)
            if mid == mid:
                return mid
        return None

    def walked(self, written: int, v: int) -> tuple | None:
        """A v3 pool `v` making the kept sale: (sqrt price, tick, liquidity) where `plan`'s walk of it left the pool
        (V3Pool.sold's state after the walk, the same numbers: V3Pool.sold takes them instead of walking); None once
        overwritten."""
        if written != self.written:
            return None
        sales = self.sales
        return sales.item(v, 5), int(sales.item(v, 6)), sales.item(v, 7)

def _row(venue, place: tuple) -> tuple:
    """A venue's row: kind, quote asset, fee, then v2: base, quote reserves; v3: sqrt price, tick, liquidity,
    10^base decimals, 10^quote decimals, base is token0, where its ticks start, how many, where its tables
    start; a book: net sold, reference, tail rel_n and x, where its knots start, how many. Powers of ten are
    the venue's own Python floats (numba's float ** int is not C's pow)."""
    kind, q = type(venue), float(venue.quote_asset)
    if kind is V2Pool:
        return (V2, q, venue.fee, venue.base, venue.quote) + _PAD[5:]
    if kind is V3Pool:
        s = venue.state
        return (V3, q, s.fee, s.sqrt_price, float(s.tick), s.liquidity, venue._base_unit, venue._quote_unit,
                1.0 if venue.base_is_token0 else 0.0, *place)
    if kind is DepthBook:
        return (BOOK, q, venue.fee, venue.net_sold, venue.reference, *venue._tail, *place) + _PAD[9:]
    return _PAD


_PAD = (0.0,) * WIDTH


def table(router) -> Table | None:
    """The router's table with every row current, or None where `plan` does not serve it."""
    if router.split:
        return None
    got = router.__dict__.get("_quote_table")
    moved = router._moved
    if got is None or (moved is None and not got.refresh(router, range(len(router.venues)))) or \
            (moved and not got.refresh(router, moved)):
        got = router._quote_table = Table(router)
    router._moved = []
    return got if got.known else None
