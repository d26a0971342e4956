"""The float liquidation terms the engine runs for Aave v2, v3.0 and v3.3+, one account at a time in plain
floats (the hot path). `terms(hf, d, c, coll, debt, price, params, size)`: see backtest/protocols/rules.py.
v3.py, v2.py and v33.py hold the same rules in exact integers; tests/core/test_rules.py and the
differential tests in tests/chain hold these equal to them."""

from __future__ import annotations

import numpy as np

from backtest.protocols.aave import v33 as aave_v33

HF_CLOSE = 0.95   # CLOSE_FACTOR_HF_THRESHOLD


def bonus_seize(repay, pd, pc, balance, bonus, fee_on_bonus):
    """Collateral worth repay*(1+bonus), capped by the balance (then less is repaid); Aave v3's
    protocol fee is a share of the bonus part."""
    wanted = pd * repay / pc * (1.0 + bonus)
    if wanted > balance:
        taken, repay = balance, pc * balance / pd / (1.0 + bonus)
    else:
        taken = wanted
    return repay, taken, (taken - taken / (1.0 + bonus)) * fee_on_bonus


def aave_v3_terms(hf, d, c, coll, debt, price, p, size):
    cap = (p.close_factor[d] if hf > HF_CLOSE else 1.0) * debt[d]
    return bonus_seize(cap * size, price[d], price[c], coll[c], p.bonus[c], p.protocol_fee[c])


def aave_v2_terms(hf, d, c, coll, debt, price, p, size):
    # LendingPoolCollateralManager: a fixed 50 % close factor at any HF, no protocol fee.
    return bonus_seize(0.5 * debt[d] * size, price[d], price[c], coll[c], p.bonus[c], 0.0)


def aave_v33_terms(hf, d, c, coll, debt, price, p, size):
    """aave_v33.max_repay then allowed_repay (the $1,000 dust rule), in plain floats for the hot path;
    tests/core/test_rules.py holds it equal to the array functions."""
    pd, pc, bonus = price[d], price[c], p.bonus[c]
    total_debt_usd = float(debt @ price)
    reserve_debt_usd = debt[d] * pd
    cap = debt[d]
    if (coll[c] * pc >= aave_v33.MIN_BASE_MAX_CLOSE_FACTOR_USD and reserve_debt_usd >= aave_v33.MIN_BASE_MAX_CLOSE_FACTOR_USD
            and hf > HF_CLOSE and reserve_debt_usd > 0.5 * total_debt_usd):
        cap = 0.5 * total_debt_usd / pd

    def passes(x):
        repay, taken, _ = bonus_seize(x, pd, pc, coll[c], bonus, 0.0)
        partial = repay < debt[d] and taken < coll[c]
        return not partial or ((debt[d] - repay) * pd >= aave_v33.MIN_LEFTOVER_USD
                               and (coll[c] - taken) * pc >= aave_v33.MIN_LEFTOVER_USD)

    x = cap * size
    if not passes(x):
        x = cap if passes(cap) else max(min(debt[d] - aave_v33.MIN_LEFTOVER_USD / pd,
                                            (coll[c] * pc - aave_v33.MIN_LEFTOVER_USD) / (pd * (1.0 + bonus)),
                                            cap) * (1.0 - 1e-12), 0.0)
    return bonus_seize(x, pd, pc, coll[c], bonus, p.protocol_fee[c])


def aave_v3_close(hf, cf):
    return np.where(hf[:, None] > HF_CLOSE, cf[None, :], 1.0)
