"""The float liquidation terms the engine runs for Morpho Blue (backtest/protocols/rules.py): one account
row is one position in one market, its collateral reserve and its loan reserve keyed by the market id.
The maths is `maths.liquidate_at`, the function tests/chain/test_morpho_blue_differential.py holds to
the contract; the incentive factor is the market's markets row (1 + liquidation_bonus, written by
`backtest snapshot` as min(1.15, 1 / (0.3 LLTV + 0.7)))."""

from __future__ import annotations

import numpy as np

from backtest.protocols.morpho_blue.maths import liquidate_at


def morpho_blue_terms(hf, d, c, coll, debt, price, p, size):
    """No close factor: `size` of the whole debt; seizure capped by the collateral; no protocol fee."""
    out = liquidate_at(debt[d] * size, debt[d], coll[c], price[c] / price[d], 1.0 + p.bonus[c])
    return float(out.repaid), float(out.seized), 0.0


def morpho_blue_close(hf, close_factor) -> np.ndarray:
    return np.ones((len(hf), len(close_factor)))
