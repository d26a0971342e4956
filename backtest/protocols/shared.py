"""What the protocols that liquidate by themselves (Comet's absorb, Maker's auctions) share: which
agent acts on a job done whether or not it pays, and which of the book's reserves are the protocol's."""

from __future__ import annotations

import math

import numpy as np

from backtest.errors import InputError


def first_ready(agents, waited_blocks: float):
    """The leanest agent (lowest gas_units, then the first listed) whose latency has passed: for a job
    done whether or not it pays (Comet's absorb)."""
    ready = [a for a in agents if waited_blocks >= a.latency_blocks]
    return min(ready, key=lambda a: a.gas_units) if ready else None


def latency_ends(agents, since: float, now: float, block: float) -> float:
    """The first time after `now` at which one more of `agents` has waited out its latency on a job
    open since `since` (inf if every one has): when a protocol's job becomes someone's to take."""
    ends = [since + a.latency_blocks * block for a in agents]
    return min((t for t in ends if t > now), default=np.inf)


def after(t: float) -> float:
    """The first float above `t`: for a condition that holds once a time is strictly passed."""
    return math.nextafter(t, math.inf)


SLACK = 1e-9      # relative: float rounding between a quote and its linear ceiling (agents/liquidator.py)


def none_can_clear(trades, ceiling: float, floor: float, bar: float) -> bool:
    """True when no (units sold, units bought) of `trades` can gross `bar` USD: each is bounded by the
    units sold x their sale ceiling less the units bought x their purchase floor (`Router.ceilings`:
    fills are concave, no quote beats them; a purchase of <= 0 costs 0, below the bound), so quoting them
    cannot lead to an award (`Field.bar`).
    NaN anywhere: False (quote them)."""
    for sold, bought in trades:
        top_p, low_c = (sold if not sold < 0 else 0.0) * ceiling, bought * floor   # a sale of <= 0 fetches 0
        if not top_p - low_c + SLACK * (top_p + low_c) + SLACK * abs(bar) < bar:
            return False
    return True


def cannot_beat(sold: float, bought: float, ceiling: float, floor: float, best: float) -> bool:
    """True when selling `sold` and buying `bought` cannot gross `best` USD, what a trade quoted before it
    grosses (`none_can_clear`'s bound for one trade): a keeper picks a later size only when it grosses
    strictly more, so quoting this one cannot change the choice."""
    return none_can_clear(((sold, bought),), ceiling, floor, best)


def own_reserves(book, debt: np.ndarray, rows: np.ndarray, protocol: str, refusal: str) -> tuple[int | None, list[int]]:
    """(the one reserve of `protocol` its `rows` borrow, None if they borrow none; the protocol's other
    reserves, its collateral). Comet lends one base asset per market and Maker one debt asset (DAI):
    rows borrowing two are refused with "`refusal` ASSETS", `refusal` naming the rule."""
    cols = np.array([j for j, p in enumerate(book.reserve_protocol) if p == protocol], dtype=np.int64)
    borrowed = cols[debt[np.ix_(rows, cols)].sum(axis=0) > 0] if len(cols) else cols
    if len(borrowed) > 1:
        raise InputError(refusal.format(", ".join(book.assets[j] for j in borrowed)), column="debt")
    owed = int(borrowed[0]) if len(borrowed) else None
    return owed, [int(j) for j in cols if j != owed]
