"""Several venues per asset, one market: liquidators route each trade to the venue that pays best.

A drop-in for `backtest.markets.venues.Venues` (same attributes and methods), holding any mix of
Uniswap v2 pools, Uniswap v3 pools and off-chain depth curves per asset. All protocols of a
replay trade against the same Router, so one protocol's liquidations move the prices another
sees.

* Routing: a trade goes whole to the single venue that pays most for the full amount (sale) or
  charges least (purchase); ties go to the venue listed first. With `split=True` it is split
  so that every venue used ends at the same marginal price (backtest/markets/split.py).
* Market price of an asset: the mean of its venues' prices weighted by each venue's USD depth
  2 % below mid at the start of the replay (`DEPTH_IMPACT`). A thin venue cannot set the price
  alone, as price feeds weight venues by volume; fixed weights keep the
  price a smooth function of the venues and, with one venue, exactly that venue's price.
* Arbitrage: each venue's log gap to the exogenous path decays with the half-life, as in
  `Venues`; exogenous moves pass straight through.
* Quotes in another volatile asset (wstETH/WETH): that asset's market price values them.
  Assets are arbitraged level by level, quote assets first (see `arbitrage`).
* `feedback=False`: every fill is at the chosen venue's price less its fee; nothing moves.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from backtest.markets.split import split_purchase, split_sale
from backtest.markets.venue_kinds import USD

DEPTH_IMPACT = 0.02
QUOTE_SLACK = 1e-9      # relative: float rounding a fill may add beyond its linear ceiling


@dataclass
class Router:
    price: np.ndarray                  # [A] market USD price
    venues: list                       # V2Pool / V3Pool / DepthBook, any order
    feedback: bool = True
    split: bool = False                # split orders across venues (see backtest/markets/split.py)
    pool_of: np.ndarray = None         # [A] first venue of each asset, -1 if none
    sold: np.ndarray = None            # [A] units sold this step
    venue_price: np.ndarray = field(default=None, repr=False)   # [V] USD price of each venue
    weights: np.ndarray = field(default=None, repr=False)       # [V] share of its asset's price

    def __post_init__(self):
        n = len(self.price)
        self.by_asset: list[list[int]] = [[] for _ in range(n)]
        for v, venue in enumerate(self.venues):
            self.by_asset[venue.asset].append(v)
        self.pool_of = np.array([vs[0] if vs else -1 for vs in self.by_asset], dtype=int)
        self.sold = np.zeros_like(self.price)
        self.venue_price = np.array([self.price[v.asset] for v in self.venues], dtype=float)
        self.order = _levels(self.by_asset, self.venues)
        self.quoted_in = [[v for v, venue in enumerate(self.venues) if venue.quote_asset == a] for a in range(n)]
        if self.weights is None:
            self.weights = self._depth_weights()

    def _depth_weights(self) -> np.ndarray:
        usd = np.array([v.depth(DEPTH_IMPACT) * self.venue_price[i] for i, v in enumerate(self.venues)])
        w = np.zeros(len(self.venues))
        for vs in self.by_asset:
            if vs:
                total = usd[vs].sum()
                w[vs] = usd[vs] / total if total > 0 else 1.0 / len(vs)
        return w

    def fresh(self, price: np.ndarray, feedback: bool) -> "Router":
        """An independent copy starting at `price` (each replay mutates its own venues)."""
        out = copy.deepcopy(self)
        out.price = np.array(price, dtype=float)
        out.feedback = feedback
        out.venue_price = np.array([out.price[v.asset] for v in out.venues], dtype=float)
        out.sold = np.zeros_like(out.price)
        return out

    # -- quotes -------------------------------------------------------------------------------
    def _quote_usd(self, v: int) -> float:
        q = self.venues[v].quote_asset
        return 1.0 if q == USD else float(self.price[q])

    def _best_sale(self, asset: int, amount: float) -> tuple[int, float]:
        best, best_usd = -1, -math.inf
        for v in self.by_asset[asset]:
            if self.feedback:
                usd = self.venues[v].sell_out(amount) * self._quote_usd(v)
            else:
                usd = amount * float(self.venue_price[v]) * (1 - self.venues[v].fee)
            if usd > best_usd:
                best, best_usd = v, usd
        return best, best_usd

    def _best_purchase(self, asset: int, amount: float) -> tuple[int, float]:
        best, best_usd = -1, math.inf
        for v in self.by_asset[asset]:
            if self.feedback:
                usd = self.venues[v].buy_in(amount) * self._quote_usd(v)
            else:
                usd = amount * float(self.venue_price[v]) / (1 - self.venues[v].fee)
            if usd < best_usd or best < 0:
                best, best_usd = v, usd
        return best, best_usd

    def _route_sale(self, asset: int, amount: float) -> tuple[list[tuple[int, float]], float]:
        """[(venue, amount)] and USD: the whole order at the best venue, or split (`split=True`)
        when another venue pays more at the margin than the best one does after the order."""
        v, usd = self._best_sale(asset, amount)
        vs = self.by_asset[asset]
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

    def _route_purchase(self, asset: int, amount: float) -> tuple[list[tuple[int, float]], float]:
        v, usd = self._best_purchase(asset, amount)
        vs = self.by_asset[asset]
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
        if not self.by_asset[asset]:
            return amount * float(self.price[asset])
        return self._route_sale(asset, amount)[1]

    def buy_quote(self, asset: int, amount: float) -> float:
        """USD needed to buy exactly `amount` of `asset` at the cheapest venue(s), without trading."""
        if amount <= 0:
            return 0.0
        if not self.by_asset[asset]:
            return amount * float(self.price[asset])
        return self._route_purchase(asset, amount)[1]

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
            return self.venues[vs[0]].sell_marginal(0.0) * self._quote_usd(vs[0])
        return max(self.venues[v].sell_marginal(0.0) * self._quote_usd(v) for v in vs)

    def purchase_floor(self, asset: int) -> float:
        """USD per unit that no purchase of `asset` undercuts: `buy_quote(asset, y) >= y * this`."""
        vs = self.by_asset[asset]
        if not vs:
            return float(self.price[asset])
        if not self.feedback:
            return min(float(self.venue_price[v]) / (1 - self.venues[v].fee) for v in vs)
        if len(vs) == 1:
            return self.venues[vs[0]].buy_marginal(0.0) * self._quote_usd(vs[0])
        return min(self.venues[v].buy_marginal(0.0) * self._quote_usd(v) for v in vs)

    # -- trades -------------------------------------------------------------------------------
    def sell(self, asset: int, amount: float) -> float:
        self.sold[asset] += amount
        if amount <= 0 or not self.by_asset[asset]:
            return self.sell_quote(asset, amount)
        route, usd = self._route_sale(asset, amount)
        if self.feedback:
            for v, part in route:
                self.venues[v].sell(part)
                self._reprice(v)
        return usd

    def buy(self, asset: int, amount: float) -> float:
        if amount <= 0 or not self.by_asset[asset]:
            return self.buy_quote(asset, amount)
        route, usd = self._route_purchase(asset, amount)
        if self.feedback and math.isfinite(usd):
            for v, part in route:
                self.venues[v].buy(part)
                self._reprice(v)
        return usd

    def _reprice(self, v: int) -> None:
        """A venue moved: its USD price, its asset's market price, and venues quoted in that asset."""
        self.venue_price[v] = self.venues[v].mid() * self._quote_usd(v)
        asset = self.venues[v].asset
        self._combine(asset)
        for d in self.quoted_in[asset]:      # no cycles (checked by _levels), so this ends
            self._reprice(d)

    def _combine(self, asset: int) -> None:
        # Written as an offset from the first venue, so venues that agree give exactly their price.
        vs = self.by_asset[asset]
        first = self.venue_price[vs[0]]
        if len(vs) == 1:                     # np.dot of one term is its one product, rounded once
            self.price[asset] = first + float(self.weights[vs[0]] * (first - first))
            return
        self.price[asset] = first + float(np.dot(self.weights[vs], self.venue_price[vs] - first))

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
                quotes = [at[v] for v in vs]
                nan = any(x != x for x in quotes)    # ndarray.min/max propagate NaN; min/max do not
                low[a], high[a] = (math.nan, math.nan) if nan else (min(quotes), max(quotes))
        return low, high

    def quote_range(self) -> tuple[np.ndarray, np.ndarray]:
        """(purchase floor, sale ceiling) per asset, widened by QUOTE_SLACK for float rounding: no
        fill of any size beats them (`purchase_floor`, `sale_ceiling`). Tighter than `mid_range`
        by each venue's fee, so a profit bound on them already rules out the accounts whose bonus
        the fees and the gas eat, before any quote is asked."""
        n = len(self.price)
        low = np.array([self.purchase_floor(a) for a in range(n)], dtype=float) * (1.0 - QUOTE_SLACK)
        high = np.array([self.sale_ceiling(a) for a in range(n)], dtype=float) * (1.0 + QUOTE_SLACK)
        return low, high

    # -- between steps ------------------------------------------------------------------------
    def arbitrage(self, exo_prev: np.ndarray, exo_now: np.ndarray, dt: float, half_life: float) -> None:
        """Exogenous moves pass straight through; the gap our sales opened decays by half-life.

        Order: (1) every venue's USD gap to `exo_prev` is measured as the previous step left it;
        (2) assets without venues take `exo_now`; (3) assets are pulled level by level, quote
        assets before the assets quoted in them, so a WETH-quoted pool's USD target is turned
        into WETH at WETH's new market price.
        """
        prev, now, at = exo_prev.tolist(), exo_now.tolist(), self.venue_price.tolist()   # plain floats, same bits
        gap = [math.log(at[v] / prev[venue.asset]) for v, venue in enumerate(self.venues)]
        no_venue = self.pool_of < 0
        self.price[no_venue] = exo_now[no_venue]
        keep = 0.5 ** (dt / half_life) if half_life > 0 else 0.0
        for asset in self.order:
            for v in self.by_asset[asset]:
                target = now[asset] * math.exp(gap[v] * keep)
                q = self._quote_usd(v)
                self.venues[v].pull_to(target / q, now[asset] / q)
                self.venue_price[v] = target
            self._combine(asset)
        self.sold[:] = 0.0


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
