"""The counterfactual runs that split a replay's amplification into its parts.

- *No feedback* (`replay(..., feedback=False)`): fills at the venue's price less its fee, nothing
  moves — the price path alone.
- *Execution only* (`execution_only`): every fill is priced as the real trade would be, impact
  and fee included (so liquidators pay slippage and skip what it makes unprofitable), but the
  venues are left as they were — no sale moves the price anyone else sees.

The feedback run minus the execution-only run is what price feedback adds; the execution-only
run minus the no-feedback run is what execution cost adds (docs/engine.md, "Amplification").
"""

from __future__ import annotations

from dataclasses import replace

from backtest.inputs.book import ReplayInputs
from backtest.markets.router import Router


class StillRouter(Router):
    """A Router whose trades fill at their quote (impact included) and leave every venue unmoved."""

    def sell(self, asset: int, amount: float) -> float:
        self.sold[asset] += amount
        return self.sell_quote(asset, amount)

    def buy(self, asset: int, amount: float) -> float:
        return self.buy_quote(asset, amount)

    def make(self, bought: int, repay: float, buy_venue: int, cost: float, sold: int, amount: float,
             sell_venue: int, proceeds: float, kept: tuple | None = None) -> tuple[float, float]:
        """Router.make's plan made as `buy` then `sell` above, its quotes remembered first (as Router's were)."""
        self.remember(bought, repay, buy_venue, cost, sold, amount, sell_venue, proceeds, kept)
        return self.buy(bought, repay), self.sell(sold, amount)


class _StillPools:
    """Stands in for `inputs.pools`: its fresh copies are StillRouters (the replay loop asks for one)."""

    def __init__(self, pools: Router):
        self.pools = pools

    def fresh(self, price, feedback: bool) -> StillRouter:
        router = self.pools.fresh(price, True)
        router.__class__ = StillRouter
        return router

    def __getattr__(self, name):
        return getattr(self.pools, name)


def execution_only(inputs: ReplayInputs) -> ReplayInputs:
    """The same inputs, whose replays trade at impact without moving any price."""
    return replace(inputs, pools=_StillPools(inputs.pools))
