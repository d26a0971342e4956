"""Each book row's nonzero reserve columns, as compressed rows (CSR: `indptr`, `indices`, `width`).

A row holds a few positions of the book's reserves (2.3 of 34 columns on the shipped sample), so
the per-round kernels over candidate rows (watchlist margins, the round's profit bound) loop over
these columns only, in the same ascending order as the dense loop.

Why the bits do not change: the dense loops add one product per column into an accumulator that
starts at +0.0. A column left out has zero collateral and zero debt, so its product is ±0.0 when
the factor it multiplies (a price, a weighted price) is finite, and adding ±0.0 changes no
accumulator (+0.0 + -0.0 is +0.0; an accumulator never becomes -0.0). With a non-finite factor
the product is NaN: the kernels then read every column (their dense fallback).

The pattern also holds those cells' values (`values`, [nnz, 2]: collateral, debt), next to each
other: a kernel over a few thousand scattered rows then reads ~3 MB of packed arrays instead of
lines spread over the 32 MB book (the sample's margins: 1.6 -> 0.95 CPU s, in-process A/B). So
the pattern must be current for every row a kernel reads: rows whose balances changed are
refreshed (`refresh`, from the book's touched log) before that. Each row keeps the slot it
had at build; a refreshed row whose nonzero columns no longer fit (a balance that grew from zero)
gets width -1, and the kernels read that row whole. A refresh forgets the rows it rewrites in every
Stamps reading the pattern (caches of per-row results: health.RowHealth).
"""

from __future__ import annotations

import numpy as np


def _refresh(coll, debt, rows, indptr, indices, width, values):
    """Rewrite the columns and values of `rows` from the live balances; width -1 where they outgrow
    the slot."""
    for k in range(len(rows)):
        i = rows[k]
        start, room = indptr[i], indptr[i + 1] - indptr[i]
        n = 0
        for a in range(coll.shape[1]):
            if coll[i, a] != 0.0 or debt[i, a] != 0.0:     # NaN counts as nonzero
                if n < room:
                    indices[start + n] = a
                    values[start + n, 0] = coll[i, a]
                    values[start + n, 1] = debt[i, a]
                n += 1
        width[i] = n if n <= room else -1


def _stale(rows, tail, seen, col_epoch, indptr, indices, width, out):
    """out[k]: row rows[k]'s kept result is stale (at or past `tail`, never kept or changed since: epoch -1,
    read whole, or the price of one of its nonzero columns moved since). The row's columns are the bits
    `mark` kept beside its epoch (they are the pattern's while the row has not changed: a refresh sets the
    epoch to -1): one cache line of `seen` a row, where reading the pattern took four more lines scattered
    over the book (the 1M bench's candidates are ~1,500 rows spread over 1M). Rows with a column past the
    bits read the pattern."""
    last, moved = -2, 0                 # the columns moved since epoch `last`, as bits
    for k in range(len(rows)):
        i = rows[k]
        e = seen[i, 0]
        ok = i < tail and e >= 0 and seen[i, 3] != WHOLE
        if ok and seen[i, 3] == WIDE:
            for j in range(indptr[i], indptr[i] + width[i]):
                if col_epoch[indices[j]] > e:
                    ok = False
                    break
        elif ok:
            if e != last:
                moved, last = 0, e
                for a in range(min(len(col_epoch), BITS)):
                    if col_epoch[a] > e:
                        moved |= 1 << a
            ok = (seen[i, 2] & moved) == 0
        out[k] = not ok


def _mark(rows, epoch, indptr, indices, width, seen):
    """Row rows[k]'s result kept at `epoch`: it, its nonzero columns as bits, and whether it is read whole
    (always stale) or has a column past the bits (WIDE: `_stale` reads the pattern)."""
    for k in range(len(rows)):
        i = rows[k]
        seen[i, 0] = epoch
        bits, kind = 0, 0
        if width[i] < 0:
            kind = WHOLE
        for j in range(indptr[i], indptr[i] + max(width[i], 0)):
            a = indices[j]
            if a < BITS:
                bits |= 1 << a
            else:
                kind = WIDE
        seen[i, 2] = bits
        seen[i, 3] = kind


BITS, WHOLE, WIDE = 63, 1, 2           # columns kept as bits of an int64 (not its sign); a row's kind


def _moved(bits, last_bits, price, last, col_epoch, epoch):
    """Stamps.prices' comparison: 0 if no price's bits moved; -1 if one did from or to a price not finite and
    > 0 (col_epoch untouched); else 1, col_epoch set to `epoch` for each column that moved."""
    moved = False
    for a in range(len(bits)):
        if bits[a] != last_bits[a]:
            moved = True
            if not (np.isfinite(last[a]) and np.isfinite(price[a]) and last[a] > 0 and price[a] > 0):
                return -1
    if not moved:
        return 0
    for a in range(len(bits)):
        if bits[a] != last_bits[a]:
            col_epoch[a] = epoch
    return 1


def _split(rows, tail, seen, kept, col_epoch, indptr, indices, width, out, fresh, places):
    """_stale of `rows`, then out[k] = the kept result (kept[rows[k], 1]: `seen` as floats, its row's line) for
    each row whose kept result stands and the others listed (fresh: the rows, places: their k); returns how
    many."""
    stale = np.empty(len(rows), dtype=np.bool_)
    _stale(rows, tail, seen, col_epoch, indptr, indices, width, stale)
    n = 0
    for k in range(len(rows)):
        if stale[k]:
            fresh[n], places[n] = rows[k], k
            n += 1
        else:
            out[k] = kept[rows[k], 1]
    return n


def _put(values, fresh, places, out, kept, epoch, indptr, indices, width, seen):
    """out[places[j]] = kept[fresh[j], 1] = values[j], and the rows `fresh` marked (_mark)."""
    _mark(fresh, epoch, indptr, indices, width, seen)
    for j in range(len(fresh)):
        out[places[j]] = values[j]
        kept[fresh[j], 1] = values[j]


def _widths(coll, debt, indptr, width):
    """Pattern.__init__'s first pass: each row's count of nonzero columns (NaN counts, -0.0 does not),
    and indptr their running sum."""
    n, m = coll.shape
    for i in range(n):
        w = 0
        for a in range(m):
            if coll[i, a] != 0 or debt[i, a] != 0:
                w += 1
        width[i] = w
        indptr[i + 1] = indptr[i] + w


def _cells(coll, debt, indptr, indices, values):
    """Pattern.__init__'s second pass: each row's nonzero columns ascending and their cells, row after
    row as np.nonzero orders them (numpy's masks, sums, nonzero and gathers took ~85 ms for 1M rows,
    these two passes ~30)."""
    n, m = coll.shape
    for i in range(n):
        j = indptr[i]
        for a in range(m):
            if coll[i, a] != 0 or debt[i, a] != 0:
                indices[j] = a
                values[j, 0] = coll[i, a]
                values[j, 1] = debt[i, a]
                j += 1


def _copy(rows, at, indptr, indices, width, values, to_indptr, to_indices, to_width, to_values):
    """Row rows[k]'s slot (its width and cells) into slot at[k] of the `to_` arrays (room enough)."""
    for k in range(len(rows)):
        i, h = rows[k], at[k]
        to_width[h] = width[i]
        start, to = indptr[i], to_indptr[h]
        for u in range(max(width[i], 0)):
            to_indices[to + u] = indices[start + u]
            to_values[to + u, 0] = values[start + u, 0]
            to_values[to + u, 1] = values[start + u, 1]


try:
    import numba
    _refresh = numba.njit(cache=True, nogil=True)(_refresh)
    _stale = numba.njit(cache=True, nogil=True)(_stale)
    _mark = numba.njit(cache=True, nogil=True)(_mark)
    _split = numba.njit(cache=True, nogil=True)(_split)
    _moved = numba.njit(cache=True, nogil=True)(_moved)
    _put = numba.njit(cache=True, nogil=True)(_put)
    _copy = numba.njit(cache=True, nogil=True)(_copy)
    _widths = numba.njit(cache=True, nogil=True)(_widths)
    _cells = numba.njit(cache=True, nogil=True)(_cells)
except ImportError:                     # pragma: no cover - exercised where numba is absent
    _cells = None


def whole_rows(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pattern.args of `n` rows all read whole (width -1): a kernel's dense path for every row."""
    return np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int16), np.full(n, -1, dtype=np.int64), \
        np.zeros((0, 2))


class Pattern:
    """The nonzero columns of every row of [N, R] `coll` and `debt` (the live arrays, not copied)."""

    def __init__(self, coll: np.ndarray, debt: np.ndarray):
        self.coll, self.debt = coll, debt
        self.indptr = np.zeros(len(coll) + 1, dtype=np.int64)
        kind = np.int16 if coll.shape[1] < 2**15 else np.int64
        if _cells is not None and coll.ndim == 2 and coll.shape == debt.shape:
            self.width = np.empty(len(coll), dtype=np.int64)
            _widths(coll, debt, self.indptr, self.width)
            self.indices = np.empty(int(self.indptr[-1]), dtype=kind)
            self.values = np.empty((len(self.indices), 2), dtype=np.result_type(coll.dtype, debt.dtype))
            _cells(coll, debt, self.indptr, self.indices, self.values)
        else:                           # without numba: numpy's masks (the same arrays)
            nonzero = (coll != 0) | (debt != 0)
            self.width = nonzero.sum(axis=1).astype(np.int64)
            np.cumsum(self.width, out=self.indptr[1:])
            self.indices = np.nonzero(nonzero)[1].astype(kind)
            self.values = np.stack([coll[nonzero], debt[nonzero]], axis=1)     # [nnz, 2] (collateral, debt)
        self.stamps: list[np.ndarray] = []     # Stamps.seen of the Stamps reading this pattern: a refresh forgets

    def refresh(self, rows) -> None:
        """Rows whose collateral or debt changed (any int sequence; repeats are harmless)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if not len(rows):
            return
        _refresh(self.coll, self.debt, rows, self.indptr, self.indices, self.width, self.values)
        for seen in self.stamps:
            seen[rows, 0] = -1

    def columns(self, i: int) -> np.ndarray | None:
        """Row i's nonzero columns, ascending; None if the row is read whole (width -1)."""
        w = self.width[i]
        return None if w < 0 else self.indices[self.indptr[i]:self.indptr[i] + w].astype(np.int64)

    @property
    def args(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(indptr, indices, width, values): what the kernels take."""
        return self.indptr, self.indices, self.width, self.values


class Copy:
    """The pattern slots of some rows, back to back in their order: `args` as Pattern.args, row k of
    them at index k, for kernels that read the same scattered rows again and again. Each slot is as
    large as the row's in the pattern, so `follow` can copy a refreshed row again in place; `append`
    adds rows at the end."""

    def __init__(self, pattern: Pattern, rows: np.ndarray):
        self.pattern = pattern
        self.count = 0
        self._rows = np.empty(0, dtype=np.int64)
        self._indptr = np.zeros(1, dtype=np.int64)
        self._width = np.empty(0, dtype=np.int64)
        self._indices = np.empty(0, dtype=pattern.indices.dtype)
        self._values = np.empty((0, 2))
        self.append(rows)

    def append(self, rows: np.ndarray) -> None:
        """Slots count, count + 1, ... for `rows` (room doubled as needed: amortised O(1) a row)."""
        rows = np.asarray(rows, dtype=np.int64)
        p, m = self.pattern, self.count
        room = p.indptr[rows + 1] - p.indptr[rows]
        end = self._indptr[m] + np.cumsum(room)
        if m + len(rows) > len(self._width):
            self._indptr, self._width = _grown(self._indptr, m + len(rows) + 1), _grown(self._width, m + len(rows))
            self._rows = _grown(self._rows, m + len(rows))
        if len(rows) and end[-1] > len(self._indices):
            self._indices, self._values = _grown(self._indices, end[-1]), _grown(self._values, end[-1])
        self._indptr[m + 1:m + 1 + len(rows)] = end
        self._rows[m:m + len(rows)] = rows
        self.count = m + len(rows)
        self.follow(rows, np.arange(m, m + len(rows)))

    def follow(self, rows: np.ndarray, at: np.ndarray) -> None:
        """Copy the pattern's `rows` (just refreshed) into their slots `at` again."""
        p = self.pattern
        _copy(np.asarray(rows, dtype=np.int64), np.asarray(at, dtype=np.int64), p.indptr, p.indices, p.width,
              p.values, self._indptr, self._indices, self._width, self._values)

    @property
    def rows(self) -> np.ndarray:
        """The book row of each slot."""
        return self._rows[:self.count]

    @property
    def args(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        m = self.count
        return self._indptr[:m + 1], self._indices[:self._indptr[m]], self._width[:m], self._values[:self._indptr[m]]


def _grown(a: np.ndarray, need: int) -> np.ndarray:
    """`a` in a new array of at least `need` (and twice its) rows, its rows kept at the front."""
    out = np.empty((max(need, 2 * len(a)),) + a.shape[1:], dtype=a.dtype)
    out[:len(a)] = a
    return out


class Stamps:
    """Which rows' kept results still stand, for results that are a function of the row's own cells
    and the prices (finite, > 0) of its nonzero columns, and of nothing that changes otherwise; and the
    results (float64), each in its row's line.

    A column the row does not hold enters such a result as 0 * price = ±0.0 whatever that price is,
    while it stays finite and > 0; so a kept result stands until the row changes (the Pattern's refresh
    sets its epoch to -1) or a price of one of its columns moves (a per-column epoch). A price moving to
    or from anything else, a new Pattern, or the caller's say (`same` False: its other inputs changed)
    forgets every row."""

    def __init__(self, n: int):
        # per row: price epoch of its kept result (-1 none), the result (as float64 bits: `values`), its
        # nonzero columns as bits, its kind (0, WHOLE, WIDE): side by side, one cache line (`_stale`, `kept`)
        self.seen = np.zeros((n, 4), dtype=np.int64)
        self.seen[:, 0] = -1
        self.values = self.seen.view(np.float64)          # the same memory: column 1 holds each row's result
        self.epoch = 0
        self.col_epoch = np.zeros(0, dtype=np.int64)
        self.pattern = None
        self.price = None

    def prices(self, pattern: Pattern, price: np.ndarray, same: bool = True) -> None:
        """Stamp the columns whose price moved since the last call with a new epoch (or forget)."""
        price = np.asarray(price, dtype=float)
        if not same or pattern is not self.pattern or self.price is None or len(price) != len(self.price):
            self.forget(pattern, len(price))
        else:                           # one compiled pass, not ten numpy calls over a few dozen prices
            got = _moved(price.view(np.int64), self.price.view(np.int64), price, self.price, self.col_epoch,
                         self.epoch + 1)
            if got < 0:
                self.forget(pattern, len(price))
            elif got:
                self.epoch += 1
        self.price = price.copy()

    def forget(self, pattern: Pattern | None = None, columns: int | None = None) -> None:
        if pattern is not None and pattern is not self.pattern:
            pattern.stamps.append(self.seen)               # its refreshes forget the rows they rewrite
        self.pattern = pattern if pattern is not None else self.pattern
        self.seen[:, 0] = -1
        self.epoch += 1
        self.col_epoch = np.zeros(columns if columns is not None else len(self.col_epoch), dtype=np.int64)

    def stale(self, rows: np.ndarray, tail: int | None = None) -> np.ndarray:
        """[len(rows)] bool: whose kept result must be computed again (every row at or past `tail`)."""
        out = np.empty(len(rows), dtype=bool)
        _stale(rows, len(self.seen) if tail is None else tail, self.seen, self.col_epoch, *self.pattern.args[:3], out)
        return out

    def mark(self, rows: np.ndarray) -> None:
        """`rows` were just computed at the last `prices` (from the pattern as it is now: current for them)."""
        _mark(np.asarray(rows, dtype=np.int64), self.epoch, *self.pattern.args[:3], self.seen)

    def kept(self, rows: np.ndarray, tail: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(out, fresh, places): out[k] = the kept result of rows[k] where it stands (`stale` false), the other
        rows and their places k in `rows` to be computed and handed to `put` (one compiled pass, not a mask,
        a gather and a compress)."""
        n = len(rows)
        out, fresh, places = np.empty(n), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        m = _split(rows, len(self.seen) if tail is None else tail, self.seen, self.values, self.col_epoch,
                   *self.pattern.args[:3], out, fresh, places)
        return out, fresh[:m], places[:m]

    def put(self, values: np.ndarray, fresh: np.ndarray, places: np.ndarray, out: np.ndarray) -> None:
        """`kept`'s answer finished: the fresh rows' results into `out` and kept, the rows marked (`mark`)."""
        _put(values, fresh, places, out, self.values, self.epoch, *self.pattern.args[:3], self.seen)
