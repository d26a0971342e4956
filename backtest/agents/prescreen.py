"""The round's compiled pass: which of one round's under-water rows `liquidate` (agents/liquidator.py) could act
on, found before any quote, each row's tries kept between rounds (agents/screen_kept.py)."""

from __future__ import annotations

import numpy as np

from backtest.agents import screen as _screen
from backtest.agents.liquidator import _sizes
from backtest.agents.round import Round
from backtest.agents.screen_kept import KeptTries, next_kept
from backtest.agents.screen_totals import kept_totals, stamp_moves
from backtest.markets import bounds_compiled
from backtest.markets.router import Router as Venues


class Prescreen:
    """Which of one round's rows `liquidate` could act on, found by one compiled pass
    (screen.next_to_liquidate) instead of a Python call per row: with four agents waiting out their
    latency most under-water rows are handed over block after block and rejected before any quote.
    The pass stops at each row it cannot reject; the caller liquidates it and asks again, so every
    row is judged at the venues and block gas left as they are when it is reached, as the per-row
    loop judges it. Each row's tries are kept between calls while its cells (BookState.versions), HF,
    total debt and held columns' prices stand (screen_kept.py): the same rows come back block after
    block. None of it runs on the Python path (backtest.compiled.ON off)."""

    def __init__(self, book, field):
        self.kinds = book.per_rules(lambda rules: _screen.KIND.get(rules.terms, -1), np.int64)
        self.sizes = _sizes(field.agents[0].sizes)
        self.out = np.empty((book.coll.shape[1] ** 2 * len(self.sizes), 6))
        self.kept = KeptTries(len(book))         # each row's tries, kept while its inputs stand (screen_kept.py)
        self.terms = (None, None)                # the parameters and thresholds the kept tries were built at
        # Aave v3.3 rows' debt @ price, kept per row with its change counter and the prices' generation
        self.totals = np.zeros(len(book))
        self.total_at = np.full((2, len(book)), -1, dtype=np.int64)     # (counter, generation) of each
        self.prices = (None, 0, False)           # the prices the generation stands for (kept: stamp_moves), it, all
                                                 # finite and > 0
        self.moved_at = np.zeros(book.debt.shape[1], dtype=np.int64)   # per column: the generation it last moved
        self.stale = np.empty(len(book), dtype=np.int64)                # _totals' rows to ask again, by position
        self.bounds = None                       # [2, A] the ceilings, written in place (markets/bounds_compiled.py)

    def order(self, rows: np.ndarray, hf: np.ndarray, waited: np.ndarray, book, r: Round, venues: Venues, field):
        """Yields, in order, each k whose row rows[k] may be liquidated (the rows skipped would return
        None) with its tries as best_plan's `built`, valid until the next k is asked for."""
        total = self._totals(rows, book, r.price)
        # each row's (leanest ready agent's gas, bar): Field's own, per set of ready agents
        lean, needed = field.lean_bars(waited, r.gas_usd_per_unit)
        p = r.params
        # what stays put for the round, stacked once (the book's arrays are mutated in place, never rebound)
        per_row = np.stack([np.asarray(hf, dtype=float), lean, needed, total])
        if self.terms[0] is not p or self.terms[1] is not r.lt:       # a governance change: every row afresh
            self.kept.forget()
            self.terms = (p, r.lt)
        per_column = np.stack([r.price, r.lt, p.bonus, p.protocol_fee, p.close_factor]).astype(float, copy=False)
        ceilings, gas, memo, sizes, out = venues.ceilings, field.gas, self.kept.arrays(), self.sizes, self.out
        kinds, coll, debt, asset_of = self.kinds, book.coll, book.debt, book.asset_of
        bounds = self._bounds(venues)
        floor, ceiling = (None, None) if bounds is None else bounds
        k = 0
        while True:                                      # the ceilings as the last liquidation left them
            if bounds is not None and not bounds_compiled.fill(venues, bounds):
                bounds = None                            # a router the venue table does not serve
            if bounds is None:
                floor, ceiling = ceilings()[:2]
            k, n = next_kept(k, rows, per_row, kinds, coll, debt, per_column, asset_of, floor, ceiling, sizes,
                             float(gas.left), out, book.versions(), memo)
            if k >= len(rows):
                return
            yield k, (n, self.out)
            k += 1

    def _bounds(self, venues: Venues) -> np.ndarray | None:
        """The buffer bounds_compiled.fill writes the ceilings into (Router.ceilings' floats, without its
        lists, arrays and cache made after every liquidation), or None: without feedback nothing moves them,
        so Router.ceilings keeps its own."""
        if not venues.feedback:
            return None
        n = len(venues.price)
        if self.bounds is None or self.bounds.shape[1] != n:
            self.bounds = np.empty((2, n))
        return self.bounds

    def _totals(self, rows: np.ndarray, book, price: np.ndarray) -> np.ndarray:
        """Aave v3.3's total debt in USD of each row (0 for the others), `float(debt @ price)` as best_plan
        takes it (BLAS's dot), asked again only for a row whose cells (BookState.versions) or the price of a
        column it owes in (or holds NaN in) moved since: a dot's terms are its products, and a column it does
        not owe in adds debt * price = +0.0 (-0.0 for a -0.0 cell) whatever the price while every price is
        finite and > 0 (else every row is asked again). Within a step the same rows come back round after
        round, most owing stablecoins whose prices hold."""
        last, gen, clean = self.prices
        if last is None or price.dtype != np.float64 or len(price) != len(last) or not price.flags.c_contiguous:
            self.moved_at[:] = gen + 1          # the first call (or prices of another kind): every column moved
            self.prices = (price.copy(), gen + 1, price.dtype == np.float64 and bool(np.isfinite(price).all() and
                                                                                   (price > 0).all()))
        else:                             # every call (a missed move would only ask a row again: the same dot)
            moved, clean = stamp_moves(price, last, clean, self.moved_at, gen + 1)
            if moved:                           # a price not finite or not > 0, now or before: every column
                self.prices = (last, gen + 1, clean)
        total, stale, versions, debt = np.empty(len(rows)), self.stale, book.versions(), book.debt
        n = kept_totals(rows, self.kinds, versions, debt, self.moved_at, self.total_at, self.totals, total, stale)
        if n:                             # screen_totals.py: the rows pass compiled, these dots BLAS's
            totals, total_at, gen = self.totals, self.total_at, self.prices[1]
            for k in stale[:n].tolist():
                i = int(rows[k])
                total[k] = totals[i] = float(debt[i] @ price)
                total_at[0, i], total_at[1, i] = versions[i], gen
        return total
