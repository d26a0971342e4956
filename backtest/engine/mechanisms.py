"""Comet and Maker in the replay loop: protocols that liquidate by themselves, not through a
liquidator repaying debt.

The loop finds accounts below HF 1 as for every protocol; rows whose Rules `kind` is "absorb"
(Comet) or "auction" (Maker) are handed to `Mechanisms.liquidate` instead of
agents.liquidator.liquidate, and every round `Mechanisms.trade` lets keepers buy from Comet's
inventory or take from Maker's auctions. Those purchases are sold into the same venues as every
liquidation, so they move the prices the next round sees. Both loops (replay.py, reference.py)
call exactly these methods.
"""

from __future__ import annotations

import numpy as np

from backtest.errors import InputError, closest


def first_ready(agents, waited_blocks: float):
    """The leanest agent (lowest gas_units, then the first listed) whose latency has passed: for a job
    done whether or not it pays (Comet's absorb)."""
    ready = [a for a in agents if waited_blocks >= a.latency_blocks]
    return min(ready, key=lambda a: a.gas_units) if ready else None


def spec_table(spec: dict, name: str, known: dict, source, prefix: str = "") -> dict:
    """A scenario's [comet] / [maker] / [maker.ASSET] table (`prefix` "maker." for the last): known keys
    only, numbers as floats."""
    table = spec.get(name, {})
    if not isinstance(table, dict):
        raise InputError(f"[{prefix}{name}] must be a table", file=source, column=prefix + name)
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            continue                                  # a per-asset sub-table, read by the caller
        if key not in known:
            raise InputError(f"unknown {name} parameter {key!r}{closest(key, known)} "
                             f"(known: {', '.join(sorted(known))})",
                             file=source, column=f"{prefix}{name}.{key}")
        if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (
                isinstance(value, str) != isinstance(known[key], str)):
            raise InputError("expected a " + ("name" if isinstance(known[key], str) else "number"), file=source,
                             column=f"{prefix}{name}.{key}")
        out[key] = value if isinstance(known[key], str) else float(value)
    return out


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


class Mechanisms:
    """The Comet market and the Maker Dog of one run (either may be absent)."""

    def __init__(self, inputs, config, row_rules, coll, debt, venues, rec, agents):
        from backtest.protocols.comet.mechanism import Comet
        from backtest.protocols.maker.mechanism import Maker
        kinds = np.array([r.kind for r in row_rules]) if len(row_rules) else np.zeros(0, dtype=str)
        self.owned = kinds != "repay"
        self.parts = []
        shared = (inputs, config, coll, debt, venues, rec, agents)
        if (kinds == "absorb").any():
            self.parts.append(Comet(np.flatnonzero(kinds == "absorb"), *shared))
        if (kinds == "auction").any():
            self.parts.append(Maker(np.flatnonzero(kinds == "auction"), *shared))
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

    def liquidate(self, step, now, rows, hf, rounds, waited, price, lt, params, gas_usd_per_unit) -> list[int]:
        """Absorb / bark the rows (worst first); returns the rows whose balances changed."""
        changed: list[int] = []
        which = self.part_of[rows]
        for k, part in enumerate(self.parts):
            mine = which == k
            if mine.any():
                changed += part.liquidate(step, now, rows[mine], hf[mine], np.asarray(rounds)[mine],
                                          np.asarray(waited)[mine], price, lt, params, gas_usd_per_unit)
        return changed

    def trade(self, step, now, rnd, price, params, gas_usd_per_unit) -> int:
        """buyCollateral, take and redo for this round; how many happened."""
        return sum(p.trade(step, now, rnd, price, params, gas_usd_per_unit) for p in self.parts)

    def loss(self, oracle: np.ndarray) -> float:
        """Comet's and Maker's losses so far, valued at these oracle prices (per price asset)."""
        return float(sum(p.loss(oracle) for p in self.parts))

    def summary(self, oracle: np.ndarray) -> dict:
        out: dict = {}
        for p in self.parts:
            out.update(p.summary(oracle))
        return out
