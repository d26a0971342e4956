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

from backtest import compiled
from backtest.agents.liquidator import liquidate
from backtest.agents.prescreen import Prescreen
from backtest.agents.screen import next_to_liquidate
from backtest.agents.round import Round
from backtest.protocols.comet.mechanism import Comet
from backtest.protocols.maker.mechanism import Maker
from backtest.protocols.maker_flip.mechanism import MakerFlip, flip_rows


class Repaying:
    """Aave, Spark, Compound v2 and Morpho Blue: liquidators repay debt and seize collateral. The rows
    handed over (worst first) get a profit bound from the loop's `bound` (the engine's per-row one or the
    reference loop's per-group one: the only place the two loops' liquidations differ in how, never in
    what); those that could pay go to agents.liquidator.liquidate in that order."""
    kind = "repay"
    busy = False

    def __init__(self, rows, state, venues, rec, field, bound, lowest_bar):
        self.rows, self.state, self.venues, self.rec, self.field = rows, state, venues, rec, field
        self.bound, self.lowest_bar = bound, lowest_bar
        self.prescreen = None

    def liquidate(self, r: Round, rows, hf, rounds, waited) -> int:
        acted = 0
        passing = np.flatnonzero(self.bound(rows, hf, r) >= self.lowest_bar)
        if not len(passing):                    # most rounds: every row under water is one no one can pay
            return 0
        at = passing.tolist()                   # (j, built) below: the round's row k = at[j]
        if compiled.ON and next_to_liquidate is not None:          # one compiled pass skips what liquidate rejects
            if self.prescreen is None:
                self.prescreen = Prescreen(self.state, self.field)
            order = self.prescreen.order(rows[passing], np.asarray(hf)[passing], np.asarray(waited)[passing],
                                         self.state, r, self.venues, self.field)
        else:
            order = ((j, None) for j in range(len(at)))
        for j, built in order:
            k = at[j]
            i = int(rows[k])
            done = liquidate(i, hf[k], waited[k], self.state, r, self.venues, self.field, built)
            if done:
                self.rec.liquidation(r.step, i, done.plan, r.price, int(rounds[k]), done.cost_usd, done.proceeds_usd,
                                     hf[k], done.health_factor_after, done.deficit_usd, done.liquidator)
                acted += 1
        return acted

    def trade(self, r: Round) -> int:
        return 0

    def wake(self, now: float, block: float) -> float:
        return np.inf       # an account below 1 waiting out a latency keeps the rounds going (Start.waiting)

    def loss(self, oracle: np.ndarray) -> float:
        return 0.0          # what liquidators leave is in the accounts' own bad debt

    def summary(self, oracle: np.ndarray) -> dict:
        return {}


class Mechanisms:
    """Every protocol of one run behind one interface: Comet, Maker (Cat/Flip or Dog/Clipper) and the
    repaying protocols, in that order (any may be absent). The loop calls `act` once per round."""

    def __init__(self, inputs, config, state, venues, rec, field, bound=None, lowest_bar=0.0):
        """`field`: the run's liquidators, builder share and block gas (backtest/agents/competition.py);
        Comet and Dog/Clipper compete through it; Cat/Flip's keepers read its agents only. `bound(rows,
        hf, round)`: the loop's profit bound for repaying rows (None: no Repaying part)."""
        kinds = state.per_rules(lambda r: r.kind) if len(state) else np.zeros(0, dtype=str)
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
        if bound is not None and (kinds == "repay").any():     # last: as the loop always ran them
            self.parts.append(Repaying(np.flatnonzero(kinds == "repay"), state, venues, rec, field, bound, lowest_bar))
        self.part_of = np.full(len(kinds), -1, dtype=np.int8)    # row -> index into parts: O(1) a row per round
        for k, part in enumerate(self.parts):
            self.part_of[part.rows] = k
        self.traders = [p for p in self.parts if not isinstance(p, Repaying)]     # Repaying.trade is 0
        self.whole = len(self.parts) == 1 and bool((self.part_of == 0).all())    # one part holds every row

    @property
    def busy(self) -> bool:
        """Something left to trade (inventory, open auctions): the rounds go on even with no one below 1."""
        return any(p.busy for p in self.parts)

    def act(self, r: Round, rows, hf, rounds, waited) -> int:
        """Each protocol acts on its rows below HF 1 (worst first): absorb, bark or bite, liquidate; then
        buyCollateral, take, redo and the auctions' bids. How many actions there were."""
        return self.liquidate(r, rows, hf, rounds, waited) + self.trade(r)

    def liquidate(self, r: Round, rows, hf, rounds, waited) -> int:
        """Absorb / bark / liquidate the rows (worst first) through the book state; how many were."""
        if self.whole:                              # no gathers: every row is the one part's
            return self.parts[0].liquidate(r, rows, hf, np.asarray(rounds), np.asarray(waited))
        changed = 0
        which = self.part_of[rows]
        for k, part in enumerate(self.parts):
            mine = which == k
            if mine.all():                          # one kind of protocol in the round: no gathers
                changed += part.liquidate(r, rows, hf, np.asarray(rounds), np.asarray(waited))
            elif mine.any():
                changed += part.liquidate(r, rows[mine], hf[mine], np.asarray(rounds)[mine], np.asarray(waited)[mine])
        return changed

    def trade(self, r: Round) -> int:
        """buyCollateral, take and redo for this round; how many happened (every block: the parts that trade
        only, no generator)."""
        done = 0
        for p in self.traders:
            done += p.trade(r)
        return done

    def wake(self, now: float, block: float) -> float:
        """The earliest time after `now` at which a protocol's own clock may change what someone can do
        (an auction's price or age, a bid's ttl, a keeper's latency on an auction or an inventory), inf if
        none: the loop plays that block of the step rather than waiting for the next step."""
        return min((p.wake(now, block) for p in self.parts), default=np.inf)

    def loss(self, oracle: np.ndarray) -> float:
        """The protocols' own losses so far (Comet's reserves, Maker's Vow), valued at these oracle prices (one per reserve column)."""
        return float(sum(p.loss(oracle) for p in self.parts))

    def summary(self, oracle: np.ndarray) -> dict:
        out: dict = {}
        for p in self.parts:
            out.update(p.summary(oracle))
        return out
