"""What a historical path already carries: the day's real forced flow, per step and asset, that the
reference market must not be moved by a second time (`feedback_mode = "excess"`).

A historical path is the price that formed with that day's liquidations in it. Replaying a book like the
real one with full feedback counts those sales twice: once in the path, once as our simulated flow. In
"excess" mode each simulated flow that reaches the reference market (backtest/markets/reference.py
`trade`) is first set against what is left of the step's real flow of the same sign (collateral sold,
debt bought back); only the remainder, the flow beyond what the path carries, moves the price. A step
whose simulated flow falls short of the real one leaves the path as it is (floored at zero: the path is
not moved up for sales our book did not make). docs/prices-and-scenarios.md, "Feedback on a historical path".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class CarriedFlow:
    """real[t, a] = (USD sold, USD bought) by the day's liquidations in step t; the left-overs of the
    current step are spent as simulated flow arrives."""
    real: np.ndarray                                # [T, A, 2], USD >= 0
    step: int = 0
    left: np.ndarray = field(default=None, repr=False)   # [A, 2] what is left of this step's real flow

    def __post_init__(self):
        self.real = np.asarray(self.real, dtype=float)
        self.left = self.real[0].copy()

    def next_step(self) -> None:
        self.step += 1
        self.left[:] = self.real[self.step] if self.step < len(self.real) else 0.0

    def excess(self, a: int, usd: float) -> float:
        """The part of a signed USD flow (< 0 selling) beyond what is left of the step's real flow of
        its sign; that part of the real flow is used up."""
        out = self.peek(a, usd)
        side = 0 if usd < 0 else 1
        self.left[a, side] -= min(abs(usd), float(self.left[a, side]))
        return out

    def peek(self, a: int, usd: float) -> float:
        """`excess` without using anything up: arbitrage's meeting price (arb_meet.py) asks it of many
        flows before one trades."""
        side = 0 if usd < 0 else 1
        taken = min(abs(usd), float(self.left[a, side]))
        return usd + taken if usd < 0 else usd - taken
