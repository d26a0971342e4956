"""The off-chain order book, one of the three kinds of venue (the questions every kind answers:
backtest.markets.venue_kinds), quoted in US dollars themselves.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from backtest.markets import depth_curve

USD = -1     # quote_asset of a venue quoted in US dollars themselves (an off-chain book)


@dataclass
class DepthBook:
    """An off-chain order book summarised by a depth curve (backtest.markets.depth_curve).

    `net_sold` is the depth consumed since the book last refilled: positive after sales (bids
    eaten), negative after purchases. The ask side mirrors the bid side: buying y costs
    mid * integral of (1 + impact) over y. The book's own mid is the exogenous price; fills pay
    a taker fee on the notional.
    """
    asset: int
    impacts: np.ndarray
    amounts: np.ndarray
    fee: float
    reference: float               # the book's mid with nothing consumed (quote per base)
    net_sold: float = 0.0
    quote_asset: int = USD
    name: str = ""

    def __post_init__(self):
        self.impacts, self.amounts = depth_curve.validate(self.impacts, self.amounts)
        # The curve's knots, once, as plain floats: the router asks for thousands of quotes per
        # replay, and depth_curve's array functions re-validate the table on every call.
        a, i, cum = depth_curve._cumulative_relative_proceeds(self.impacts, self.amounts)
        self._knots = (a.tolist(), i.tolist(), cum.tolist())
        self._tail = tuple(float(t) for t in depth_curve._tail(self.impacts, self.amounts))

    def _bid(self, q: float) -> tuple[float, float]:
        """(marginal impact, integral of 1 - impact) after selling q >= 0: depth_curve.impact and
        depth_curve.sell at mid 1, evaluated for one amount."""
        a, i, cum = self._knots
        if q <= a[-1]:
            k = min(bisect.bisect_right(a, q) - 1, len(a) - 2)
            at = i[k] + (i[k + 1] - i[k]) * (q - a[k]) / (a[k + 1] - a[k])
            return at, cum[k] + (q - a[k]) * (1.0 - (i[k] + at) / 2.0)
        rel_n, x = self._tail
        u = q - a[-1]
        return 1.0 - rel_n * (x / (x + u)) ** 2, cum[-1] + rel_n * x * u / (x + u)

    def _impact(self, s: float) -> float:
        return math.copysign(self._bid(abs(s))[0], s)

    def _bid_between(self, p: float, q: float, width: float) -> float:
        """Integral of (1 - impact) from p to q = p + width (0 <= p <= q), in units of the
        reference mid. Summed piece by piece with the width passed apart, never as a difference
        of running totals or of positions, so a tiny order deep in the book gets its own price."""
        a, i, cum = self._knots
        n = a[-1]
        if p >= n:                                  # all in the tail: p_n (X / (X + u))^2
            rel_n, x = self._tail
            return rel_n * x * x * width / ((x + p - n) * (x + q - n))
        if q > n:
            return self._bid_between(p, n, n - p) + self._bid_between(n, q, q - n)
        kp = min(bisect.bisect_right(a, p) - 1, len(a) - 2)
        kq = min(bisect.bisect_right(a, q) - 1, len(a) - 2)
        ip = i[kp] + (i[kp + 1] - i[kp]) * (p - a[kp]) / (a[kp + 1] - a[kp])
        iq = i[kq] + (i[kq + 1] - i[kq]) * (q - a[kq]) / (a[kq + 1] - a[kq])
        if kp == kq:                                # impact linear in between: trapezoid
            return width * (1.0 - (ip + iq) / 2.0)
        return ((a[kp + 1] - p) * (1.0 - (ip + i[kp + 1]) / 2.0) + (cum[kq] - cum[kp + 1])
                + (q - a[kq]) * (1.0 - (i[kq] + iq) / 2.0))

    def _between(self, s0: float, width: float) -> float:
        """Integral of (1 - signed impact) over consumed depth from s0 to s0 + width: bids for
        s > 0, the mirrored asks, 1 + impact(-s), for s < 0."""
        s1 = s0 + width
        if s1 <= 0.0:                               # asks only
            return 2.0 * width - self._bid_between(-s1, -s0, width)
        if s0 >= 0.0:                               # bids only
            return self._bid_between(s0, s1, width)
        return 2.0 * -s0 - self._bid_between(0.0, -s0, -s0) + self._bid_between(0.0, s1, s1)

    def mid(self) -> float:
        return self.reference * (1.0 - self._impact(self.net_sold))

    def sell_out(self, amount: float) -> float:
        return self.reference * self._between(self.net_sold, amount) * (1.0 - self.fee)

    def buy_in(self, amount: float) -> float:
        return self.reference * self._between(self.net_sold - amount, amount) / (1.0 - self.fee)

    def sell(self, amount: float) -> float:
        out = self.sell_out(amount)
        self.net_sold += amount
        return out

    def sold(self, amount: float) -> None:
        """`sell`'s move without its answer (the router already has the route's quote): the depth eaten."""
        self.net_sold += amount

    def buy(self, amount: float) -> float:
        paid = self.buy_in(amount)
        self.net_sold -= amount
        return paid

    def pull_to(self, target: float, anchor: float) -> tuple[float, float]:
        """The book re-centres on `anchor` (the reference price); the consumed depth left is what
        puts its marginal price at `target`. Returns (change of the depth held, 0): the part of a sale
        the book's makers pass on to the reference market as they refill."""
        held = self.net_sold
        self.reference = anchor
        self.net_sold = self._held_at(target / anchor)
        return self.net_sold - held, 0.0

    def pulled(self, target: float, anchor: float) -> tuple[float, float]:
        """What pull_to would return, without the move."""
        return self._held_at(target / anchor) - self.net_sold, 0.0

    def _held_at(self, rel: float) -> float:
        """The consumed depth that puts the marginal price at `rel` x the mid."""
        a, i, _ = self._knots
        return depth_curve.held_at(rel, i, a, *self._tail)

    def depth(self, impact: float) -> float:
        return float(depth_curve.amount_for_impact(impact, self.impacts, self.amounts))

    def _consumed_at(self, signed_impact: float) -> float:
        """Inverse of the signed marginal impact: bids eaten (> 0) or asks eaten (< 0)."""
        return math.copysign(self._amount_for_impact(abs(signed_impact)), signed_impact)

    def _amount_for_impact(self, t: float) -> float:
        """depth_curve.amount_for_impact for one impact, from the knots."""
        a, i, _ = self._knots
        if t <= i[-1]:
            k = min(bisect.bisect_right(i, t) - 1, len(i) - 2)
            return a[k] + (t - i[k]) * (a[k + 1] - a[k]) / (i[k + 1] - i[k])
        if t >= 1.0:
            return math.inf
        rel_n, x = self._tail
        return a[-1] + x * (math.sqrt(rel_n / (1.0 - t)) - 1.0)

    def sell_marginal(self, u: float) -> float:
        return self.reference * (1.0 - self._impact(self.net_sold + u)) * (1.0 - self.fee)

    def sell_amount_at(self, m: float) -> float:
        s = self._consumed_at(1.0 - m / (self.reference * (1.0 - self.fee)))
        return max(0.0, s - self.net_sold)

    def buy_marginal(self, y: float) -> float:
        return self.reference * (1.0 - self._impact(self.net_sold - y)) / (1.0 - self.fee)

    def first_marginals(self) -> tuple[float, float]:
        """buy_marginal(0.0), sell_marginal(0.0): one impact (net_sold ± 0.0 is net_sold, but for -0.0,
        where the curve's impact is ±0.0 and 1 - it is 1.0 either way)."""
        left = 1.0 - self._impact(self.net_sold)
        return self.reference * left / (1.0 - self.fee), self.reference * left * (1.0 - self.fee)

    def buy_amount_at(self, m: float) -> float:
        s = self._consumed_at(1.0 - m * (1.0 - self.fee) / self.reference)
        return max(0.0, self.net_sold - s)
