"""Which ilks' auctions no keeper can take in a block, known without pricing each auction: Maker.trade looks at
every open auction every block the keepers play, and most are dearer than the best venue's mid.

For each ilk, a window of SPAN price steps from the block that made it and the least price any of the ilk's
auctions can show in it (clip.stairstep_least; None when one could need a redo in it or its curve is not
the stairstep). In a block of that window, when the best venue's mid of the collateral is at or below that
least price times the DAI venue's lowest mid, it is at or below each auction's own price times it (a product
by a number >= 0 rounds in order), so Maker.trade's mid filter skips every one of them: the same auctions
skipped, the same bits. A bark folds its auction into its ilk's window; a redo (a new top and start) ends it;
an auction taken whole leaves a window that is still a floor of the rest.
"""

from __future__ import annotations

import math

from backtest.protocols.maker import clip


SPAN = 4        # price steps a window covers (a Monte Carlo path: remade once in ~7 calls; 2 and 8 saved less)


class Floors:
    """Per ilk column: (since, until, least price or None), the window `skipped` reads."""

    def __init__(self, ilks: dict):
        self.ilks = ilks                # column -> Ilk
        self.kept: dict = {}

    def skipped(self, now: float, auctions: list, high_of: dict, low_d: float) -> set:
        """The ilk columns all of whose open auctions Maker.trade's mid filter (`high_of[c] <= price x low_d`)
        skips at `now`, none of them needing a redo. Windows `now` is past are made again first."""
        kept = self.kept
        stale = [c for c in self.ilks if not (c in kept and kept[c][0] <= now <= kept[c][1])]
        if stale:
            self._make(stale, now, auctions)
        if not 0.0 <= low_d < math.inf:
            return set()
        return {c for c, (_, _, least) in kept.items() if least is not None and high_of[c] <= least * low_d}

    def _make(self, stale: list, now: float, auctions: list) -> None:
        kept = self.kept
        for c in stale:
            ilk = self.ilks[c]
            if ilk.curve == "stairstep" and now < now + SPAN * ilk.step < math.inf:
                kept[c] = (now, now + SPAN * ilk.step, math.inf)
            else:                       # never skipped, never made again
                kept[c] = (-math.inf, math.inf, None)
        for a in auctions:
            if a.coll in stale:
                self.add(a)

    def add(self, a) -> None:
        """Fold an auction (a bark's, or one a window is made over) into its ilk's window."""
        got = self.kept.get(a.coll)
        if got is None or got[2] is None:
            return
        since, until, least = got
        ilk = self.ilks[a.coll]
        price = clip.stairstep_least(a.top, since - a.tic, until - a.tic, ilk.cut, ilk.step, ilk.tail, ilk.cusp)
        self.kept[a.coll] = (since, until, None if price is None else price if price < least else least)

    def end(self, c: int) -> None:
        """An auction of column `c` was redone: its window no longer bounds it."""
        self.kept.pop(c, None)
