"""Which accounts can be below HF 1 at these prices, without computing every account's HF.

An Aave account is liquidatable iff  avgLT_bps/1e4 * Σ_a c_a p_a  <  Σ_a d_a p_a, where the
value-weighted average LT is floored to whole bps (aave/aave-v3-core,
GenericLogic.calculateUserAccountData). The floor costs at most 1 bps, so

    HF < 1   implies   m(p) = Σ_a (c_a (LT_a - 1e-4) - d_a) p_a  <  0,

a margin linear in the prices. Write p = p0 (1 + r) for anchor prices p0. With
u_a = (c_a (LT_a - 1e-4) - d_a) p0_a and S = Σ_a |u_a|,  m(p) >= m(p0) - S max_a |r_a|, so an
account cannot be liquidatable until the largest relative price move since the anchor
exceeds rho = m(p0) / S. Accounts are kept sorted by rho: a step looks only at the prefix
whose rho the move has crossed (a binary search), checks their exact margin, and returns
them. When the prefix grows past a budget the anchor moves to the current prices (O(N), one
compiled pass over the book) and the prefix shrinks to the accounts that are really close.

Rows changed by a liquidation are kept in a small "dirty" set, always examined, until the
next re-anchor. The returned set is a superset of {HF < 1} (tests/perf check it against
the brute force); the caller computes the exact HF on it.

Each margin reads only the row's nonzero cells, packed (engine/pattern.py), the same bits as the
dense loop (`_margins_dense`, tests/perf/test_row_kernels.py), which still runs where a price is
not finite. On the shipped sample's main job (3 replays, 10.5M row margins) the margins went from
2.04 to 0.53 CPU s (load ~2.8): the rows are scattered, so memory, not arithmetic, was most of it.
Keeping a row's margin between calls (as health.RowHealth keeps HFs) was tried and cost as much
as it saved (0.91 vs 0.84 CPU s).
"""

from __future__ import annotations

import numpy as np

from backtest.engine.pattern import Copy, Pattern, _copy
from backtest.engine.worst import stable_argsort
from backtest.errors import InputError

FLOOR = 1e-4        # the bps floor of the average LT can lower it by at most this
SLACK = 1e-9        # relative float error allowed for (far above the ~1e-15 of the HF sum)


def _margins_dense(coll, debt, rows, wp, awp, p, margin, scale):
    """margin = Σ c (w p) - Σ d p and scale = Σ c (|w| p) + Σ d p of `rows` (all rows if `rows` is
    None), one pass over each row's every column: the reference `_margins` is held to."""
    for k in range(len(margin)):
        i = k if rows is None else rows[k]
        owed = 0.0
        held = 0.0
        spread = 0.0
        for a in range(len(p)):
            owed += debt[i, a] * p[a]
            held += coll[i, a] * wp[a]
            spread += coll[i, a] * awp[a]
        margin[k] = held - owed
        scale[k] = spread + owed


def _finite(p, wp, awp):
    for a in range(len(p)):
        if not (np.isfinite(p[a]) and np.isfinite(wp[a]) and np.isfinite(awp[a])):
            return False
    return True


def _margins(coll, debt, rows, at, wp, awp, p, indptr, indices, width, values, margin, scale):
    """_margins_dense over each row's nonzero columns only, read from the pattern's packed `values`
    (engine/pattern.py), the same bits: the columns left out add ±0.0. Any non-finite factor, or a
    row read whole (width -1): every column of the live arrays. Row k's slot is at[k] of the pattern
    arrays (a pattern.Copy of `rows`), or its book row if `at` is None."""
    if not _finite(p, wp, awp):
        _margins_dense(coll, debt, rows, wp, awp, p, margin, scale)
        return
    for k in range(len(margin)):
        i = k if rows is None else rows[k]
        h = i if at is None else at[k]
        if width[h] < 0:
            _margins_dense(coll[i:i + 1], debt[i:i + 1], None, wp, awp, p, margin[k:k + 1], scale[k:k + 1])
            continue
        owed = 0.0
        held = 0.0
        spread = 0.0
        for j in range(indptr[h], indptr[h] + width[h]):
            a = indices[j]
            owed += values[j, 1] * p[a]
            held += values[j, 0] * wp[a]
            spread += values[j, 0] * awp[a]
        margin[k] = held - owed
        scale[k] = spread + owed


def _margins_numpy(coll, debt, rows, at, wp, awp, p, indptr, indices, width, values, margin, scale):
    c, d = (coll, debt) if rows is None else (coll[rows], debt[rows])
    owed = d @ p
    margin[:] = c @ wp - owed
    scale[:] = c @ awp + owed


def _follow_touched(rows, slot, dirty, indptr, indices, width, values, to_indptr, to_indices, to_width, to_values,
                    fresh, new):
    """Watchlist.update past the pattern's refresh, in one pass over the touched rows (repeats and all): each
    row the copy holds copied into its slot again (pattern._copy), each row it does not listed in `new`
    (repeats kept), each row not yet dirty marked and listed once in `fresh`. Returns (how many fresh, how
    many new)."""
    held, at = np.empty(len(rows), dtype=np.int64), np.empty(len(rows), dtype=np.int64)
    n_held = n_fresh = n_new = 0
    for k in range(len(rows)):
        i = rows[k]
        if slot[i] >= 0:
            held[n_held], at[n_held] = i, slot[i]
            n_held += 1
        else:
            new[n_new] = i
            n_new += 1
        if not dirty[i]:
            dirty[i] = True
            fresh[n_fresh] = i
            n_fresh += 1
    _copy(held[:n_held], at[:n_held], indptr, indices, width, values, to_indptr, to_indices, to_width, to_values)
    return n_fresh, n_new


def _rho_of(margin, scale):
    return (margin - SLACK * scale) / (scale * (1.0 + SLACK)) if scale > 0 else -np.inf


def _rhos(coll, debt, wp, awp, p, indptr, indices, width, values, borrower, rho):
    """rho of every row (see the module docstring): -inf for a borrower with nothing priced, +inf for
    a row without debt. Returns how many rows have rho <= 0. Margins as `_margins`."""
    margin, scale = np.empty(len(rho)), np.empty(len(rho))
    _margins(coll, debt, None, None, wp, awp, p, indptr, indices, width, values, margin, scale)
    return _rhos_of(margin, scale, borrower, rho)


def _rhos_of(margin, scale, borrower, rho):
    below = 0
    for i in range(len(rho)):
        rho[i] = _rho_of(margin[i], scale[i]) if borrower[i] else np.inf
        if rho[i] <= 0:
            below += 1
    return below


def _rhos_dense(coll, debt, wp, awp, p, borrower, rho):
    """_rhos over every column of every row: the reference it is held to."""
    margin, scale = np.empty(len(rho)), np.empty(len(rho))
    _margins_dense(coll, debt, None, wp, awp, p, margin, scale)
    return _rhos_of(margin, scale, borrower, rho)


def _rhos_numpy(coll, debt, wp, awp, p, indptr, indices, width, values, borrower, rho):
    n = len(rho)
    margin, scale = np.empty(n), np.empty(n)
    _margins_numpy(coll, debt, None, None, wp, awp, p, indptr, indices, width, values, margin, scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho[:] = (margin - SLACK * scale) / (scale * (1.0 + SLACK))
    rho[~(scale > 0)] = -np.inf
    rho[~borrower] = np.inf
    return int(np.count_nonzero(rho <= 0))


def _select(order, k, extra, rank, slot, coll, debt, wp, awp, p, borrower, near_indptr, near_indices, near_width,
            near_values, indptr, indices, width, values, out):
    """Watchlist.candidates' pool (order[:k], then each of `extra` not ranked in it), its `_margins` (from the
    copy `near`, slot u for order[u]; from the book's pattern if a row of `extra` has no slot there) and the
    rows that may be below 1 into `out`, in pool order. Returns (how many, the pool's size)."""
    m = k
    for j in range(len(extra)):
        if rank[extra[j]] >= k:
            m += 1
    rows, at = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
    held = True
    for u in range(k):
        rows[u], at[u] = order[u], u
    u = k
    for j in range(len(extra)):
        i = extra[j]
        if rank[i] >= k:
            rows[u], at[u] = i, slot[i]
            held = held and slot[i] >= 0
            u += 1
    margin, scale = np.empty(m), np.empty(m)
    if held:
        _margins(coll, debt, rows, at, wp, awp, p, near_indptr, near_indices, near_width, near_values, margin, scale)
    else:
        _margins(coll, debt, rows, rows, wp, awp, p, indptr, indices, width, values, margin, scale)
    n = 0
    for u in range(m):
        if margin[u] < SLACK * scale[u] and borrower[rows[u]]:
            out[n] = rows[u]
            n += 1
    return n, m


try:                                    # numba where installed; the numpy versions do the same without
    import numba
    _jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    _finite, _rho_of, _rhos_of = _jit(_finite), _jit(_rho_of), _jit(_rhos_of)
    _margins_dense, _margins = numba.njit(cache=True, nogil=True)(_margins_dense), _jit(_margins)
    _rhos_dense, _rhos = _jit(_rhos_dense), _jit(_rhos)
    _follow_touched = numba.njit(cache=True, nogil=True)(_follow_touched)
    _select = _jit(_select)
except ImportError:                     # pragma: no cover - exercised where numba is absent
    _margins, _rhos, _select = _margins_numpy, _rhos_numpy, None


class Watchlist:
    """Candidate finder over a live book.

    `coll`, `debt` are the engine's own [N, C] arrays (not copied): after changing rows,
    call `update(rows)`. `lt` is [C]; `prices` [C] are the first anchor.
    """

    def __init__(self, coll: np.ndarray, debt: np.ndarray, lt: np.ndarray, prices: np.ndarray,
                 budget: int | None = None):
        lt = np.asarray(lt, dtype=float)
        if ((lt < 0) | (lt > 1)).any():
            raise InputError("liquidation_threshold must be within [0, 1]", column="liquidation_threshold")
        if coll.shape != debt.shape or coll.shape[1:] != lt.shape:
            raise ValueError(f"shapes differ: collateral {coll.shape}, debt {debt.shape}, lt {lt.shape}")
        self.coll, self.debt = coll, debt
        self.weight = lt - FLOOR                          # may be -1e-4 for LT 0: still a valid bound
        self.borrower = (debt > 0).any(axis=1)            # liquidations only repay: never grows
        self.pattern = Pattern(coll, debt)                # each row's nonzero columns: what the kernels read
        n = len(coll)
        self.budget = budget if budget is not None else max(1024, n // 128)
        self.dirty = np.zeros(n, dtype=bool)
        self.dirty_rows: list[int] = []
        self._abs_weight = np.abs(self.weight)
        self.rank = np.full(n, n, dtype=np.int64)          # position in `order`, n if not kept
        self.slot = np.full(n, -1, dtype=np.int64)         # slot in `near` (pattern.Copy), -1 if none
        self.near = None
        self._ranked = np.zeros(0, dtype=np.int64)
        self._last = None
        self._cells = None            # (rows, cells(rows)) while no row changed and the anchor stood
        self.anchors = 0              # how many times the anchor moved
        self.examined = 0             # rows whose margin the last call computed
        self._anchor(np.asarray(prices, dtype=float))

    # ------------------------------------------------------------------ public

    def candidates(self, prices: np.ndarray) -> np.ndarray:
        """Sorted row indices that may have HF < 1 at `prices` (every row that does, and a few more).

        While the prices are equal to the last call's and no row was updated, the very same
        array object is returned: callers may key a cache on its identity.
        """
        prices = np.asarray(prices, dtype=float)
        key = prices.tobytes()
        if self._last is not None and key == self._last[0]:
            return self._last[1]                          # nothing moved, no row changed (same bits)
        move = self._move(prices)
        k = int(np.searchsorted(self.rho, move, side="right"))
        if move >= self.cap or k + len(self.dirty_rows) > self.limit:
            self._anchor(prices)
            k = int(np.searchsorted(self.rho, 0.0, side="right"))
        pool = self.order[:k]
        extra = self._dirty_array() if self.dirty_rows else pool[:0]
        if _select is not None:                            # the pool, its margins and the test in one call
            got = np.empty(k + len(extra), dtype=np.int64)
            n, self.examined = _select(self.order, k, extra, self.rank, self.slot, self.coll, self.debt,
                                       self.weight * prices, self._abs_weight * prices, prices, self.borrower,
                                       *self.near.args, *self.pattern.args, got)
            pool = self._ascending(got[:n])
        else:
            pool = np.concatenate([pool, extra[self.rank[extra] >= k]])     # not already in the prefix
            self.examined = len(pool)
            if len(pool):
                pool = self._ascending(pool[self._maybe_below(pool, k, prices)])
        self._last = (key, pool)
        return pool

    def update(self, rows) -> None:
        """Rows whose collateral or debt changed: examined every call until the next re-anchor."""
        self._last = self._cells = None
        rows = np.asarray([rows] if type(rows) is int else rows, dtype=np.int64).reshape(-1)   # once, not per use
        self.pattern.refresh(rows)
        fresh, new = np.empty(len(rows), dtype=np.int64), np.empty(len(rows), dtype=np.int64)
        n_fresh, n_new = _follow_touched(rows, self.slot, self.dirty, *self.pattern.args, *self.near.args, fresh, new)
        if n_new:                                          # the copy followed its rows; it takes in every other
            new = np.unique(new[:n_new])
            self.slot[new] = np.arange(self.near.count, self.near.count + len(new))
            self.near.append(new)
        self.dirty_rows.extend(np.sort(fresh[:n_fresh]).tolist())   # as np.unique gave them: `candidates` sorts

    # ------------------------------------------------------------------ internals

    def cells(self, rows: np.ndarray) -> tuple[np.ndarray, tuple]:
        """(where each of `rows` has its pattern slot, the arrays holding them): the copy `near` (the first
        `limit` rows of the kept order back to back in rho order, then every row changed since the anchor:
        every candidate), or
        the book's pattern if a row is not in it. Kernels over candidate rows read the copy, not slots
        scattered over the book: on the 1M bench the margins went 1.35 -> 0.25 CPU s (load ~3). The answer
        for the copy is kept for the same `rows` array (unchanged in place: the loop's `below`) until an
        update or an anchor moves slots (tests/perf/test_round_memos.py)."""
        if self._cells is not None and self._cells[0] is rows:
            return self._cells[1]                 # the same array since the last update or anchor (`update`)
        at = self.slot[rows]
        if len(at) and at.min() < 0:
            return rows, self.pattern.args
        got = at, self.near.args
        self._cells = (rows, got)
        return got

    @staticmethod
    def _ascending(rows: np.ndarray) -> np.ndarray:
        """np.sort of distinct `rows`. Marking them in a book-sized mask and reading it back
        (np.flatnonzero) was tried: numpy 2's vectorised sort is as fast or faster at every size seen
        (the sample's Monte Carlo rounds, ~2,500 of 55,250 rows: 0.061 -> 0.020 CPU s a path, in situ;
        10,000 rows, 4,200 kept: 11.6 vs 10.2 us; 1M rows, 1,500 kept: 118 vs 3.4 us)."""
        return np.sort(rows)

    def _dirty_array(self) -> np.ndarray:
        """dirty_rows as an array, extended by the rows added since the last call (the list only grows
        between anchors): not the whole list converted again every round."""
        got = self._dirty
        if len(got) < len(self.dirty_rows):
            got = self._dirty = np.concatenate([got, np.asarray(self.dirty_rows[len(got):], dtype=np.int64)])
        return got

    def _maybe_below(self, rows: np.ndarray, k: int, prices: np.ndarray) -> np.ndarray:
        """rows[:k] are the kept order's first k, slots 0..k-1 of the copy (no lookup)."""
        margin, scale = np.empty(len(rows)), np.empty(len(rows))
        extra = self.slot[rows[k:]]
        if len(extra) and extra.min() < 0:                 # a row the copy does not hold: the book's pattern
            at, cells = rows, self.pattern.args
        else:
            at, cells = np.concatenate([np.arange(k), extra]), self.near.args
        _margins(self.coll, self.debt, rows, at, self.weight * prices, self._abs_weight * prices, prices, *cells,
                 margin, scale)
        return (margin < SLACK * scale) & self.borrower[rows]

    def _move(self, prices: np.ndarray) -> float:
        """Largest relative price move since the anchor (inf if an anchor price was 0 or a price is NaN)."""
        if not prices.size:
            return 0.0
        if self._degenerate:
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.where(prices == self.p0, 0.0, np.abs(prices / self.p0 - 1.0))
        else:
            rel = np.abs(prices * self._inv_p0 - 1.0)
        move = float(rel.max())
        return move if move == move else np.inf

    @staticmethod
    def _nearest(rho: np.ndarray, keep: int) -> tuple[np.ndarray, float]:
        """About `keep` rows of smallest rho, and a cap: every row left out has rho >= cap.

        The cap is a quantile of a strided sample of 16-32k rows (O(N) to apply, no full sort or
        partition; a 55,250-row book's partition 640 -> 170 us an anchor, the sample's Monte Carlo path
        ~54 anchors). Any cap keeps the candidates the same: rows left out have rho >= cap.
        """
        n = len(rho)
        if keep >= n:
            return np.flatnonzero(rho < np.inf), np.inf
        stride = max(1, n // 16_384)
        sample = rho[::stride]
        j = min(len(sample) - 1, keep // stride)
        cap = float(np.partition(sample, j)[j])
        if not cap > 0:                                   # most of the book is under water
            positive = rho[rho > 0]
            cap = float(positive.min()) if len(positive) else np.inf
        return np.flatnonzero(rho < cap), cap

    def _anchor(self, prices: np.ndarray) -> None:
        """rho per borrower at `prices`; keep the closest few thousand sorted, the rest beyond `cap`."""
        self.p0 = prices.copy()
        self._degenerate = not (np.isfinite(prices).all() and (prices > 0).all())
        self._inv_p0 = None if self._degenerate else 1.0 / prices
        self._last = self._cells = None
        self.anchors += 1
        rho = np.empty(len(self.coll))
        # rho = -inf for a borrower with nothing priced (always look); +inf without debt (HF is
        # +inf whatever the prices)
        below = int(_rhos(self.coll, self.debt, self.weight * prices, self._abs_weight * prices, prices,
                          *self.pattern.args, self.borrower, rho))
        self.limit = self.budget + 2 * below
        near, self.cap = self._nearest(rho, 2 * self.limit)
        near = near[stable_argsort(rho[near])]            # no NaN: `near` is rho < cap
        self.order, self.rho = near.astype(np.int64), rho[near]
        if self.near is not None:
            self.slot[self.near.rows] = -1                 # forget the old copy's slots, O(kept) not O(N)
        held = self.order[:self.limit]                    # a prefix `_select` reads is at most `limit` long
        self.near = Copy(self.pattern, held)              # their slots in this order (the rest: when updated)
        self.slot[held] = np.arange(len(held))
        self.rank[self._ranked] = len(self.rank)          # forget the old order, O(kept) not O(N)
        self.rank[near] = np.arange(len(near))
        self._ranked = near
        self.dirty[self.dirty_rows] = False
        self.dirty_rows = []
        self._dirty = np.zeros(0, dtype=np.int64)
