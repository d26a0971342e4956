"""Comet and Maker in the replay loop: protocols that liquidate by themselves, not through a
liquidator repaying debt.

The loop finds accounts below HF 1 as for every protocol; rows whose Rules `kind` is "absorb"
(Comet) or "auction" (Maker: Liquidations 1.x's Cat/Flip or 2.0's Dog/Clipper, per ilk and date) are handed to `Mechanisms.liquidate` instead of
agents.liquidator.liquidate, and every round `Mechanisms.trade` lets keepers buy from Comet's
inventory or take from Maker's auctions. Those purchases are sold into the same venues as every
liquidation, so they move the prices the next round sees. Both loops (replay.py, reference.py)
call exactly these methods.
"""

from __future__ import annotations

import numpy as np

from backtest.agents.round import Round
from backtest.protocols.comet.mechanism import Comet
from backtest.protocols.maker.mechanism import Maker
from backtest.protocols.maker_flip.mechanism import MakerFlip, flip_rows


class Mechanisms:
    """The Comet market and the Maker Dog of one run (either may be absent)."""

    def __init__(self, inputs, config, state, venues, rec, field):
        """`field`: the run's liquidators, builder share and block gas (backtest/agents/competition.py);
        Comet and Dog/Clipper compete through it; Cat/Flip's keepers read its agents only."""
        kinds = np.array([r.kind for r in state.rules]) if len(state) else np.zeros(0, dtype=str)
        self.owned = kinds != "repay"
        self.parts = []
        shared = (inputs, config, state, venues, rec)
        if (kinds == "absorb").any():
            self.parts.append(Comet(np.flatnonzero(kinds == "absorb"), *shared, field))
        if (kinds == "auction").any():                  # Cat/Flip before each ilk's Clipper, else Dog/Clipper
            rows = np.flatnonzero(kinds == "auction")
            by_flip = flip_rows(inputs, config, state.coll, rows)
            if by_flip.any():
                self.parts.append(MakerFlip(rows[by_flip], *shared, field.agents))
            if not by_flip.all():
                self.parts.append(Maker(rows[~by_flip], *shared, field))
        self.part_of = np.full(len(kinds), -1, dtype=np.int8)    # row -> index into parts: O(1) a row per round
        for k, part in enumerate(self.parts):
            self.part_of[part.rows] = k

    @property
    def busy(self) -> bool:
        """Something left to trade (inventory, open auctions): the rounds go on even with no one below 1."""
        return any(p.busy for p in self.parts)

    def split(self, below: np.ndarray, hf: np.ndarray):
        """(repay rows, their HF, Comet/Maker rows, their HF), each in the order given."""
        if not self.parts:
            return below, hf, below[:0], hf[:0]
        mine = self.owned[below]
        return below[~mine], hf[~mine], below[mine], hf[mine]

    def liquidate(self, r: Round, rows, hf, rounds, waited) -> int:
        """Absorb / bark the rows (worst first) through the book state; how many were."""
        changed = 0
        which = self.part_of[rows]
        for k, part in enumerate(self.parts):
            mine = which == k
            if mine.any():
                changed += part.liquidate(r, rows[mine], hf[mine], np.asarray(rounds)[mine], np.asarray(waited)[mine])
        return changed

    def trade(self, r: Round) -> int:
        """buyCollateral, take and redo for this round; how many happened."""
        return sum(p.trade(r) for p in self.parts)

    def loss(self, oracle: np.ndarray) -> float:
        """Comet's and Maker's losses so far, valued at these oracle prices (one per reserve column)."""
        return float(sum(p.loss(oracle) for p in self.parts))

    def summary(self, oracle: np.ndarray) -> dict:
        out: dict = {}
        for p in self.parts:
            out.update(p.summary(oracle))
        return out
