"""The rows below HF 1 of a round, worst first, then by account: the order every protocol hands its rows to
the liquidators in (replay.py). `worst_first` sorts them; `WorstFirst` keeps the last order and sorts only
what moved. Both give np.lexsort((rows, hf)) of the rows below 1 (tests/perf/test_round_memos.py)."""

from __future__ import annotations

import numpy as np

from backtest import compiled


def worst_first(rows: np.ndarray, hf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows below HF 1 and their HF, worst first, then by account (`rows` ascending, as the watchlist
    gives them): np.lexsort((below, hf)), by stable_argsort of their HFs. Compiled: one pass that picks the
    rows below 1, then numpy's stable argsort (the same order; numba's mergesort took ~1.2x as long on
    the sample's Monte Carlo rounds, ~2,600 rows)."""
    if compiled.ON and _below is not None:
        below, hf_below = _below(rows, np.asarray(hf, dtype=float))
        order = np.argsort(hf_below, kind="stable")
        return below[order], hf_below[order]
    under = hf < 1.0
    below, hf_below = rows[under], hf[under]
    order = stable_argsort(hf_below)
    return below[order], hf_below[order]


_TIE_RUNS = 32          # runs of equal keys stable_argsort sorts one by one (the sample: ~16 rows in ties a round)


def stable_argsort(keys: np.ndarray) -> np.ndarray:
    """np.argsort(keys, kind="stable") of keys without NaN: numpy's default sort (a third to a half of a
    stable one's time on a few thousand floats), then each run of equal keys (+0.0 and -0.0 among them)
    put back in position order, as a stable sort leaves it; with more than a few dozen runs, the stable
    sort itself."""
    order = np.argsort(keys)
    ties = np.flatnonzero(np.diff(np.concatenate(([False], keys[order[1:]] == keys[order[:-1]], [False]))))
    if len(ties) > 2 * _TIE_RUNS:
        return np.argsort(keys, kind="stable")
    for start, end in zip(ties[0::2].tolist(), ties[1::2].tolist()):     # order[start:end + 1] tie
        order[start:end + 1] = np.sort(order[start:end + 1])
    return order


def _below(rows, hf):
    """(rows[hf < 1], hf[hf < 1]) in one pass."""
    n = 0
    for k in range(len(hf)):
        if hf[k] < 1.0:
            n += 1
    below, hf_below = np.empty(n, dtype=rows.dtype), np.empty(n)
    j = 0
    for k in range(len(hf)):
        if hf[k] < 1.0:
            below[j], hf_below[j] = rows[k], hf[k]
            j += 1
    return below, hf_below


class WorstFirst:
    """worst_first with its last answer kept: from one round to the next most rows below 1 are the same
    with the same HF (RowHealth keeps it), so they keep their order; only the rows new below 1 or whose HF
    moved are sorted (numpy's default sort of those few, ties put back in place order: numba's mergesort of
    them took ~47 of the call's ~67 us on the sample's Monte Carlo rounds), then merged in. The order is the
    same: by HF, ties by position in `rows` (rows ascending: by account), which both answers hold to
    (np.lexsort((rows, hf)) of a strictly ascending `rows`). Rows not strictly ascending, or the Python path: worst_first."""

    def __init__(self, n: int):
        self.at = np.full(n, -1, dtype=np.int64)       # scratch: each book row's place in `rows`, -1 between calls
        self.last = (np.zeros(0, dtype=np.int64), np.zeros(0))

    def __call__(self, rows: np.ndarray, hf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not (compiled.ON and _merged is not None and rows.dtype == np.int64):
            return worst_first(rows, hf)
        hf = np.asarray(hf, dtype=float)
        kept, fresh, hf_fresh = _split(rows, hf, *self.last, self.at)
        if len(kept) and kept[0] < 0:                  # rows not strictly ascending
            got = worst_first(rows, hf)
        else:                                          # numpy's default sort: _merged puts ties back in place
            got = _merged(rows, hf, kept, fresh, np.argsort(hf_fresh))
        self.last = got
        return got


def _split(rows, hf, last_rows, last_hf, at):
    """The rows below 1 of (rows, hf) as (kept: their places in `rows` in the last answer's order (last_rows,
    last_hf), those still below 1 with the same HF; fresh: the others' places, ascending; their HFs). kept =
    [-1] if rows are not strictly ascending. `at` is left all -1."""
    for k in range(1, len(rows)):
        if not rows[k - 1] < rows[k]:
            return np.full(1, -1, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0)
    n = 0
    for k in range(len(hf)):
        if hf[k] < 1.0:
            at[rows[k]] = k
            n += 1
    kept, used, m = np.empty(min(n, len(last_rows)), dtype=np.int64), np.zeros(len(hf), dtype=np.bool_), 0
    for j in range(len(last_rows)):
        i = last_rows[j]
        k = at[i] if 0 <= i < len(at) else -1
        if k >= 0 and hf[k] == last_hf[j]:
            kept[m] = k
            used[k] = True
            m += 1
    fresh, hf_fresh, f = np.empty(n - m, dtype=np.int64), np.empty(n - m), 0
    for k in range(len(hf)):
        if hf[k] < 1.0:
            at[rows[k]] = -1
            if not used[k]:
                fresh[f], hf_fresh[f] = k, hf[k]
                f += 1
    return kept[:m], fresh, hf_fresh


def _merged(rows, hf, kept, fresh, order):
    """worst_first(rows, hf) from _split's kept and fresh places: `order` sorts the fresh HFs (any sort, e.g.
    numpy's default one), each run of equal HFs (+0.0 and -0.0 alike) is put back in place order (a stable
    sort's), then the two are merged by (HF, place in rows)."""
    f, m = len(fresh), len(kept)
    s = 0
    for j in range(1, f + 1):                          # runs of ties: order[s:j]
        if j == f or hf[fresh[order[j]]] != hf[fresh[order[s]]]:
            if j - s > 1:
                order[s:j] = np.sort(order[s:j])
            s = j
    below, hf_below = np.empty(m + f, dtype=rows.dtype), np.empty(m + f)
    a, b, u = 0, 0, 0
    for o in range(m + f):
        if b < f:
            u = fresh[order[b]]
        if b >= f or (a < m and (hf[kept[a]] < hf[u] or (hf[kept[a]] == hf[u] and kept[a] < u))):
            k = kept[a]
            a += 1
        else:
            k = u
            b += 1
        below[o], hf_below[o] = rows[k], hf[k]
    return below, hf_below


try:
    import numba
    _below = numba.njit(cache=True, nogil=True)(_below)
    _split = numba.njit(cache=True, nogil=True)(_split)
    _merged = numba.njit(cache=True, nogil=True)(_merged)
except ImportError:                     # pragma: no cover - exercised where numba is absent
    _below = _split = _merged = None
