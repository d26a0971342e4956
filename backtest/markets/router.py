"""Several venues per asset, one reference market: liquidators route each trade to the venue that
pays best, and arbitrage ties every venue to the reference between blocks.

Holds any mix of Uniswap v2 pools, Uniswap v3 pools and off-chain depth curves per asset (the
one-pool-per-asset model it replaced lives on as tests/markets_routing/reference_venues.py). All protocols of a
replay trade against the same Router, so one protocol's liquidations move the prices another
sees.

* Routing: a trade goes whole to the single venue that pays most for the full amount (sale) or
  charges least (purchase); ties go to the venue listed first. With `split=True` it is split
  so that every venue used ends at the same marginal price (backtest/markets/split.py). An asset
  with no venue trades on its reference market, through the impact curve.
* Price of an asset (`price`): its reference market's (backtest/markets/reference.py): the path
  moved by the impact of the flow that reached it. Venues keep their own prices; a pool sold
  through its liquidity never sets `price` (nor, through it, any oracle).
* Path moves (`follow_path`, once a step) pass straight into the reference and every venue: the
  path already carries the market's own trading, so they bring no flow.
* Arbitrage (`arbitrage`, every block): every venue is brought back to the reference price to
  within its fee (an order book all the way: its makers refill); what the arbitrageurs take out of
  or put into a venue they trade on the reference market, which moves it once.
* Quotes in another volatile asset (wstETH/WETH): that asset's reference price values them.
* `feedback=False`: every fill is at the chosen venue's price less its fee; nothing moves.
* What no fill can beat (purchase floor, sale ceiling, the venues' price range): backtest/markets/price_bounds.py.
* Quoted routes kept until something they read moves (`_remembered`, `remember`): backtest/markets/route_memo.py.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from backtest import compiled
from backtest.markets import quote_compiled
from backtest.markets.depth_book import USD, DepthBook
from backtest.markets.price_bounds import PriceBounds
from backtest.markets.reference import ReferenceMarket
from backtest.markets.route_memo import RouteMemo
from backtest.markets.split import split_purchase, split_sale
from backtest.markets.venue_kinds import V2Pool, V3Pool, arbitrage_goal

DEPTH_IMPACT = 0.02


@dataclass
class Router(RouteMemo, PriceBounds):
    price: np.ndarray                  # [A] reference USD price (the reference market's array, shared)
    venues: list                       # V2Pool / V3Pool / DepthBook, any order
    feedback: bool = True
    split: bool = False                # split orders across venues (see backtest/markets/split.py)
    pool_of: np.ndarray = None         # [A] first venue of each asset, -1 if none
    sold: np.ndarray = None            # [A] units sold this step
    venue_price: np.ndarray = field(default=None, repr=False)   # [V] USD price of each venue
    reference: ReferenceMarket = field(default=None, repr=False)
    meet = False                       # a run sets it from config.arbitrage ("meet" by default: arb_meet.py); not a field

    def __post_init__(self):
        n = len(self.price)
        self.by_asset: list[list[int]] = [[] for _ in range(n)]
        for v, venue in enumerate(self.venues):
            self.by_asset[venue.asset].append(v)
        self.pool_of = np.array([vs[0] if vs else -1 for vs in self.by_asset], dtype=int)
        self.sold = np.zeros_like(self.price)
        self.venue_price = np.array([self.price[v.asset] for v in self.venues], dtype=float)
        self.order = _levels(self.by_asset, self.venues)
        # a trade in asset a can move the quotes of a and of the assets with a venue quoted in a
        self._moves = [sorted({a} | {v.asset for v in self.venues if v.quote_asset == a}) for a in range(n)]
        self._sides = [[(v, self.venues[v].quote_asset) for v in vs] for vs in self.by_asset]
        # assets quoted compiled (quote_compiled.one): a v3 pool or a book among their venues
        self._heavy = [any(type(self.venues[v]) is not V2Pool for v in vs) for vs in self.by_asset]
        # `ceilings`' passes: assets without a venue, with one (asset, venue, quote asset), with several
        self._bare = [a for a, vs in enumerate(self.by_asset) if not vs]
        self._single = [(a, *sides[0]) for a, sides in enumerate(self._sides) if len(sides) == 1]
        self._several = [a for a, vs in enumerate(self.by_asset) if len(vs) > 1]
        self._venued = [a for a, vs in enumerate(self.by_asset) if vs]
        self._traded = [0] * n      # per asset: trades of it (`_trading`); `remember`'s sales keep the count
        self._all_moved()
        if self.reference is None:                 # no impact until a run attaches its own
            self.attach(ReferenceMarket(self.price, *(np.zeros(n),) * 4))

    def attach(self, reference: ReferenceMarket) -> None:
        """The run's reference market; `price` becomes its price array (same values at the start)."""
        self.reference = reference
        self.price = reference.price
        self._all_moved()

    def __setstate__(self, state: dict) -> None:
        """A copy (deepcopy, pickle) prices at its own reference market's array, as `attach` made it: that array is a
        row of the reference's own (reference.py), which a copy makes anew."""
        self.__dict__.update(state)
        if self.reference is not None:
            self.price = self.reference.price

    def fresh(self, price: np.ndarray, feedback: bool) -> "Router":
        """An independent copy starting at `price` (each replay mutates its own venues), with a
        reference market without impact until the run attaches its own."""
        out = copy.deepcopy(self)
        out.feedback = feedback
        out.attach(ReferenceMarket(np.array(price, dtype=float), *(np.zeros(len(price)),) * 4))
        out.venue_price = np.array([out.price[v.asset] for v in out.venues], dtype=float)
        out.sold = np.zeros_like(out.price)
        return out

    # -- what the caches hear ---------------------------------------------------------------------
    # Three things are kept between calls: each venue's first-unit marginal prices (`_first`), each
    # asset's (purchase floor, sale ceiling) (`ceilings`) and each quoted route (`_remembered`). Two
    # events end them, and only these two methods hear of either.
    def _all_moved(self) -> None:
        """Every venue and reference price may have moved (a path move, arbitrage, a new reference)."""
        n = len(self.price)
        self._first: list = [None] * len(self.venues)   # per venue: its first_marginals() or None
        self._generation = [0] * n                      # per asset: bumped by each trade that can move its quotes
        self._routes: dict = {}          # (buy?, asset, amount, split, feedback) -> (generation of the asset, route, USD)
        self._seen: list = [-1] * n      # per asset: the generation its `ceilings` entry was computed at
        self._ceilings = (None, None, [0.0] * n, [0.0] * n)
        self._range = (None,)            # (the ceilings it was made from, quote_range's two arrays)
        self._moved: list | None = None  # venues traded since quote_compiled's table was read (None: all)
        self._bought = self._sale = None  # `remember`'s two quotes: (asset, amount, split, feedback, `_routes` entry)

    def _trading(self, asset: int) -> None:
        """A trade of `asset` is about to be made: its venues' states and its reference price may move.
        Its venues' first-unit marginals go; every asset whose quotes read either (`_moves`: its own,
        and those with a venue quoted in it) gets a new generation, which lapses its routes and bounds."""
        first, moved = self._first, self._moved
        self._traded[asset] += 1
        for v in self.by_asset[asset]:
            first[v] = None
        if moved is not None:
            moved += self.by_asset[asset]
            if len(moved) > 1024:            # no compiled quote read it for long: rebuild every row then
                self._moved = None
        gen = self._generation
        for a in self._moves[asset]:
            gen[a] += 1

    # -- quotes -------------------------------------------------------------------------------
    def _quote_usd(self, v: int) -> float:
        q = self.venues[v].quote_asset
        return 1.0 if q == USD else float(self.price[q])

    # The best venue for a whole order: the first venue, replaced by a strictly better quote or by any quote
    # where the one kept is NaN (a venue whose state went NaN never wins over one that prices; with every
    # quote NaN the order goes to the first venue, never to a venue index -1).
    # With feedback, an asset with a v3 pool or a depth book is quoted compiled (quote_compiled.one, the same floats).
    def _best_sale(self, asset: int, amount: float) -> tuple[int, float]:
        best, best_usd = -1, -math.inf
        venues = self.venues
        if self.feedback:
            got = quote_compiled.one(self, False, asset, amount) if self._heavy[asset] and compiled.ON else None
            if got is not None:
                return got
            price = self.price
            for v, q in self._sides[asset]:
                usd = venues[v].sell_out(amount) * (1.0 if q == USD else float(price[q]))     # _quote_usd(v)
                if usd > best_usd or best < 0 or (best_usd != best_usd and usd == usd):
                    best, best_usd = v, usd
            return best, best_usd
        for v in self.by_asset[asset]:
            usd = amount * float(self.venue_price[v]) * (1 - venues[v].fee)
            if usd > best_usd or best < 0 or (best_usd != best_usd and usd == usd):
                best, best_usd = v, usd
        return best, best_usd

    def _best_purchase(self, asset: int, amount: float) -> tuple[int, float]:
        best, best_usd = -1, math.inf
        venues = self.venues
        if self.feedback:
            got = quote_compiled.one(self, True, asset, amount) if self._heavy[asset] and compiled.ON else None
            if got is not None:
                return got
            price = self.price
            for v, q in self._sides[asset]:
                usd = venues[v].buy_in(amount) * (1.0 if q == USD else float(price[q]))       # _quote_usd(v)
                if usd < best_usd or best < 0 or (best_usd != best_usd and usd == usd):
                    best, best_usd = v, usd
            return best, best_usd
        for v in self.by_asset[asset]:
            usd = amount * float(self.venue_price[v]) / (1 - venues[v].fee)
            if usd < best_usd or best < 0 or (best_usd != best_usd and usd == usd):
                best, best_usd = v, usd
        return best, best_usd

    def _find_sale(self, asset: int, amount: float) -> tuple[list[tuple[int, float]], float]:
        """[(venue, amount)] and USD: the whole order at the best venue, or split (`split=True`)
        when another venue pays more at the margin than the best one does after the order. An asset
        with no venue: no route, and the fill its reference market gives (no impact without feedback)."""
        vs = self.by_asset[asset]
        if not vs:
            return [], self.reference.fill(asset, amount) if self.feedback else amount * float(self.price[asset])
        v, usd = self._best_sale(asset, amount)
        if not (self.split and self.feedback and len(vs) > 1):
            return [(v, amount)], usd
        q = [self._quote_usd(i) for i in vs]
        after = self.venues[v].sell_marginal(amount) * self._quote_usd(v)
        if all(self.venues[i].sell_marginal(0.0) * qi <= after for i, qi in zip(vs, q) if i != v):
            return [(v, amount)], usd
        out = split_sale([self.venues[i] for i in vs], q, amount, after)
        if out is None or not out[1] > usd:
            return [(v, amount)], usd
        return [(i, part) for i, part in zip(vs, out[0]) if part > 0], out[1]

    def _find_purchase(self, asset: int, amount: float) -> tuple[list[tuple[int, float]], float]:
        vs = self.by_asset[asset]
        if not vs:
            return [], -self.reference.fill(asset, -amount) if self.feedback else amount * float(self.price[asset])
        v, usd = self._best_purchase(asset, amount)
        if not (self.split and self.feedback and len(vs) > 1):
            return [(v, amount)], usd
        q = [self._quote_usd(i) for i in vs]
        after = self.venues[v].buy_marginal(amount) * self._quote_usd(v)
        if all(self.venues[i].buy_marginal(0.0) * qi >= after for i, qi in zip(vs, q) if i != v):
            return [(v, amount)], usd
        out = split_purchase([self.venues[i] for i in vs], q, amount, after)
        if out is None or not out[1] < usd:
            return [(v, amount)], usd
        return [(i, part) for i, part in zip(vs, out[0]) if part > 0], out[1]

    def sell_quote(self, asset: int, amount: float) -> float:
        """USD received for selling `amount` of `asset` at the best venue(s), without trading."""
        if amount <= 0:
            return 0.0
        return self._remembered(False, asset, amount, self._find_sale)[1]     # _route_sale

    def buy_quote(self, asset: int, amount: float) -> float:
        """USD needed to buy exactly `amount` of `asset` at the cheapest venue(s), without trading."""
        if amount <= 0:
            return 0.0
        return self._remembered(True, asset, amount, self._find_purchase)[1]     # _route_purchase

    # -- trades -------------------------------------------------------------------------------
    def sell(self, asset: int, amount: float) -> float:
        """Sell `amount` of `asset` along its quoted route (`sell_quote`'s, remembered): at its venues, or
        at its reference market (the fill, then the flow's impact) when it has none."""
        if amount <= 0:
            return self._sold_none(asset, amount)
        got = self._sale            # self._entry(key), inline
        got = got[4] if got is not None and got[0] == asset and got[1] == amount and got[2] == self.split and \
            got[3] == self.feedback else self._routes.get((False, asset, amount, self.split, self.feedback))
        kept = None if got is None or len(got) < 4 else got[4]      # quote_compiled's sale at each venue (`remember`)
        if got is not None and got[0] == self._generation[asset]:        # _remembered, inline
            return self._sell_along(asset, amount, got[1], got[2], kept)
        if kept is not None and got[3] == self._traded[asset] and kept[1] == kept[0].written:
            return self._sell_along(asset, amount, *self._chosen_again(asset, amount, kept[0].sales), kept)
        return self._sell_along(asset, amount, *self._remembered(False, asset, amount, self._find_sale), None)

    def _sold_none(self, asset: int, amount: float) -> float:
        """`sell` of an amount <= 0: nothing routed, the caches told (with feedback), `sold` moved by it."""
        if self.feedback:                     # without it no venue or price moves: every cache holds
            self._trading(asset)
        self.sold[asset] += amount
        return 0.0

    def _sell_along(self, asset: int, amount: float, route: list, usd: float, kept: tuple | None) -> float:
        """`sell` of `amount` (> 0 or NaN) along `route` (its quote `usd`); `kept`: quote_compiled's sale at each venue
        (a Table and its count), which moves a v3 pool and reprices a book as it worked them out."""
        feedback = self.feedback
        if feedback:
            self._trading(asset)
        sold = self.sold
        sold[asset] = sold.item(asset) + amount       # `+=`'s sum, in plain floats (cheaper than a numpy scalar)
        if not feedback:
            return usd
        if not self.by_asset[asset]:
            if amount > 0:                    # ReferenceMarket.sell: the quote's fill, then the flow (not a NaN)
                self.reference.trade(asset, -amount * self.price.item(asset))
            return usd
        venues, price = self.venues, self.price
        for v, part in route:
            venue = venues[v]
            kind = type(venue)
            at = kept[0].walked(kept[1], v) if kept is not None and kind is V3Pool else None
            if at is not None:              # the pool as its quote's walk left it
                venue.sold(part, at)
                mid = venue._mid_at(at[0])
            else:
                venue.sold(part)            # venue.sell(part) without its answer: `usd` is the route's
                mid = kept[0].mid_after(kept[1], v) if kept is not None and kind is DepthBook else None
                if mid is None:             # a book's mid as its kept sale left it, else the venue's own
                    mid = venue.mid()
            q = venue.quote_asset           # self._reprice(v), inline
            self.venue_price[v] = mid * (1.0 if q == USD else price.item(q))
        return usd

    def buy(self, asset: int, amount: float) -> float:
        """Buy exactly `amount` of `asset` along its quoted route (`buy_quote`'s), as `sell` sells."""
        if amount <= 0:
            if self.feedback:                 # without it no venue or price moves: every cache holds
                self._trading(asset)
            return 0.0
        got = self._bought          # self._entry(key), inline
        got = got[4] if got is not None and got[0] == asset and got[1] == amount and got[2] == self.split and \
            got[3] == self.feedback else self._routes.get((True, asset, amount, self.split, self.feedback))
        if got is not None and got[0] == self._generation[asset]:        # _remembered, inline
            return self._buy_along(asset, amount, got[1], got[2])
        return self._buy_along(asset, amount, *self._remembered(True, asset, amount, self._find_purchase))

    def _buy_along(self, asset: int, amount: float, route: list, usd: float) -> float:
        """`buy` of `amount` (> 0 or NaN) along `route` (its quote `usd`)."""
        if not self.feedback:
            return usd
        self._trading(asset)
        if not self.by_asset[asset]:
            if amount > 0:                    # ReferenceMarket.buy: the quote's fill, then the flow (not a NaN)
                self.reference.trade(asset, amount * self.price.item(asset))
            return usd
        if math.isfinite(usd):
            venues = self.venues
            for v, part in route:
                venues[v].buy(part)
                self._reprice(v)
        return usd

    def _reprice(self, v: int) -> None:
        """A venue moved: its USD price (the reference, and so the other venues, did not)."""
        self.venue_price[v] = self.venues[v].mid() * self._quote_usd(v)

    # -- between steps and blocks ---------------------------------------------------------------
    def follow_path(self, exo_prev: np.ndarray, exo_now: np.ndarray) -> None:
        """The path moved (a new step): the reference and every venue move with it by the same
        ratio, with no flow (the path already holds the market's own trading); gaps our sales
        opened are kept, for `arbitrage` to close."""
        self._all_moved()
        ratio = (exo_now / exo_prev).tolist()
        at = self.venue_price.tolist()
        self.reference.follow(exo_now)
        price, now = self.price.tolist(), []           # no venue moves the reference: read once
        for v, venue in enumerate(self.venues):
            q, a = 1.0 if venue.quote_asset == USD else price[venue.quote_asset], venue.asset     # _quote_usd(v)
            venue.pull_to(at[v] * ratio[a] / q, price[a] / q)
            now.append(venue.mid() * q)
        self.venue_price[:] = now
        self.sold[:] = 0.0
        self.reference.flow[:] = 0.0

    def arbitrage(self, seconds: float, half_life: float) -> None:
        """One block: the reference's temporary impact relaxes for `seconds`; then each venue is
        brought to the reference price to within its fee (an order book to the price itself),
        all of the gap (`half_life` 0) or the part a half-life closes in `seconds`; what that
        takes out of or puts into each venue reaches the reference market as flow, once."""
        if not self.feedback:
            return
        keep = 0.5 ** (seconds / half_life) if half_life > 0 else 0.0
        from backtest.markets import arb_meet         # backtest/markets/arb_meet.py (its `_part` serves both rules)
        if self.meet:
            return arb_meet.arbitrage(self, seconds, keep)
        self._all_moved()
        self.reference.decay(seconds)
        price = self.price.tolist()
        flow = [0.0] * len(price)
        for venue in self.venues:
            q, a = 1.0 if venue.quote_asset == USD else price[venue.quote_asset], venue.asset     # _quote_usd(v)
            target, mid = price[a] / q, venue.mid()
            goal = arbitrage_goal(venue, target, mid)
            if goal is None:
                continue
            if keep > 0.0:                             # a pool part of its log gap, a book part of its depth
                goal = arb_meet._part(venue, goal, target, mid, keep)
            base, quote = venue.pull_to(goal, target)
            flow[a] += base * price[a]
            if venue.quote_asset != USD:
                flow[venue.quote_asset] += quote * price[venue.quote_asset]
        for a, usd in enumerate(flow):
            if usd != 0.0:
                self.reference.trade(a, usd)
        self._requote()

    def _requote(self) -> None:
        """After a block's arbitrage: order books with nothing consumed re-quote around the moved
        reference, and every venue's USD price is read again."""
        price = self.price.tolist()                    # as the flows left it
        usd = [1.0 if venue.quote_asset == USD else price[venue.quote_asset] for venue in self.venues]
        for v, venue in enumerate(self.venues):       # books re-quote around the moved reference
            if isinstance(venue, DepthBook) and venue.net_sold == 0.0:
                venue.reference = price[venue.asset] / usd[v]
        self.venue_price[:] = [venue.mid() * usd[v] for v, venue in enumerate(self.venues)]


def _levels(by_asset: list[list[int]], venues: list) -> list[int]:
    """Assets with venues, ordered so every quote asset comes before the assets quoted in it."""
    level = {a: 0 for a, vs in enumerate(by_asset) if not vs}
    pending = [a for a, vs in enumerate(by_asset) if vs]
    while pending:
        ready = [a for a in pending
                 if all(venues[v].quote_asset == USD or venues[v].quote_asset in level for v in by_asset[a])]
        if not ready:
            raise ValueError(f"venues quote each other in a cycle (assets {pending})")
        for a in ready:
            level[a] = 1 + max((level.get(venues[v].quote_asset, 0) for v in by_asset[a]), default=0)
        pending = [a for a in pending if a not in level]
    return sorted((a for a, vs in enumerate(by_asset) if vs), key=lambda a: (level[a], a))
