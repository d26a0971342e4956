"""What no trade of an asset can beat, per asset: the purchase floor and sale ceiling (each venue's
first-unit price net of its fee, in USD) and the range of venue mid prices. A liquidation's profit
bound is built on them, so a quote is asked only where it can win (agents/liquidator.py, the round's
bound in engine/replay.py). Part of the Router (backtest/markets/router.py), which keeps the caches
these read: `_first` (each venue's first-unit marginals), the per-asset generations, `_ceilings`.
"""

from __future__ import annotations

import math

import numpy as np

from backtest import compiled
from backtest.markets import bounds_compiled
from backtest.markets.depth_book import USD

QUOTE_SLACK = 1e-9      # relative: float rounding a fill may add beyond its linear ceiling


class PriceBounds:
    """The Router's bounds side (a mixin: the fields and caches are the Router's)."""

    def sale_ceiling(self, asset: int) -> float:
        """USD per unit that no sale of `asset` beats: the best venue's first-unit price net of
        fee. Proceeds are concave in the amount at every venue kind (and a split sums them), so
        `sell_quote(asset, x) <= x * sale_ceiling(asset)` up to float rounding."""
        vs = self.by_asset[asset]
        if not vs:
            return float(self.price[asset])
        if not self.feedback:
            return max(float(self.venue_price[v]) * (1 - self.venues[v].fee) for v in vs)
        if len(vs) == 1:
            return self._first_unit(vs[0], False) * self._quote_usd(vs[0])
        return max(self._first_unit(v, False) * self._quote_usd(v) for v in vs)

    def ceilings(self) -> tuple[np.ndarray, np.ndarray, list, list]:
        """(purchase_floor, sale_ceiling) of every asset, as arrays and as lists of floats. An asset's
        pair is recomputed only when its generation moved (`_trading`, `_all_moved`), the others kept;
        the same values as asking purchase_floor / sale_ceiling now (tests/markets_routing/test_route_memo.py).
        A liquidation moves every asset quoted in the one it buys or sells (the 1M bench: all, through
        USDC), so this runs after each one: assets with one venue or none in one pass of their own. Compiled
        (with feedback, where the venue table serves the router) every asset is read at once by
        bounds_compiled.fill, the same floats (tests/markets_routing/test_ceilings_compiled.py): ~2x faster
        than the pass even over the few assets a trade moves, and after each block's arbitrage the table it
        brings up to date is the one the block's compiled quotes read."""
        gen, seen = self._generation, self._seen
        if gen == seen:
            return self._ceilings
        if self.feedback and compiled.ON:        # every asset at once, from the venue table the compiled quotes read
            both = np.empty(2 * len(gen))
            if bounds_compiled.fill(self, both.reshape(2, -1)):
                n = len(gen)
                self._seen = gen[:]
                self._ceilings = (both[:n], both[n:], both[:n].tolist(), both[n:].tolist())
                return self._ceilings
        floor, ceiling = self._ceilings[2][:], self._ceilings[3][:]    # callers may hold the last ones
        price = self.price.tolist()              # the same floats as float(self.price[q]), read once
        if self.feedback:
            first, venues = self._first, self.venues
            for a, v, q in self._single:         # _bounds of one venue, inline (a liquidation asks it ~4 times)
                if gen[a] != seen[a]:
                    got = first[v]
                    if got is None:
                        got = first[v] = venues[v].first_marginals()
                    usd = 1.0 if q == USD else price[q]
                    floor[a], ceiling[a] = float(got[0] * usd), float(got[1] * usd)
            rest = self._several
        else:
            rest = self._venued
        for a in self._bare:                     # _bounds of an asset traded only on its reference market
            if gen[a] != seen[a]:
                floor[a] = ceiling[a] = price[a]
        for a in rest:
            if gen[a] != seen[a]:
                floor[a], ceiling[a] = self._bounds(a, price)
        self._seen = gen[:]
        n = len(floor)
        both = np.array(floor + ceiling, dtype=float)
        self._ceilings = (both[:n], both[n:], floor, ceiling)
        return self._ceilings

    def _bounds(self, a: int, price: list) -> tuple[float, float]:
        """(purchase_floor(a), sale_ceiling(a)) as floats, in one pass over its venues (a trade makes
        `ceilings` ask it for a few assets before every liquidation): the same products, and the
        same picks as min and max (a later value replaces only if strictly lower / higher).
        `price`: self.price as a list."""
        sides = self._sides[a]
        if not sides:                       # both are the reference price (an asset traded only there)
            p = price[a]
            return p, p
        if not self.feedback:
            return float(self.purchase_floor(a)), float(self.sale_ceiling(a))
        first, venues = self._first, self.venues
        low = high = None
        for v, q in sides:
            got = first[v]
            if got is None:
                got = first[v] = venues[v].first_marginals()
            usd = 1.0 if q == USD else price[q]
            buy, sell = got[0] * usd, got[1] * usd
            if low is None:
                low, high = buy, sell
            else:
                if buy < low:
                    low = buy
                if sell > high:
                    high = sell
        return float(low), float(high)

    def purchase_floor(self, asset: int) -> float:
        """USD per unit that no purchase of `asset` undercuts: `buy_quote(asset, y) >= y * this`."""
        vs = self.by_asset[asset]
        if not vs:
            return float(self.price[asset])
        if not self.feedback:
            return min(float(self.venue_price[v]) / (1 - self.venues[v].fee) for v in vs)
        if len(vs) == 1:
            return self._first_unit(vs[0], True) * self._quote_usd(vs[0])
        return min(self._first_unit(v, True) * self._quote_usd(v) for v in vs)

    def _first_unit(self, v: int, buy: bool) -> float:
        """venues[v].buy_marginal(0.0) or sell_marginal(0.0), in its quote asset: it reads that venue's
        own state only, so it is kept until the venue trades (`_trading`) or moves (`_all_moved`); the USD
        factor is applied fresh by the caller."""
        got = self._first[v]
        if got is None:
            venue = self.venues[v]
            got = self._first[v] = venue.first_marginals()
        return got[0] if buy else got[1]

    def mid_range(self) -> tuple[np.ndarray, np.ndarray]:
        """(lowest, highest) venue price per asset; the market price where an asset has none.

        A sale can fetch up to `highest` and a purchase cost as little as `lowest`: a bound on a
        liquidation's profit that must never be beaten should use these, not `price`."""
        low, high = self.price.copy(), self.price.copy()
        at = self.venue_price.tolist()                # plain floats: this runs every cascade round
        for a, vs in enumerate(self.by_asset):
            if len(vs) == 1:
                low[a] = high[a] = at[vs[0]]
            elif vs:
                low[a], high[a] = _low_high([at[v] for v in vs])
        return low, high

    def mid_of(self, a: int) -> tuple[float, float]:
        """mid_range's (lowest, highest) of asset `a` alone, as floats (the same values): Maker.trade reads
        its few assets every block, and the whole range cost it more than its own work on most blocks."""
        vs = self.by_asset[a]
        if not vs:
            p = self.price.item(a)
            return p, p
        at = self.venue_price
        if len(vs) == 1:
            x = at.item(vs[0])
            return x, x
        return _low_high([at.item(v) for v in vs])

    def quote_range(self) -> tuple[np.ndarray, np.ndarray]:
        """(purchase floor, sale ceiling) per asset, widened by QUOTE_SLACK for float rounding: no
        fill of any size beats them (`purchase_floor`, `sale_ceiling`). Tighter than `mid_range`
        by each venue's fee, so a profit bound on them already rules out the accounts whose bonus
        the fees and the gas eat, before any quote is asked."""
        got = self.ceilings()
        if self._range[0] is not got:                  # kept as long as the ceilings are
            self._range = (got, got[0] * (1.0 - QUOTE_SLACK), got[1] * (1.0 + QUOTE_SLACK))
        return self._range[1], self._range[2]


def _low_high(quotes: list) -> tuple[float, float]:
    """(min, max) of an asset's venue prices, NaN for both where one is NaN (as ndarray.min/max; min/max do not)."""
    if any(x != x for x in quotes):
        return math.nan, math.nan
    return min(quotes), max(quotes)
