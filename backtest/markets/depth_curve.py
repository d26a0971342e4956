"""Off-chain venue depth as a curve: how much can be sold before the price falls by x %.

Depth tables (exchange order books, aggregator quotes) give a few points, typically the
amount sellable at 0.5 / 1 / 2 / 5 % below mid. We read "impact" as the fall of the
*marginal* price (the worst fill), as order-book depth at -2 % means, and:

* between points (and from the origin to the first point) the marginal impact is linear in
  the amount sold, so proceeds integrate exactly (trapezoids);
* past the last point the book is extended by a constant-product tail that continues the
  last point with the same price and the same slope:
      p(u) = p_n (X / (X + u))^2,   X = 2 (1 - i_n) / s_n,
  where u is the amount past the last point, i_n its impact and s_n the last segment's
  slope (impact per unit). The price stays positive and proceeds stay finite,
  p_n X u / (X + u), so a huge sale is priced as a very bad one rather than free.

Pure functions over arrays of amounts, one curve at a time.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from backtest.errors import InputError

try:                  # numba where installed: held_at compiled into arbitrage's meeting price (meet_compiled.py)
    from numba.extending import register_jitable as _jitable
except ImportError:   # pragma: no cover - exercised where numba is absent
    _jitable = (lambda func: func)


class Sale(NamedTuple):
    proceeds: np.ndarray        # quote received
    average_price: np.ndarray
    marginal_price: np.ndarray  # the price after the sale (the last fill)


def validate(impacts, amounts, *, file=None) -> tuple[np.ndarray, np.ndarray]:
    """Impacts strictly increasing in (0, 1), amounts strictly increasing and positive."""
    impacts, amounts = np.asarray(impacts, dtype=float), np.asarray(amounts, dtype=float)
    if impacts.shape != amounts.shape or impacts.ndim != 1 or len(impacts) == 0:
        raise InputError("depth curve needs equal-length, non-empty impact and amount lists", file=file)
    if not np.all((impacts > 0) & (impacts < 1)):
        raise InputError("price impacts must be fractions in (0, 1), e.g. 0.02 for 2 %", file=file,
                         column="impact")
    for name, col in (("impact", impacts), ("amount", amounts)):
        if not np.all(np.isfinite(col)) or np.any(np.diff(col) <= 0) or col[0] <= 0:
            bad = int(np.flatnonzero(np.r_[col[0] <= 0, np.diff(col) <= 0])[0]) + 1
            raise InputError(f"{name} must be positive and strictly increasing", file=file, column=name, row=bad)
    return impacts, amounts


def curve_from_table(table, venue: str, asset: str, *, file=None) -> tuple[np.ndarray, np.ndarray]:
    """(impacts, amounts) of one venue and asset from a depth table (a DataFrame).

    Columns: venue, asset, impact (fraction: 0.02 for 2 %), amount (base units sellable down
    to that impact). Rows may come in any order; they are sorted by impact.
    """
    missing = [c for c in ("venue", "asset", "impact", "amount") if c not in table.columns]
    if missing:
        raise InputError(f"depth table lacks column(s) {', '.join(missing)}", file=file, column=missing[0])
    rows = table[(table["venue"] == venue) & (table["asset"] == asset)].sort_values("impact")
    if rows.empty:
        raise InputError(f"no depth rows for {asset} on {venue}", file=file)
    return validate(rows["impact"].to_numpy(float), rows["amount"].to_numpy(float), file=file)


def _tail(impacts, amounts):
    i_prev = impacts[-2] if len(impacts) > 1 else 0.0
    a_prev = amounts[-2] if len(amounts) > 1 else 0.0
    slope = (impacts[-1] - i_prev) / (amounts[-1] - a_prev)
    return 1.0 - impacts[-1], 2.0 * (1.0 - impacts[-1]) / slope


def impact(amount, impacts, amounts) -> np.ndarray:
    """Marginal price impact (fraction of mid) after selling `amount` base."""
    impacts, amounts = validate(impacts, amounts)
    q = np.asarray(amount, dtype=float)
    inside = np.interp(q, np.r_[0.0, amounts], np.r_[0.0, impacts])
    rel_n, x = _tail(impacts, amounts)
    u = np.maximum(q - amounts[-1], 0.0)
    return np.where(q <= amounts[-1], inside, 1.0 - rel_n * (x / (x + u)) ** 2)


def _cumulative_relative_proceeds(impacts, amounts):
    """Integral of (1 - impact) from 0 to each point, in units of the mid price."""
    a = np.r_[0.0, amounts]
    i = np.r_[0.0, impacts]
    seg = np.diff(a) * (1.0 - (i[:-1] + i[1:]) / 2.0)
    return a, i, np.r_[0.0, np.cumsum(seg)]


def sell(amount, mid_price, impacts, amounts) -> Sale:
    """Proceeds of selling `amount` base into the curve at `mid_price` (quote per base)."""
    impacts, amounts = validate(impacts, amounts)
    q = np.asarray(amount, dtype=float)
    if np.any(q < 0):
        raise ValueError("amount must be >= 0")
    a, i, cum = _cumulative_relative_proceeds(impacts, amounts)
    k = np.clip(np.searchsorted(a, q, side="right") - 1, 0, len(a) - 2)
    frac_i = i[k] + (i[k + 1] - i[k]) * (np.minimum(q, a[-1]) - a[k]) / (a[k + 1] - a[k])
    within = cum[k] + (np.minimum(q, a[-1]) - a[k]) * (1.0 - (i[k] + frac_i) / 2.0)
    rel_n, x = _tail(impacts, amounts)
    u = np.maximum(q - a[-1], 0.0)
    rel = np.where(q <= a[-1], within, cum[-1] + rel_n * x * u / (x + u))
    proceeds = rel * mid_price
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(q > 0, proceeds / np.where(q > 0, q, 1.0), mid_price)
    return Sale(proceeds, avg, mid_price * (1.0 - impact(q, impacts, amounts)))


def amount_for_impact(target_impact, impacts, amounts) -> np.ndarray:
    """Inverse of `impact`: how much moves the marginal price down by `target_impact`."""
    impacts, amounts = validate(impacts, amounts)
    t = np.asarray(target_impact, dtype=float)
    inside = np.interp(t, np.r_[0.0, impacts], np.r_[0.0, amounts])
    rel_n, x = _tail(impacts, amounts)
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = amounts[-1] + x * (np.sqrt(rel_n / np.maximum(1.0 - t, 0.0)) - 1.0)
    return np.where(t <= impacts[-1], inside, np.where(t >= 1.0, np.inf, tail))


@_jitable
def held_at(rel, xp, fp, rel_n, x):
    """The consumed depth that puts a book's marginal price at `rel` x its mid (DepthBook.pull_to; < 0: asks
    eaten), on the knots xp = [0, impacts], fp = [0, amounts] and the tail (rel_n, x) of `_tail`:
    amount_for_impact's floats for one impact, scalar, so arbitrage's meeting price can compile it."""
    if rel < 1.0:
        return _amount_for_impact(1.0 - rel, xp, fp, rel_n, x)
    if rel > 1.0:
        t, cap = rel - 1.0, 1.0 - 1e-12
        return -_amount_for_impact(cap if cap < t else t, xp, fp, rel_n, x)         # min(t, cap)
    return 0.0


@_jitable
def _amount_for_impact(t, xp, fp, rel_n, x):
    """amount_for_impact(t) for one t: np.interp's arithmetic inside the table (numpy's arr_interp,
    numpy/_core/src/multiarray/compiled_base.c: the segment by binary search, slope * (t - x_j) + y_j),
    the tail past it."""
    n = len(xp)
    if t <= xp[n - 1]:
        if t < xp[0]:
            return fp[0]
        lo, hi = 0, n
        while lo < hi:                                  # bisect_right(xp, t)
            mid = (lo + hi) // 2
            if t < xp[mid]:
                hi = mid
            else:
                lo = mid + 1
        j = lo - 1
        if j == n - 1 or xp[j] == t:
            return fp[j]
        slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
        got = slope * (t - xp[j]) + fp[j]
        if got != got:                                  # nan one way: numpy tries the other end
            got = slope * (t - xp[j + 1]) + fp[j + 1]
            if got != got and fp[j] == fp[j + 1]:
                got = fp[j]
        return got
    if t >= 1.0:
        return math.inf
    left = 1.0 - t
    return fp[n - 1] + x * (math.sqrt(rel_n / (0.0 if left < 0.0 else left)) - 1.0)
