"""Splitting one order across venues: the best split leaves every venue used at the same
marginal price (net of fee, in USD), and venues left out no better than that price.

Proceeds are concave in the amount sold at each venue and costs convex in the amount bought,
so this first-order condition is also sufficient. At a marginal price `m` each venue takes
`sell_amount_at(m)` (delivers `buy_amount_at(m)`), monotone in `m`; we solve for the `m` at
which they add up to the order, in log price, by regula falsi with the Illinois modification
(a handful of evaluations). The price is bracketed by the venues' first-unit prices and the
best single venue's price after the whole order: splitting can only leave that venue better
off at the margin. Each venue's marginal price and its inverse are closed forms (v2, depth
curve) or one tick walk (v3): backtest/markets/venue_kinds.py, backtest/markets/depth_book.py.
"""

from __future__ import annotations

import math
from typing import Callable

REL_TOL = 1e-10          # of the order size: the split's proceeds are then exact to ~1e-20
MAX_STEPS = 100


def _illinois(f: Callable[[float], float], a: float, b: float, tol: float) -> float:
    """A root of f in [a, b] (f(a), f(b) of opposite signs or zero)."""
    fa, fb = f(a), f(b)
    if abs(fa) <= tol:
        return a
    if abs(fb) <= tol:
        return b
    kept = 0
    c = a
    for _ in range(MAX_STEPS):
        c = (a * fb - b * fa) / (fb - fa) if fb != fa else 0.5 * (a + b)    # flat secant: bisect
        fc = f(c)
        if abs(fc) <= tol or abs(b - a) <= 1e-15 * max(abs(a), abs(b), 1.0):
            return c
        if (fc > 0) == (fb > 0):
            b, fb = c, fc
            if kept == -1:
                fa /= 2.0
            kept = -1
        else:
            a, fa = c, fc
            if kept == 1:
                fb /= 2.0
            kept = 1
    return c


def _allocate(amounts_at: Callable[[float], list[float]], order: float, m_short: float, m_enough: float):
    """Shares of `order` at the marginal price where the venues' amounts add up to it.
    `m_enough`: a price at which they cover the order; `m_short`: one at which they do not."""
    tol = REL_TOL * order
    root = _illinois(lambda x: sum(amounts_at(math.exp(x))) - order, math.log(m_enough), math.log(m_short), tol)
    parts = amounts_at(math.exp(root))
    total = sum(parts)
    if not math.isfinite(total) or total <= 0:
        return None
    return [p * order / total for p in parts]


def split_sale(venues: list, quote_usd: list[float], amount: float, after: float) -> tuple[list[float], float] | None:
    """(base units sold at each venue, USD received); None if the venues cannot take it all.
    `after`: the best single venue's marginal USD price after taking the whole order."""
    def taken(m: float) -> list[float]:
        return [v.sell_amount_at(m / q) for v, q in zip(venues, quote_usd)]
    first = max(v.sell_marginal(0.0) * q for v, q in zip(venues, quote_usd))
    enough = after
    while sum(taken(enough)) < amount:         # the best venue ran out of liquidity: go lower
        enough /= 2.0
        if enough < first * 1e-12:
            return None
    parts = _allocate(taken, amount, first, enough)
    if parts is None:
        return None
    return parts, sum(v.sell_out(p) * q for v, q, p in zip(venues, quote_usd, parts) if p > 0)


def split_purchase(venues: list, quote_usd: list[float], amount: float,
                   after: float) -> tuple[list[float], float] | None:
    """(base units bought at each venue, USD paid); None if the venues cannot deliver it all.
    `after`: the best single venue's marginal USD cost after delivering the whole order."""
    def delivered(m: float) -> list[float]:
        return [v.buy_amount_at(m / q) for v, q in zip(venues, quote_usd)]
    first = min(v.buy_marginal(0.0) * q for v, q in zip(venues, quote_usd))
    if not math.isfinite(after):
        return None
    parts = _allocate(delivered, amount, first, after)
    if parts is None:
        return None
    return parts, sum(v.buy_in(p) * q for v, q, p in zip(venues, quote_usd, parts) if p > 0)
