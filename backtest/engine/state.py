"""The run's loan book as it changes: one object owns collateral and debt and is their only writer.

Liquidators (backtest/agents/liquidator.py), Comet's absorb and Maker's bark change balances only
through the named methods below (repay, seize, burn_deficit, absorb, grab); each marks the row it
touched. The replay loop's watchlist (watchlist.py) learns of changes from that log once per round,
when the loop asks for candidates, not from each writer. Everyone else reads `coll` and `debt`,
which are read-only views: a write anywhere else raises.

The reference loop (reference.py) uses the same object with no watchlist: it reads the whole book
every round and never asks for candidates.
"""

from __future__ import annotations

import numpy as np

from backtest.engine.watchlist import Watchlist


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


class BookState:
    """Collateral and debt [N, R] units of one run (a copy of the input book), each row's protocol
    rules and average-LT floor, and the reserve -> price asset map."""

    def __init__(self, coll: np.ndarray, debt: np.ndarray, row_rules: list, asset_of: np.ndarray,
                 rule_of: tuple[list, np.ndarray] | None = None):
        """`rule_of`: (the distinct Rules, [N] each row's index into them) if the caller has it (start.py,
        from the protocol column), else found here from `row_rules`."""
        self._coll, self._debt = coll, debt
        self.coll, self.debt = _read_only(coll), _read_only(debt)
        self.rules = row_rules                      # [N] each row's protocol Rules
        self.distinct, self.rule_of = rule_of if rule_of is not None else _distinct(row_rules)
        self.floors = self.per_rules(lambda r: r.floors_average_lt, bool)   # [N]
        self.asset_of = asset_of                    # [R] reserve -> price asset
        self._touched: list[int] = []               # rows changed since the watchlist last heard
        self._watch: Watchlist | None = None
        self._versions = np.zeros(len(coll), dtype=np.int64)    # per row: how many logged changes it had
        self._counted = 0                           # entries of `_touched` already counted in `_versions`

    def __len__(self) -> int:
        return len(self._coll)

    def per_rules(self, f, dtype=None) -> np.ndarray:
        """[N] f(each row's Rules), f called once per distinct Rules (a 1M-row book has a handful: a
        Python call per row cost ~0.1 s each time someone asked)."""
        return np.array([f(r) for r in self.distinct], dtype=dtype)[self.rule_of]

    # ------------------------------------------------------------------ writers

    def repay(self, i: int, d: int, amount: float) -> None:
        """Debt repaid on reserve `d` (a cell never goes below zero)."""
        owed = self._debt.item(i, d)               # a plain float: the same difference, cheaper than a numpy scalar
        self._debt[i, d] = 0.0 if amount >= owed else owed - amount
        self._touched.append(i)

    def seize(self, i: int, c: int, amount: float) -> None:
        """Collateral leaving reserve `c` (the liquidator's share and any protocol fee)."""
        held = self._coll.item(i, c)
        self._coll[i, c] = 0.0 if amount >= held else held - amount
        self._touched.append(i)

    def grab(self, i: int, c: int, lot: float, d: int, due: float) -> None:
        """Maker's Dog.bark -> Vat.grab: `lot` collateral and `due` debt leave the vault together."""
        self.seize(i, c, lot)
        self.repay(i, d, due)

    def burn_deficit(self, i: int, price: np.ndarray) -> float:
        """Aave v3.3+ / Morpho: debt left on an account with no collateral is burned; its value at
        `price` (0 when the account still holds collateral or owes nothing)."""
        if self._coll[i].any() or not self._debt[i].any():
            return 0.0
        deficit = float(self._debt[i] @ price)
        self._debt[i] = 0.0
        self._touched.append(i)
        return deficit

    def absorb(self, i: int, cols, base: int) -> None:
        """Comet's absorb: the protocol takes every collateral balance and the base supply, and the
        base debt is erased."""
        self._coll[i, cols] = 0.0
        self._coll[i, base] = 0.0
        self._debt[i, base] = 0.0
        self._touched.append(i)

    # ------------------------------------------------------------------ the watchlist

    def watch(self, lt: np.ndarray, prices: np.ndarray) -> None:
        """(Re)build the candidate finder at these thresholds and prices (at the start and after a
        governance change); it reads the live arrays."""
        self._watch = Watchlist(self._coll, self._debt, lt, prices)
        self._drain()

    def candidates(self, prices: np.ndarray) -> np.ndarray:
        """Rows that may be below HF 1 at `prices` (Watchlist.candidates), after telling the watchlist
        which rows changed since the last call. The same array object while nothing moved."""
        if self._touched:
            self._watch.update(self._drain())
        return self._watch.candidates(prices)

    def versions(self) -> np.ndarray:
        """[N] a counter per row that every logged change of the row (repay, seize, burn_deficit, absorb,
        grab) has moved by the time this returns: a memo holding a row's value with its counter knows the
        row's cells are the same while the counter is. The array is updated in place, never rebound."""
        log = self._touched
        if self._counted < len(log):
            versions = self._versions
            for i in log[self._counted:]:           # a few rows a liquidation: cheaper than np.add.at
                versions[i] += 1
            self._counted = len(log)
        return self._versions

    def _drain(self) -> list[int]:
        """The touched log, counted in `versions` first, and a new empty one."""
        self.versions()
        out, self._touched, self._counted = self._touched, [], 0
        return out

    def pattern(self):
        """Each row's nonzero columns (engine/pattern.py, kept by the watchlist), the rows in the touched
        log refreshed first (the log stays for the watchlist); None before `watch`."""
        if self._watch is None:
            return None
        if self._touched:
            self._watch.pattern.refresh(self._touched)
        return self._watch.pattern

    def cells(self, rows: np.ndarray):
        """Watchlist.cells of `rows` (where each has its pattern slot, the arrays holding them), the
        watchlist told of the touched rows first; None before `watch`."""
        if self._watch is None:
            return None
        if self._touched:
            self._watch.update(self._drain())
        return self._watch.cells(rows)

    def touched(self) -> list[int]:
        """Rows changed since the last call (or the last `candidates`), in order; clears the log."""
        return self._drain()


def _distinct(row_rules: list) -> tuple[list, np.ndarray]:
    """(the distinct Rules objects of `row_rules` in order of first appearance, each row's index)."""
    first: dict = {}
    index = np.fromiter((first.setdefault(id(r), (len(first), r))[0] for r in row_rules), dtype=np.int64,
                        count=len(row_rules))
    return [r for _, r in first.values()], index
