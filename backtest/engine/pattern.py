"""Each book row's nonzero reserve columns, as compressed rows (CSR: `indptr`, `indices`, `width`).

A row holds a few positions of the book's reserves (2.3 of 34 columns on the shipped sample), so
the per-round kernels over candidate rows (watchlist margins, the round's profit bound) loop over
these columns only, in the same ascending order as the dense loop.

Why the bits do not change: the dense loops add one product per column into an accumulator that
starts at +0.0. A column left out has zero collateral and zero debt, so its product is ±0.0 when
the factor it multiplies (a price, a weighted price) is finite, and adding ±0.0 changes no
accumulator (+0.0 + -0.0 is +0.0; an accumulator never becomes -0.0). With a non-finite factor
the product is NaN: the kernels then read every column (their dense fallback).

The pattern must cover every nonzero cell: rows whose balances changed are refreshed
(`refresh`, from the book's touched log) before a kernel reads them. Each row keeps the slot it
had at build; a refreshed row whose nonzero columns no longer fit (a balance that grew from zero)
gets width -1, and the kernels read that row whole. `changed_at[i]` is the refresh (`tick`) that
last saw row i change, for caches of per-row results (replay.RowHealth).
"""

from __future__ import annotations

import numpy as np


def _refresh(coll, debt, rows, indptr, indices, width):
    """Rewrite the columns of `rows` from the live balances; width -1 where they outgrow the slot."""
    for k in range(len(rows)):
        i = rows[k]
        start, room = indptr[i], indptr[i + 1] - indptr[i]
        n = 0
        for a in range(coll.shape[1]):
            if coll[i, a] != 0.0 or debt[i, a] != 0.0:     # NaN counts as nonzero
                if n < room:
                    indices[start + n] = a
                n += 1
        width[i] = n if n <= room else -1


try:
    import numba
    _refresh = numba.njit(cache=True, nogil=True)(_refresh)
except ImportError:                     # pragma: no cover - exercised where numba is absent
    pass


class Pattern:
    """The nonzero columns of every row of [N, R] `coll` and `debt` (the live arrays, not copied)."""

    def __init__(self, coll: np.ndarray, debt: np.ndarray):
        self.coll, self.debt = coll, debt
        nonzero = (coll != 0) | (debt != 0)
        self.width = nonzero.sum(axis=1).astype(np.int64)
        self.indptr = np.zeros(len(coll) + 1, dtype=np.int64)
        np.cumsum(self.width, out=self.indptr[1:])
        self.indices = np.nonzero(nonzero)[1].astype(np.int16 if coll.shape[1] < 2**15 else np.int64)
        self.changed_at = np.zeros(len(coll), dtype=np.int64)
        self.tick = 0

    def refresh(self, rows) -> None:
        """Rows whose collateral or debt changed (any int sequence; repeats are harmless)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if not len(rows):
            return
        self.tick += 1
        _refresh(self.coll, self.debt, rows, self.indptr, self.indices, self.width)
        self.changed_at[rows] = self.tick

    def columns(self, i: int) -> np.ndarray | None:
        """Row i's nonzero columns, ascending; None if the row is read whole (width -1)."""
        w = self.width[i]
        return None if w < 0 else self.indices[self.indptr[i]:self.indptr[i] + w].astype(np.int64)

    @property
    def args(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indptr, indices, width): what the kernels take."""
        return self.indptr, self.indices, self.width
