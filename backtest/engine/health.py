"""Candidate rows' health factors for the replay loop (replay.py): `rows_health_factor`, the whole-book
bits for a few rows, and `RowHealth`, which keeps each row's HF while its cells and the prices of its
columns stand. Compiled, a row is priced from the watchlist's packed cells and its sums taken as numpy
takes them (tests/perf/test_fast_replay.py, test_row_kernels.py); the Python path: rules.health_factor."""

from __future__ import annotations

import numpy as np

from backtest import compiled
from backtest.engine.pattern import Stamps
from backtest.engine.state import BookState
from backtest.protocols.rules import health_factor


def rows_health_factor(coll, debt, rows: np.ndarray, price, lt, floors, cells: tuple | None = None) -> np.ndarray:
    """rules.health_factor of `rows`, bit for bit what the whole-book call gives those rows. `cells`:
    BookState.cells(rows), to read the rows' packed cells instead of the book (compiled, every price
    finite and > 0, and no -0.0 cell in the book: RowHealth's say).

    BLAS matrix-vector products are not row-invariant: OpenBLAS's dgemv_t kernel takes rows
    four at a time and the last N mod 4 rows one by one, with another order of additions, so
    a row's Σ value*LT can differ in the last bit between a 5-row and a 3,000-row call. Rows
    that sit in whole blocks of four in the book are computed here padded to a multiple of
    four; rows in the book's ragged tail are computed as a tail too.
    """
    if len(rows) == 0:
        return np.zeros(0)
    tail = len(coll) - len(coll) % 4
    if rows.max() < tail:                   # no row in the ragged tail (the usual case): one part, no masks
        return _part_hf(coll, debt, rows, price, lt, floors, cells, tail)
    out = np.empty(len(rows))
    for sel in (rows < tail, rows >= tail):
        part = rows if sel.all() else rows[sel]
        if len(part) == 0:
            continue
        out[sel] = _part_hf(coll, debt, part, price, lt, floors,
                            None if cells is None else (cells[0] if sel.all() else cells[0][sel], cells[1]), tail)
    return out


def _part_hf(coll, debt, part: np.ndarray, price, lt, floors, cells: tuple | None, tail: int) -> np.ndarray:
    """rows_health_factor of rows all before `tail` (computed padded to a multiple of four) or all in the tail
    (as a tail)."""
    size = len(part) + (-len(part) % 4 if part[0] < tail else 0)
    c = np.empty((size, coll.shape[1]))
    if compiled.ON and _hf_of_sums is not None and coll.shape[1] <= 128:
        sums = np.empty((2, size))               # collateral USD, debt USD per row: numpy's row sums
        p = np.asarray(price, dtype=float)
        if cells is not None and np.isfinite(p).all() and (p > 0).all():
            _priced_sums_cells(coll, debt, part, cells[0], *cells[1], p, c, sums)
        else:
            _priced_sums(coll, debt, part, p, c, sums)
        hf = np.empty(len(part))
        _hf_of_sums(c @ lt, sums, floors[part], hf)   # the one BLAS product, as health_factor asks it
        return hf
    d = np.empty((size, coll.shape[1]))
    _priced(coll, debt, part, np.asarray(price, dtype=float), c, d)
    hf = health_factor(c, d, lt, floors[part] if size == len(part) else
                       np.concatenate([floors[part], np.repeat(floors[part[:1]], size - len(part))]))
    return hf[:len(part)]


def _priced(coll, debt, rows, price, c, d):
    """c[k] = coll[rows[k]] * price and d[k] = debt[rows[k]] * price (the gather and the product of
    numpy's `coll[rows] * price` in one pass, the same products); the rows of `c` and `d` past
    len(rows) repeat rows[0] (the padding)."""
    for k in range(len(c)):
        i = rows[k] if k < len(rows) else rows[0]
        for a in range(len(price)):
            c[k, a] = coll[i, a] * price[a]
            d[k, a] = debt[i, a] * price[a]


def _priced_sums(coll, debt, rows, price, c, sums):
    """_priced's c, and instead of d each row's sums: sums[0, k] = c[k].sum(), sums[1, k] =
    (debt[rows[k]] * price).sum(), numpy's pairwise row sums (rules._numpy_sum; rows of up to 128)."""
    scratch = np.empty(len(price))
    for k in range(len(c)):
        i = rows[k] if k < len(rows) else rows[0]
        for a in range(len(price)):
            c[k, a] = coll[i, a] * price[a]
            scratch[a] = debt[i, a] * price[a]
        sums[0, k] = _numpy_sum(c[k])
        sums[1, k] = _numpy_sum(scratch)


def _priced_sums_cells(coll, debt, rows, at, indptr, indices, width, values, price, c, sums):
    """_priced_sums from each row's pattern slot at[k] (engine/pattern.py: its cells back to back; the live
    row where it is read whole): a column not kept holds +0.0 in both, whose product with a price > 0 is
    +0.0 as the book's cell gives it (a -0.0 cell would give -0.0: the caller has none)."""
    scratch = np.empty(len(price))
    for k in range(len(c)):
        u = k if k < len(rows) else 0
        i, h = rows[u], at[u]
        if width[h] < 0:
            for a in range(len(price)):
                c[k, a] = coll[i, a] * price[a]
                scratch[a] = debt[i, a] * price[a]
        else:
            for a in range(len(price)):
                c[k, a] = 0.0
                scratch[a] = 0.0
            for j in range(indptr[h], indptr[h] + width[h]):
                a = indices[j]
                c[k, a] = values[j, 0] * price[a]
                scratch[a] = values[j, 1] * price[a]
        sums[0, k] = _numpy_sum(c[k])
        sums[1, k] = _numpy_sum(scratch)


def _hf_of_sums(weighted, sums, floors, out):
    """rules.health_factor's arithmetic per row from its parts (weighted = coll_usd @ lt, the row sums):
    aave_v3.health_factor's floored average LT where `floors`, Σ value·LT / debt elsewhere, +inf with no
    debt; each operation numpy's, in its order (IEEE: the same bits)."""
    for k in range(len(out)):
        total, owed = sums[0, k], sums[1, k]
        if not floors[k]:
            out[k] = weighted[k] / owed if owed > 0 else np.inf
            continue
        avg = weighted[k] / total if total > 0 else 0.0
        avg_bps = np.floor(avg * 10_000.0 + 1e-9)
        out[k] = total * avg_bps / 10_000.0 / owed if owed > 0 else np.inf


try:
    import numba
    from backtest.protocols.rules import _numpy_sum       # numba's, compiled there (kernel_cache.py)
    _priced = numba.njit(cache=True, nogil=True)(_priced)
    _priced_sums = numba.njit(cache=True, nogil=True)(_priced_sums)
    _priced_sums_cells = numba.njit(cache=True, nogil=True)(_priced_sums_cells)
    _hf_of_sums = numba.njit(cache=True, nogil=True, error_model="numpy")(_hf_of_sums)
except ImportError:                     # pragma: no cover - exercised where numba is absent
    _hf_of_sums = None


class RowHealth:
    """rows_health_factor with a memory: a row's HF is computed again only if its balances changed
    (the book's touched log, through the watchlist's Pattern) or the price of one of its nonzero
    columns moved. Same bits: a row's HF is a function of its own cells, the prices, the LT and its
    floor (the padded call makes it independent of the other rows), and a column it does not hold
    enters as 0 * price = +0.0 (-0.0 for a -0.0 cell) whatever the price, while the price stays
    finite and > 0. So a price moving to or from anything else, a new LT or a new Pattern (the
    watchlist rebuilt) forgets every row. On the sample ~70 % of the candidate rows of a round are
    reused.

    Rows in the book's ragged tail (the last N mod 4) are always computed again, as they were
    before this memory: their bits depend on which other tail rows share the call (one row alone
    goes through another BLAS kernel), so a kept value could differ from a fresh one."""

    def __init__(self, n: int):
        self.stamps = Stamps(n)                 # and each row's kept HF
        self.key = (None, None)
        self.packed = (None, False)         # (book, no -0.0 cell in it): no writer makes one (state.py)

    def __call__(self, book: BookState, rows: np.ndarray, price: np.ndarray, lt: np.ndarray) -> np.ndarray:
        pattern = book.pattern()
        if pattern is None:
            return rows_health_factor(book.coll, book.debt, rows, price, lt, book.floors)
        key = (lt.tobytes(), book.floors)
        self.stamps.prices(pattern, price, key[0] == self.key[0] and key[1] is self.key[1])
        self.key = key
        out, fresh, places = self.stamps.kept(rows, tail=len(book) - len(book) % 4)
        if len(fresh):
            if self.packed[0] is not book:
                self.packed = (book, compiled.ON and not any(((x == 0) & np.signbit(x)).any() for x in
                                                             (book.coll, book.debt)))
            hf = rows_health_factor(book.coll, book.debt, fresh, price, lt, book.floors,
                                    book.cells(fresh) if self.packed[1] and compiled.ON else None)
            self.stamps.put(hf, fresh, places, out)
        return out
