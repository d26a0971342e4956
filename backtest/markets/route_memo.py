"""The Router's quoted routes, kept until something they read moves: best_plan and the keepers quote a trade,
then make it, and `sell`/`buy` route it again (backtest/markets/router.py). A route of an asset is kept with
the asset's generation, which `Router._trading` bumps for every trade that can move its quotes, and
`Router._all_moved` empties them all (a path move, arbitrage). `remember` keeps a liquidation's two quotes,
made by quote_compiled, in two slots of their own.
"""

from __future__ import annotations

import math

import numpy as np

from backtest.markets.depth_book import USD


class RouteMemo:
    """The Router's route memo (a mixin: `_routes`, `_bought`, `_sale`, `_generation` are the Router's)."""

    def _remembered(self, buy: bool, asset: int, amount: float, route) -> tuple[list[tuple[int, float]], float]:
        """`route(asset, amount)`, asked once while nothing it reads has moved: best_plan and the keepers
        quote a trade, then make it (`buy`, `sell` route it again). A quote of `asset` reads its venues'
        states and the reference prices of its own and its venues' quote assets, which only a trade of an
        asset in `_moves` of it (or a path move, arbitrage) changes; those bump its generation."""
        key = (buy, asset, amount, self.split, self.feedback)       # both are fields a caller may set
        gen = self._generation[asset]
        mine = self._holds(key)
        got = (self._bought if buy else self._sale)[4] if mine else self._routes.get(key)
        if got is not None and got[0] == gen:
            return got[1], got[2]
        if len(self._routes) > 4096:
            self._routes.clear()
        out = self._routes[key] = (gen, *route(asset, amount))
        if mine:                        # `remember`'s quote of the key is stale: the dict's is the newer now
            if buy:
                self._bought = None
            else:
                self._sale = None
        return out[1], out[2]

    def _holds(self, key: tuple) -> bool:
        """Whether `remember`'s slot of the key's side holds the key ((buy?, asset, amount, split, feedback), as
        `_routes`' keys). What it holds is always newer than `_routes`' entry (`_remembered` empties it when
        it routes the key afresh), so it is read first; `buy` and `sell` read both inline."""
        kept = self._bought if key[0] else self._sale
        return kept is not None and kept[0] == key[1] and kept[1] == key[2] and kept[2] == key[3] and kept[3] == key[4]

    def _entry(self, key: tuple) -> tuple | None:
        """What is kept for `key`: `remember`'s quote of it, else `_routes`' entry (None: nothing)."""
        return (self._bought if key[0] else self._sale)[4] if self._holds(key) else self._routes.get(key)

    def remember(self, bought: int, repay: float, buy_venue: int, cost: float, sold: int, amount: float,
                 sell_venue: int, proceeds: float, kept: tuple | None = None) -> None:
        """Keep a purchase of `repay` of asset `bought` and a sale of `amount` of `sold`, whole-order quotes made
        elsewhere (quote_compiled: best_plan's chosen try), as `_remembered` keeps its own (none for an amount
        <= 0, which is never routed); a venue -1 for an asset with no venue (its reference market). `kept`: where
        quote_compiled left the sale at each venue of `sold` (a Table and its count), kept with the asset's trade count.
        In two slots of their own, not in `_routes` (`_entry` reads both): the liquidation that quoted them makes
        them next, and two dict entries a liquidation cost ~1.3 us more in situ (a dict of up to 4,096 float keys)."""
        split, feedback, gen = self.split, self.feedback, self._generation
        self._bought = (bought, repay, split, feedback, (gen[bought], [] if buy_venue < 0 else [(buy_venue, repay)],
                                                         cost)) if repay > 0 else None
        if amount > 0:
            route = [] if sell_venue < 0 else [(sell_venue, amount)]
            self._sale = (sold, amount, split, feedback, (gen[sold], route, proceeds) if kept is None else
                          (gen[sold], route, proceeds, self._traded[sold], kept))
        else:
            self._sale = None

    def make(self, bought: int, repay: float, buy_venue: int, cost: float, sold: int, amount: float, sell_venue: int,
             proceeds: float, kept: tuple | None = None) -> tuple[float, float]:
        """`buy(bought, repay)` then `sell(sold, amount)`: (cost, proceeds) USD, the same trades and floats, of a
        plan quote_compiled has just quoted (`remember`'s arguments) with nothing traded since, made without
        `remember`'s slots: the purchase along its quoted route; the sale along its own while the purchase left
        its generation, else chosen again among `kept`'s answers (Table.sales) while its venues have not traded
        since, else routed afresh, as `sell` reads its slot."""
        gen, traded = self._generation[sold], self._traded[sold]
        if repay > 0:
            cost = self._buy_along(bought, repay, [] if buy_venue < 0 else [(buy_venue, repay)], cost)
        else:
            cost = self.buy(bought, repay)
        if not amount > 0:
            return cost, self._sold_none(sold, amount)
        if self._generation[sold] == gen:
            return cost, self._sell_along(sold, amount, [] if sell_venue < 0 else [(sell_venue, amount)], proceeds,
                                          kept)
        if kept is not None and self._traded[sold] == traded:
            return cost, self._sell_along(sold, amount, *self._chosen_again(sold, amount, kept[0].sales), kept)
        return cost, self._sell_along(sold, amount, *self._remembered(False, sold, amount, self._find_sale), None)

    def _chosen_again(self, asset: int, amount: float, sales: np.ndarray) -> tuple[list[tuple[int, float]], float]:
        """`_find_sale`'s whole order when the venues of `asset` have not traded since they paid what quote_compiled
        left in `sales[v, 0]` (Table.sales), so only the prices of their quote assets can have moved: `_best_sale`'s
        choice, its expression, on those answers."""
        best, best_usd = -1, -math.inf
        price = self.price
        for v, q in self._sides[asset]:
            usd = sales.item(v, 0) * (1.0 if q == USD else price.item(q))     # _quote_usd(v)
            if usd > best_usd or best < 0 or (best_usd != best_usd and usd == usd):
                best, best_usd = v, usd
        return [(best, amount)], best_usd

    def _route_sale(self, asset: int, amount: float) -> tuple[list[tuple[int, float]], float]:
        return self._remembered(False, asset, amount, self._find_sale)

    def _route_purchase(self, asset: int, amount: float) -> tuple[list[tuple[int, float]], float]:
        return self._remembered(True, asset, amount, self._find_purchase)
