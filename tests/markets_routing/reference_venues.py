"""The engine's first venue model, kept as the reference the router is tested against (was
backtest/markets/venues.py; no product code uses it): one constant-product pool per volatile
asset, stable assets at market.

The pool *is* the market price of its asset: our sales move it; arbitrage against the
exogenous (CEX) path pulls it back with a half-life. With feedback off, trades fill at the
pool's price less its fee and leave the pool as it was (the counterfactual for amplification).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from backtest.markets import uniswap_v2


@dataclass
class Venues:
    price: np.ndarray          # [A] market USD price
    pool_of: np.ndarray        # [A] pool index or -1
    base: np.ndarray           # [P] reserve of the pool's asset
    quote: np.ndarray          # [P] reserve of its quote asset
    quote_asset: np.ndarray    # [P] asset index of the quote
    fee: np.ndarray            # [P]
    feedback: bool = True
    sold: np.ndarray = None    # [A] units sold this step

    def __post_init__(self):
        self.sold = np.zeros_like(self.price)

    def _quote_usd(self, p: int) -> float:
        return float(self.price[self.quote_asset[p]])

    def sell_quote(self, asset: int, amount: float) -> float:
        """USD received for selling `amount` of `asset`, without trading."""
        p = self.pool_of[asset]
        if amount <= 0:
            return 0.0
        if p < 0:
            return amount * float(self.price[asset])
        if not self.feedback:
            return amount * float(self.price[asset]) * (1 - self.fee[p])
        return uniswap_v2.amount_out(amount, self.base[p], self.quote[p], self.fee[p]) * self._quote_usd(p)

    def buy_quote(self, asset: int, amount: float) -> float:
        """USD needed to buy exactly `amount` of `asset`, without trading."""
        p = self.pool_of[asset]
        if amount <= 0:
            return 0.0
        if p < 0:
            return amount * float(self.price[asset])
        if not self.feedback:
            return amount * float(self.price[asset]) / (1 - self.fee[p])
        return uniswap_v2.amount_in(amount, self.quote[p], self.base[p], self.fee[p]) * self._quote_usd(p)

    def sell(self, asset: int, amount: float) -> float:
        usd = self.sell_quote(asset, amount)
        p = self.pool_of[asset]
        self.sold[asset] += amount
        if p >= 0 and self.feedback and amount > 0:
            out = uniswap_v2.amount_out(amount, self.base[p], self.quote[p], self.fee[p])
            self.base[p] += amount
            self.quote[p] -= out
            self._reprice(p)
        return usd

    def buy(self, asset: int, amount: float) -> float:
        usd = self.buy_quote(asset, amount)
        p = self.pool_of[asset]
        if p >= 0 and self.feedback and amount > 0:
            paid = uniswap_v2.amount_in(amount, self.quote[p], self.base[p], self.fee[p])
            self.base[p] -= amount
            self.quote[p] += paid
            self._reprice(p)
        return usd

    def _reprice(self, p: int) -> None:
        asset = int(np.flatnonzero(self.pool_of == p)[0])
        self.price[asset] = self.quote[p] / self.base[p] * self._quote_usd(p)

    def arbitrage(self, exo_prev: np.ndarray, exo_now: np.ndarray, dt: float, half_life: float) -> None:
        """Exogenous moves pass straight through; the gap our sales opened decays by half-life."""
        no_pool = self.pool_of < 0
        self.price[no_pool] = exo_now[no_pool]
        keep = 0.5 ** (dt / half_life) if half_life > 0 else 0.0
        for asset in np.flatnonzero(~no_pool):
            p = self.pool_of[asset]
            gap = math.log(self.price[asset] / exo_prev[asset])
            target = exo_now[asset] * math.exp(gap * keep)
            self.base[p], self.quote[p] = uniswap_v2.reserves_at_price(
                self.base[p], self.quote[p], target / self._quote_usd(p))
            self.price[asset] = target
        self.sold[:] = 0.0
