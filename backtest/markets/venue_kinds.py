"""The three kinds of venue the router trades on, each in the units of its own quote asset: the pools here, the
off-chain order book in backtest.markets.depth_book.

Every kind answers the same five questions, so the router can compare them:
  sell_out(x) -> quote received for x base (no state change), sell(x) -> same, and trades;
      sold(x) -> sell(x)'s move alone (the router trades the route it has quoted);
  buy_in(y)   -> quote paid for exactly y base (+inf if the venue cannot deliver), buy(y);
  mid()       -> marginal price in quote per base (before fee);
  pull_to(target, anchor) -> move the venue so its mid is `target` (arbitrage), returning the
      change of its base and quote holdings (what the arbitrageur passes on to the reference market);
      pulled(target, anchor) -> the same, without the move;
  depth(impact) -> base units sellable before the mid falls by `impact` (reports, metrics);
  first_marginals() -> (buy_marginal(0.0), sell_marginal(0.0)), the same floats (the router's
      purchase floor and sale ceiling, asked after every trade of the venue).

Quotes are plain floats. Pools hold their state and mutate it on `sell`/`buy`; nothing here
knows about USD: the router values the quote asset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from backtest.markets import uniswap_v2, v3_compiled
from backtest.markets.depth_book import DepthBook
from backtest.markets.uniswap_v3 import PoolState

@dataclass
class V2Pool:
    """Constant product (Uniswap/v2-periphery UniswapV2Library.sol), reserves oriented base/quote."""
    asset: int
    quote_asset: int
    base: float
    quote: float
    fee: float
    name: str = ""

    def mid(self) -> float:
        return self.quote / self.base

    def sell_out(self, amount: float) -> float:
        return uniswap_v2.amount_out(amount, self.base, self.quote, self.fee)

    def buy_in(self, amount: float) -> float:
        return uniswap_v2.amount_in(amount, self.quote, self.base, self.fee)

    def sell(self, amount: float) -> float:
        out = uniswap_v2.amount_out(amount, self.base, self.quote, self.fee)
        self.base += amount
        self.quote -= out
        return out

    def sold(self, amount: float) -> None:
        """`sell`'s move without its answer (the router already has the route's quote)."""
        self.sell(amount)

    def buy(self, amount: float) -> float:
        paid = uniswap_v2.amount_in(amount, self.quote, self.base, self.fee)
        self.base -= amount
        self.quote += paid
        return paid

    def pull_to(self, target: float, anchor: float) -> tuple[float, float]:
        base, quote = self.base, self.quote
        self.base, self.quote = uniswap_v2.reserves_at_price(self.base, self.quote, target)
        return self.base - base, self.quote - quote

    def pulled(self, target: float, anchor: float) -> tuple[float, float]:
        """What pull_to would return, without the move (arbitrage's meeting price asks it of many targets)."""
        base, quote = uniswap_v2.reserves_at_price(self.base, self.quote, target)
        return base - self.base, quote - self.quote

    def depth(self, impact: float) -> float:
        # Marginal price after selling a is mid (R_b / (R_b + a))^2 (fee aside).
        return self.base * (1.0 / math.sqrt(1.0 - impact) - 1.0)

    # Marginal prices net of fee, and their inverses, for splitting an order (router.split).
    # Sale: d out / d u = g R_b R_q / (R_b + g u)^2, g = 1 - fee.
    def sell_marginal(self, u: float) -> float:
        g = 1.0 - self.fee
        return g * self.base * self.quote / (self.base + g * u) ** 2

    def sell_amount_at(self, m: float) -> float:
        g = 1.0 - self.fee
        return max(0.0, (math.sqrt(g * self.base * self.quote / m) - self.base) / g)

    # Purchase: d cost / d y = R_b R_q / ((R_b - y)^2 g).
    def buy_marginal(self, y: float) -> float:
        return math.inf if y >= self.base else self.base * self.quote / ((self.base - y) ** 2 * (1.0 - self.fee))

    def buy_amount_at(self, m: float) -> float:
        return max(0.0, self.base - math.sqrt(self.base * self.quote / ((1.0 - self.fee) * m)))

    def first_marginals(self) -> tuple[float, float]:
        return self.buy_marginal(0.0), self.sell_marginal(0.0)


@dataclass
class V3Pool:
    """Concentrated liquidity: the tick walk of backtest.markets.uniswap_v3 on a lake snapshot.

    `base_is_token0` orients the pool; amounts cross into raw units with the decimals.
    """
    asset: int
    quote_asset: int
    state: PoolState
    base_is_token0: bool
    base_decimals: int
    quote_decimals: int
    name: str = ""

    def __post_init__(self):
        # whole token1 per whole token0 = sqrtP^2 * 10^(d0 - d1), and the raw units of a whole base and quote: the
        # decimals' scales, once (a kept sale's mid reads one on every call); replace() reruns this, a copy or
        # pickle keeps them with the fields they come from
        d0, d1 = ((self.base_decimals, self.quote_decimals) if self.base_is_token0
                  else (self.quote_decimals, self.base_decimals))
        self._factor = 10.0 ** (d0 - d1)
        self._base_unit, self._quote_unit = 10.0 ** self.base_decimals, 10.0 ** self.quote_decimals

    @property
    def fee(self) -> float:
        return self.state.fee

    def _raw_price_factor(self) -> float:
        return self._factor

    def mid(self, state: PoolState | None = None) -> float:
        return self._mid_at((state or self.state).sqrt_price)

    def _mid_at(self, sqrt_price: float) -> float:
        p = sqrt_price ** 2 * self._factor
        return p if self.base_is_token0 else 1.0 / p

    def _sqrt_price_for(self, price: float) -> float:
        p = price if self.base_is_token0 else 1.0 / price
        return math.sqrt(p / self._factor)

    def _sell(self, amount: float) -> tuple:
        """v3_compiled.walk of a sale of `amount` base: (quote out raw, ..., sqrt price, tick, liquidity after).
        The router quotes a sale, then makes it: the walk is kept for the state it started from
        (PoolState is frozen, and replaced by every trade), so the sale reuses the quote's."""
        memo = self.__dict__.get("_sell_memo")
        if memo is not None and memo[0] is self.state and memo[1] == amount:
            return memo[2]
        res = v3_compiled.walk(self.state, amount * self._base_unit, self.base_is_token0)
        self._sell_memo = (self.state, amount, res)
        return res

    def sell_out(self, amount: float) -> float:
        """What the pool pays; if it runs out of liquidity the unsold rest earns nothing here."""
        return float(self._sell(amount)[0]) / self._quote_unit

    def sell(self, amount: float) -> float:
        res = self._sell(amount)
        self.state = v3_compiled.after(self.state, res)
        return float(res[0]) / self._quote_unit

    def sold(self, amount: float, walked: tuple | None = None) -> None:
        """`sell`'s move without its answer (the router already has the route's quote). `walked`: the (sqrt price,
        tick, liquidity) a quote's walk of `amount` from this state ends at (Table.walked), taken as they are."""
        if walked is not None:
            self.state = self.state.moved(*walked)
        else:
            self.state = v3_compiled.after(self.state, self._sell(amount))

    def _buy(self, amount: float) -> tuple[float, float] | None:
        """(sqrt price after, quote paid in whole units) for exactly `amount` base out; kept, as `_sell`."""
        memo = self.__dict__.get("_buy_memo")
        if memo is not None and memo[0] is self.state and memo[1] == amount:
            return memo[2]
        done = v3_compiled.exact_output(self.state, amount * self._base_unit, not self.base_is_token0)
        out = None if done is None else (done[0], done[1] / self._quote_unit)
        self._buy_memo = (self.state, amount, out)
        return out

    def _moved_to(self, sqrt_price: float) -> PoolState:
        if sqrt_price == self.state.sqrt_price:
            return self.state
        zfo = sqrt_price < self.state.sqrt_price
        return v3_compiled.swap(self.state, math.inf, zfo, sqrt_price_limit=sqrt_price).state

    def buy_in(self, amount: float) -> float:
        done = self._buy(amount)
        return math.inf if done is None else done[1]

    def buy(self, amount: float) -> float:
        done = self._buy(amount)
        if done is None:
            return math.inf
        self.state = self._moved_to(done[0])
        return done[1]

    def pull_to(self, target: float, anchor: float) -> tuple[float, float]:
        """Swap to the target price: (change of the pool's base, of its quote), whole units."""
        res, base, quote = self._pull(target)
        if res is not None:
            self.state = res.state
        return base, quote

    def pulled(self, target: float, anchor: float) -> tuple[float, float]:
        """What pull_to would return, without the move."""
        return self._pull(target)[1:]

    def _pull(self, target: float) -> tuple:
        """(the swap to the target price or None, change of the pool's base, of its quote)."""
        sqrt_price = self._sqrt_price_for(target)
        if sqrt_price == self.state.sqrt_price:
            return None, 0.0, 0.0
        zfo = sqrt_price < self.state.sqrt_price              # token0 in
        res = v3_compiled.swap(self.state, math.inf, zfo, sqrt_price_limit=sqrt_price)
        token0, token1 = (res.amount_in_used, -res.amount_out) if zfo else (-res.amount_out, res.amount_in_used)
        base, quote = (token0, token1) if self.base_is_token0 else (token1, token0)
        return res, float(base) / self._base_unit, float(quote) / self._quote_unit

    def depth(self, impact: float) -> float:
        limit = self._sqrt_price_for(self.mid() * (1.0 - impact))
        res = v3_compiled.swap(self.state, math.inf, self.base_is_token0, sqrt_price_limit=limit)
        return float(res.amount_in_used) * (1.0 - self.fee) / self._base_unit

    # Marginal prices net of fee (the fee comes off every step's input, so a sale's marginal
    # output is (1 - fee) x the price reached) and their inverses: a swap to the price limit.
    def sell_marginal(self, u: float) -> float:
        return (1.0 - self.fee) * self._mid_at(self._sell(u)[4] if u > 0 else self.state.sqrt_price)

    def sell_amount_at(self, m: float) -> float:
        target = m / (1.0 - self.fee)
        if target >= self.mid():
            return 0.0
        res = v3_compiled.swap(self.state, math.inf, self.base_is_token0, sqrt_price_limit=self._sqrt_price_for(target))
        return float(res.amount_in_used) / self._base_unit

    def first_marginals(self) -> tuple[float, float]:
        """buy_marginal(0.0), sell_marginal(0.0): the mid read once."""
        mid, keep = self._mid_at(self.state.sqrt_price), 1.0 - self.state.fee
        return mid / keep, keep * mid

    def buy_marginal(self, y: float) -> float:
        if not y > 0:                        # the current price: no state to build (the router asks often)
            return self.mid() / (1.0 - self.fee)
        done = self._buy(y)
        if done is None:
            return math.inf
        return self.mid(replace(self.state, sqrt_price=done[0])) / (1.0 - self.fee)

    def buy_amount_at(self, m: float) -> float:
        target = m * (1.0 - self.fee)
        if target <= self.mid():
            return 0.0
        res = v3_compiled.swap(self.state, math.inf, not self.base_is_token0,
                              sqrt_price_limit=self._sqrt_price_for(target))
        return float(res.amount_out) / self._base_unit


def arbitrage_goal(venue, target: float, mid: float) -> float | None:
    """Where arbitrage at `target` (quote per base) takes a venue at `mid`: a pool to within its fee of
    it, an order book to the price itself; None when it does not trade."""
    if isinstance(venue, DepthBook):
        if venue.net_sold == 0.0 and venue.reference == target:
            return None
        return target
    goal = min(max(mid, target * (1.0 - venue.fee)), target / (1.0 - venue.fee))
    return None if goal == mid else goal
