"""The liquidator's first questions, compiled. Per round: which under-water accounts can pay at all
(`group_bounds`, the profit bound of every row at once, read from the book without gathers). Per
account: can any (debt, collateral, size) try gross what the cheapest ready liquidator needs, at the
best first-unit prices?

`best_plan` answers it in Python for every account handed to `liquidate`, and most answers are no
(the bonus does not pay the gas after fees). This is the same arithmetic in numba: each protocol's
terms (aave/v2.py, v3.py, v33.py `terms`, compound_v2/terms.py, morpho_blue/terms.py) and the linear ceiling
`(taken - fee) * sale_ceiling - repay * purchase_floor + SLACK * (...)`, operation for operation in
the same order (numba does not reassociate or fuse floats without fastmath), so every ceiling is
the Python one bit for bit (tests/perf/test_screen.py). It only ever says "no plan" (REJECT) when
the Python search would return None before any quote; everything else (a plan may pay, a NaN or
non-finite input, a rule set it does not know) goes to the Python search (PYTHON), which stays the
reference and picks the plan.

Aave v3.3's close-factor rule reads the account's total debt in USD, `debt @ price`: that dot
product is BLAS's, so the caller passes it in rather than having it re-summed in another order.
"""

from __future__ import annotations

import numpy as np

from backtest.protocols.aave import v2 as aave_v2
from backtest.protocols.aave import v3 as aave_v3
from backtest.protocols.aave import v33 as aave_v33
from backtest.protocols.aave.v3 import HF_CLOSE
from backtest.protocols.aave.v3 import bonus_seize as _bonus_seize          # plain arithmetic: numba compiles it as is
from backtest.protocols.compound_v2.exact import seize_fitting as _seize_fitting  # compiled as it is, too
from backtest.protocols.compound_v2.terms import compound_v2_terms
from backtest.protocols.morpho_blue.terms import morpho_blue_terms

REJECT, PYTHON = 0, 1
NOT_SCREENED = -2                   # next_to_liquidate's try count when it did not screen the row it stops at
# (a try count of -1: the row was screened but its tries not built, a non-finite input: best_plan's Python search)
SLACK = 1e-9                      # as liquidator.SLACK: float rounding between a quote and its ceiling
KIND = {aave_v3.terms: 0, aave_v2.terms: 1, aave_v33.terms: 2, compound_v2_terms: 3, morpho_blue_terms: 4}
MIN_CLOSE, MIN_LEFT = aave_v33.MIN_BASE_MAX_CLOSE_FACTOR_USD, aave_v33.MIN_LEFTOVER_USD


def _passes(x, d, c, coll, debt, pd, pc, bonus):
    repay, taken, _ = _bonus_seize(x, pd, pc, coll[c], bonus, 0.0)
    partial = repay < debt[d] and taken < coll[c]
    return not partial or ((debt[d] - repay) * pd >= MIN_LEFT and (coll[c] - taken) * pc >= MIN_LEFT)


def _terms(kind, hf, d, c, coll, debt, price, bonus, protocol_fee, close_factor, total_debt_usd, size):
    """rules.terms of each kind, as the Python functions compute them."""
    pd, pc = price[d], price[c]
    if kind == 0:                                                     # aave v3.0 / spark
        cap = (close_factor[d] if hf > HF_CLOSE else 1.0) * debt[d]
        return _bonus_seize(cap * size, pd, pc, coll[c], bonus[c], protocol_fee[c])
    if kind == 1:                                                     # aave v2
        return _bonus_seize(0.5 * debt[d] * size, pd, pc, coll[c], bonus[c], 0.0)
    if kind == 2:                                                     # aave v3.3+
        b = bonus[c]
        reserve_debt_usd = debt[d] * pd
        cap = debt[d]
        if (coll[c] * pc >= MIN_CLOSE and reserve_debt_usd >= MIN_CLOSE and hf > HF_CLOSE
                and reserve_debt_usd > 0.5 * total_debt_usd):
            cap = 0.5 * total_debt_usd / pd
        x = cap * size
        if not _passes(x, d, c, coll, debt, pd, pc, b):
            if _passes(cap, d, c, coll, debt, pd, pc, b):
                x = cap
            else:
                x = max(min(min(debt[d] - MIN_LEFT / pd, (coll[c] * pc - MIN_LEFT) / (pd * (1.0 + b))), cap)
                        * (1.0 - 1e-12), 0.0)
        return _bonus_seize(x, pd, pc, coll[c], b, protocol_fee[c])
    if kind == 3:                                                     # compound v2, as compound_v2_terms calls it
        return _seize_fitting(close_factor[d] * debt[d] * size, pd, pc, 1.0, bonus[c], coll[c], protocol_fee[c])
    # morpho blue: maths.liquidate_at(debt * size, debt, coll, pc / pd, 1 + bonus)
    ratio, incentive = pc / pd, 1.0 + bonus[c]
    repaid = min(debt[d] * size, debt[d])
    seized = repaid * incentive / ratio
    if seized >= coll[c]:
        seized, repaid = coll[c], coll[c] * ratio / incentive
    return repaid, seized, 0.0


def _ceilings_py(kind, hf, coll, debt, price, asset_of, lt, bonus, protocol_fee, close_factor, floor, ceiling,
                 sizes, total_debt_usd, out):
    """Every try in best_plan's order into the rows of `out`: (linear ceiling, d, c, repay, taken, fee);
    returns how many."""
    n = 0
    for d in range(len(debt)):
        if not debt[d] > 0:
            continue
        low = floor[asset_of[d]]
        for c in range(len(coll)):
            if not (coll[c] > 0 and lt[c] > 0):
                continue
            high = ceiling[asset_of[c]]
            for s in range(len(sizes)):
                repay, taken, fee = _terms(kind, hf, d, c, coll, debt, price, bonus, protocol_fee, close_factor,
                                           total_debt_usd, sizes[s])
                if not repay <= 0:
                    sold = taken - fee
                    top_p = (sold if not sold < 0 else 0.0) * high
                    low_c = repay * low
                    out[n, 0] = top_p - low_c + SLACK * (top_p + low_c)
                    out[n, 1], out[n, 2], out[n, 3], out[n, 4], out[n, 5] = d, c, repay, taken, fee
                    n += 1
    return n


def _screen_py(kind, hf, coll, debt, price, asset_of, lt, bonus, protocol_fee, close_factor, floor, ceiling, sizes,
               total_debt_usd, needed):
    """(REJECT if no try's ceiling reaches `needed`, so best_plan would return None unquoted, else
    PYTHON; how many tries; the tries as _ceilings_py writes them). -1 tries: not built (a non-finite
    input), the Python search builds them."""
    out = np.empty((len(coll) * len(coll) * len(sizes), 6))
    verdict, n = _screen_into(kind, hf, coll, debt, price, asset_of, lt, bonus, protocol_fee, close_factor, floor,
                              ceiling, sizes, total_debt_usd, needed, out)
    return verdict, n, out


def _screen_into(kind, hf, coll, debt, price, asset_of, lt, bonus, protocol_fee, close_factor, floor, ceiling, sizes,
                 total_debt_usd, needed, out):
    """_screen_py into a buffer the caller keeps: (verdict, how many tries)."""
    return _screen_row(kind, hf, coll, debt, price, asset_of, lt, bonus, protocol_fee, close_factor, floor, ceiling,
                       sizes, total_debt_usd, needed,
                       _columns_finite(price, asset_of, bonus, protocol_fee, close_factor, floor, ceiling), out)


def _columns_finite(price, asset_of, bonus, protocol_fee, close_factor, floor, ceiling):
    """Every reserve's price (and > 0), bonus, fee, close factor and its asset's floor and ceiling finite:
    the same for every row of a round, so next_to_liquidate asks it once."""
    for r in range(len(price)):
        if not (np.isfinite(price[r]) and price[r] > 0 and np.isfinite(bonus[r]) and np.isfinite(protocol_fee[r])
                and np.isfinite(close_factor[r]) and np.isfinite(floor[asset_of[r]])
                and np.isfinite(ceiling[asset_of[r]])):
            return False
    return True


def _screen_row(kind, hf, coll, debt, price, asset_of, lt, bonus, protocol_fee, close_factor, floor, ceiling, sizes,
                total_debt_usd, needed, columns_finite, out):
    """_screen_into with _columns_finite's answer given."""
    if not (columns_finite and np.isfinite(needed) and np.isfinite(hf) and np.isfinite(total_debt_usd)):
        return PYTHON, -1
    for r in range(len(coll)):
        if not (np.isfinite(coll[r]) and np.isfinite(debt[r])):
            return PYTHON, -1
    n = _ceilings_py(kind, hf, coll, debt, price, asset_of, lt, bonus, protocol_fee, close_factor, floor, ceiling,
                     sizes, total_debt_usd, out)
    return _verdict(out, n, needed), n


def _verdict(out, n, needed):
    """REJECT if none of the n tries' ceilings in `out` reaches `needed` (none NaN), else PYTHON."""
    if n == 0:
        return REJECT
    top = out[0, 0]
    for k in range(n):
        if not out[k, 0] == out[k, 0]:
            return PYTHON
        if out[k, 0] > top:
            top = out[k, 0]
    return REJECT if top + SLACK * abs(needed) < needed else PYTHON


def _next_py(start, rows, hf, lean, needed, kinds, total_debt_usd, coll, debt, price, asset_of, lt, bonus,
             protocol_fee, close_factor, floor, ceiling, sizes, gas_left, out):
    """(The first k >= start whose row liquidator.liquidate could act on, len(rows) if none; how many
    tries of its row the screen left in `out`, as _screen_into counts them, NOT_SCREENED if none). The rows
    before it return None there before any quote, as liquidate decides it: the leanest ready agent's gas
    `lean[k]` (inf: none ready) does not fit in the block, or this screen's REJECT at the ready agents' bar
    `needed[k]` (both Field.lean_bar's, per row). `kinds`: KIND of each book row, -1 unknown (Python)."""
    columns = _columns_finite(price, asset_of, bonus, protocol_fee, close_factor, floor, ceiling)
    for k in range(start, len(rows)):
        if not lean[k] <= gas_left:
            continue
        i = rows[k]
        if kinds[i] < 0:
            return k, NOT_SCREENED
        verdict, n = _screen_row(kinds[i], hf[k], coll[i], debt[i], price, asset_of, lt, bonus, protocol_fee,
                                 close_factor, floor, ceiling, sizes, total_debt_usd[k], needed[k], columns, out)
        if verdict != REJECT:
            return k, n
    return len(rows), NOT_SCREENED


# rules.max_close of each repaying protocol, by name: 0 a fixed half, 1 Aave v3's close factor above HF
# 0.95 else all, 2 all, 3 the reserve's close factor (Compound v2)
CLOSE = {"aave-v2": 0, "aave-v3": 1, "spark": 1, "aave-v3.3": 2, "morpho-blue": 2, "compound-v2": 3}


def _group_bounds_py(coll, debt, below, at, hf, group, cols, starts, close, pos, close_factor, oracle, sell, buy,
                     lt, bonus, gas, indptr, indices, width, values, out, spans=None):
    """replay.bounds without the gathers: each row's profit_upper_bound over its own protocol's reserve
    columns (cols[starts[g]:starts[g + 1]]), liquidator._bound_rows's arithmetic, the repay cap
    rules.max_close(hf, close_factor) x debt as each protocol's max_close computes it.

    A pair with no debt, or with debt against no usable collateral, profits exactly 0 there (nothing
    repaid, nothing taken) when every price, bonus and close factor is finite (prices > 0, bonuses
    > -1): such pairs count as one 0 and are not computed (a book row has a few positions of 26
    reserves). The maximum is the same number; only which of +0 / -0 wins a tie could differ, and
    `- gas` (> 0 in a run) removes that. Anything not finite: every pair, as _bound_rows does.

    Then a row visits only its nonzero cells that are in its group (engine/pattern.py: `indptr`,
    `indices`, `width`, packed `values`; `pos[g, a]` >= 0 for a column of group g), in the group's
    order (ascending columns; pos[g, 0] = -2 if not): a column outside them holds no debt and no
    collateral, so it only adds that 0. A row read whole (width -1), or one with a negative or NaN
    debt among them (which the dense loop prices against every collateral column): every group
    column of the live arrays.

    Row k is book row below[k], in group group[k]; its pattern slot is at[k] of `indptr`, `width`: the
    book's own pattern (at = below) or a copy of some rows' slots (pattern.Copy, the watchlist's).

    `spans` ([K, 3], optional): each row's best before gas and the largest |taken * sell[c]| and
    |repaid * buy[d]| of the pairs it priced (NaN if one is NaN): how far other venue prices can move
    that best (replay.Bounds)."""
    r = len(oracle)
    clean = True
    for a in range(r):
        if not (np.isfinite(oracle[a]) and oracle[a] > 0 and np.isfinite(sell[a]) and np.isfinite(buy[a])
                and np.isfinite(bonus[a]) and bonus[a] > -1.0 and np.isfinite(close_factor[a])):
            clean = False
    ratio = np.empty((r, r))
    for d in range(r):
        for c in range(r):
            ratio[d, c] = oracle[d] / oracle[c]
    own = np.empty(max(r, len(cols)), dtype=np.int64)      # what a row visits: packed cells, or columns
    for k in range(len(below)):
        i, h, g = below[k], at[k], group[k]
        best, zero = -np.inf, False
        top_sold, top_bought = 0.0, 0.0
        n = -1
        if clean and width[h] >= 0 and pos[g, 0] != -2:
            n = 0
            for j in range(indptr[h], indptr[h] + width[h]):
                a = indices[j]
                if a < pos.shape[1] and pos[g, a] >= 0:
                    if not values[j, 1] >= 0.0:
                        n = -1
                        break
                    own[n] = j
                    n += 1
        packed = n >= 0
        if packed:
            zero = n < starts[g + 1] - starts[g]
        else:
            n = starts[g + 1] - starts[g]
            for u in range(n):
                own[u] = cols[starts[g] + u]
        for u in range(n):
            d = indices[own[u]] if packed else own[u]
            owed = values[own[u], 1] if packed else debt[i, d]
            if clean and owed == 0.0:
                zero = True
                continue
            kind = close[g]
            if kind == 0:
                cap = 0.5 * owed
            elif kind == 1:
                cap = (close_factor[d] if hf[k] > HF_CLOSE else 1.0) * owed
            elif kind == 2:
                cap = 1.0 * owed
            else:
                cap = close_factor[d] * owed
            for w in range(n):
                c = indices[own[w]] if packed else own[w]
                held = values[own[w], 0] if packed else coll[i, c]
                if clean and owed > 0 and (held == 0.0 or not lt[c] > 0):
                    zero = True
                    continue
                grow = 1.0 + bonus[c]
                wanted = cap * ratio[d, c] * grow
                balance = held if lt[c] > 0 else 0.0
                taken = wanted if (wanted <= balance or wanted != wanted) else balance
                repaid = taken / ratio[d, c] / grow if wanted > balance else cap
                profit = taken * sell[c] - repaid * buy[d]
                if profit != profit or best != best:
                    best = np.nan
                elif profit > best:
                    best = profit
                if spans is not None:
                    sold, bought = abs(taken * sell[c]), abs(repaid * buy[d])
                    if top_sold == top_sold and not sold <= top_sold:
                        top_sold = sold                  # NaN sticks
                    if top_bought == top_bought and not bought <= top_bought:
                        top_bought = bought
        if zero and best == best and 0.0 > best:
            best = 0.0
        out[k] = best - gas
        if spans is not None:
            spans[k, 0], spans[k, 1], spans[k, 2] = best, top_sold, top_bought


def _spans_below_py(spans, sell, buy, high, low, asset_of, gas, bar, slack, out):
    """Whether every row's best can stay below `bar` with the quotes moved from (sell, buy) to the
    round's (high, low)[asset_of] (replay.Bounds): out[k] = spans' best + e_s * max|taken * sell| +
    e_b * max|repaid * buy| + slack * (both + |best|) - gas + slack * |gas|, e the largest relative
    move of a quote. False (out not all written) at the first row at or above `bar`, or anything not
    finite, or a kept quote not > 0."""
    moved_s, moved_b = 0.0, 0.0
    for c in range(len(sell)):
        if not (sell[c] > 0 and buy[c] > 0 and np.isfinite(sell[c]) and np.isfinite(buy[c])):
            return False
        e_s, e_b = abs(high[asset_of[c]] / sell[c] - 1.0), abs(low[asset_of[c]] / buy[c] - 1.0)
        if not (e_s < 1.0 and e_b < 1.0):                  # a move of 100 % or more, or NaN
            return False
        moved_s, moved_b = max(moved_s, e_s), max(moved_b, e_b)
    if not np.isfinite(gas):
        return False
    for k in range(len(out)):
        best, sold, bought = spans[k, 0], spans[k, 1], spans[k, 2]
        if not (np.isfinite(best) and np.isfinite(sold) and np.isfinite(bought)):
            return False
        top = best + moved_s * sold + moved_b * bought + slack * (sold + bought + abs(best)) - gas + slack * abs(gas)
        if not top < bar:
            return False
        out[k] = top
    return True


def group_layout(groups) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(columns of every group back to back, where each group starts, its close kind, [G, R] each
    column's place in its group or -1, with -2 in column 0 for a group not in ascending order), or
    None if a group's rules are not in CLOSE or there is no group (a book of Comet and Maker rows
    only)."""
    if not groups or any(rules.name not in CLOSE for rules, _, _ in groups):
        return None
    cols = np.concatenate([np.asarray(c, dtype=np.int64) for _, _, c in groups])
    starts = np.cumsum([0] + [len(c) for _, _, c in groups]).astype(np.int64)
    pos = np.full((len(groups), int(cols.max()) + 1 if len(cols) else 1), -1, dtype=np.int64)
    for g, (_, _, c) in enumerate(groups):
        c = np.asarray(c, dtype=np.int64)
        pos[g, c] = np.arange(len(c))
        if (np.diff(c) <= 0).any():
            pos[g, 0] = -2
    return cols, starts, np.array([CLOSE[rules.name] for rules, _, _ in groups], dtype=np.int64), pos


try:
    import numba
    _jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    # inlined where called (numba's IR): a call of a compiled function counts references to each array it is
    # handed, and a fresh screen calls _terms once per try (~6 a row, ~140,000 rows a Monte Carlo path)
    _inline = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
    _bonus_seize, _seize_fitting, _passes = _jit(_bonus_seize), _jit(_seize_fitting), _inline(_passes)
    _terms = _inline(_terms)
    _ceilings_py = ceilings = _jit(_ceilings_py)          # the name _screen_py calls, compiled
    _columns_finite, _verdict, _screen_row = _jit(_columns_finite), _jit(_verdict), _jit(_screen_row)
    _screen_into = _jit(_screen_into)
    screen = _jit(_screen_py)
    next_to_liquidate = _jit(_next_py)
    group_bounds = _jit(_group_bounds_py)
    spans_below = _jit(_spans_below_py)
except ImportError:                     # pragma: no cover - exercised where numba is absent
    ceilings, screen, group_bounds, next_to_liquidate, spans_below = None, None, None, None, None
