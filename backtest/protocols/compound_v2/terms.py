"""The liquidation terms the engine runs for Compound v2 (one account, plain floats): exact.py's float
`seize_fitting` in underlying units (exchange rate 1), so the replay and the tests that hold the float
maths to the Comptroller's mantissas run one copy."""

from __future__ import annotations

from backtest.protocols.compound_v2.exact import seize_fitting


def compound_v2_terms(hf, d, c, coll, debt, price, p, size):
    # Comptroller: repay <= closeFactor * borrow; seize = repay * incentive * pB / pC; of the
    # seized cTokens protocolSeizeShare (2.8 %, the markets table's protocol_fee) goes to reserves.
    return seize_fitting(p.close_factor[d] * debt[d] * size, price[d], price[c], 1.0, p.bonus[c], coll[c],
                         p.protocol_fee[c])
