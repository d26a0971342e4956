"""Prescreen's Aave v3.3 total debt per row (agents/prescreen.py, Prescreen._totals), the rows' pass compiled:
which rows are Aave v3.3 ones, which of their kept totals still hold (the row's change counter, the last move of
a column it owes in), the kept ones copied out. The stale ones' `float(debt @ price)` stays in Python: a compiled
dot need not sum in BLAS's order, and best_plan takes BLAS's.

Which columns' prices moved since the last call (`stamp_moves`) is one compiled pass too: the prices change at ~2 in
3 of the ~1,000 calls a Monte Carlo path, and the numpy it replaced (the bytes, a comparison, isfinite, > 0,
two frombuffer and a masked write) cost ~15 us a change.

numba's cache is checked against this file only; nothing here calls another kernel.
"""

from __future__ import annotations

import numpy as np


def _kept_totals_py(rows, kinds, versions, debt, moved_at, total_at, totals, total, stale):
    """total[k]: the kept total of each Aave v3.3 row rows[k] (kinds 2), 0.0 for the others; stale[:n]: the k
    whose kept total no longer holds (total_at's counter is not the row's, or a column it owes in, NaN included,
    moved at a later generation: np.where(debt[i] != 0, moved_at, 0).max() with moved_at >= 0). Returns n."""
    n = 0
    for k in range(len(rows)):
        i = rows[k]
        if kinds[i] != 2:
            total[k] = 0.0
            continue
        read = 0
        for c in range(debt.shape[1]):
            if debt[i, c] != 0 and moved_at[c] > read:
                read = moved_at[c]
        if total_at[0, i] != versions[i] or total_at[1, i] < read:
            stale[n] = k
            n += 1
        total[k] = totals[i]
    return n


def _stamp_moves_py(price, last, clean_before, moved_at, gen):
    """Prescreen._totals' price step: moved_at[c] = gen for each column whose price's bits differ from last's, or
    for every column where this or the last price set is not all finite and > 0 (clean_before: the last one's
    say), and `last` made these prices; nothing where every bit is the same. Returns (moved, clean): whether
    any bit differed (a new generation), whether these prices are all finite and > 0."""
    bits, kept = price.view(np.int64), last.view(np.int64)
    moved = False
    for c in range(len(price)):
        if bits[c] != kept[c]:
            moved = True
            break
    if not moved:
        return False, clean_before
    clean = True
    for c in range(len(price)):
        if not (np.isfinite(price[c]) and price[c] > 0):
            clean = False
    for c in range(len(price)):
        if not (clean and clean_before) or bits[c] != kept[c]:
            moved_at[c] = gen
        kept[c] = bits[c]
    return True, clean


try:
    import numba
    kept_totals = numba.njit(cache=True, nogil=True, error_model="numpy")(_kept_totals_py)
    stamp_moves = numba.njit(cache=True, nogil=True, error_model="numpy")(_stamp_moves_py)
except ImportError:                     # pragma: no cover - without numba the Prescreen does not run
    kept_totals, stamp_moves = _kept_totals_py, _stamp_moves_py
