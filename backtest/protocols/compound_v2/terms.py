"""The float liquidation terms the engine runs for Compound v2 (one account, plain floats); exact.py holds
the Comptroller's rules in mantissas."""

from __future__ import annotations


def compound_v2_terms(hf, d, c, coll, debt, price, p, size):
    # Comptroller: repay <= closeFactor * borrow; seize = repay * incentive * pB / pC; of the
    # seized cTokens protocolSeizeShare (2.8 %, the markets table's protocol_fee) goes to reserves.
    repay = p.close_factor[d] * debt[d] * size
    seized = repay * (1.0 + p.bonus[c]) * price[d] / price[c]
    if seized > coll[c]:
        repay, seized = repay * coll[c] / seized, coll[c]
    return repay, seized, seized * p.protocol_fee[c]
