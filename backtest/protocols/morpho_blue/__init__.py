"""Morpho Blue: isolated markets keyed by id = keccak(loan, collateral, oracle, IRM, LLTV).

One market = one collateral, one loan token, one oracle, one LLTV. A position is healthy while
borrowed <= collateral x price x LLTV; liquidators repay any part of the debt (no close factor)
and receive collateral worth the repaid debt times min(1.15, 1 / (0.3 LLTV + 0.7)); a liquidation
that leaves no collateral writes the rest of the debt off against that market's suppliers.

`params` (constants, MarketParams with its id, MarketState), `exact` (the contract's integers),
`maths` (float64 twin for the engine).
"""

from backtest.protocols.morpho_blue import exact, maths
from backtest.protocols.morpho_blue.params import MarketParams, MarketState, Position

__all__ = ["exact", "maths", "MarketParams", "MarketState", "Position"]
