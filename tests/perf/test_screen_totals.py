"""Prescreen._totals' rows pass compiled (agents/screen_totals.py) is the numpy it replaced: the Aave v3.3 rows
(kinds 2), each one stale when its kept counter is not the row's or a column it owes in (debt != 0, NaN
included) moved at a later generation than its kept total, the kept totals copied out and 0.0 elsewhere."""

import struct

import numpy as np
from hypothesis import given, settings, strategies as st

from backtest.agents.screen_totals import kept_totals, stamp_moves


def _plain(rows, kinds, versions, debt, moved_at, total_at, totals):
    """Prescreen._totals as it was in numpy (before its dots): (total, stale positions)."""
    total = np.zeros(len(rows))
    two = np.flatnonzero(kinds[rows] == 2)
    at = rows[two]
    read = np.where(debt[at] != 0, moved_at, 0).max(axis=1)
    stale = (total_at[0, at] != versions[at]) | (total_at[1, at] < read)
    total[two] = totals[at]
    return total, two[stale]


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), columns=st.integers(1, 6))
def test_the_compiled_pass_is_the_numpy_one(seed, n, columns):
    rng = np.random.default_rng(seed)
    kinds = rng.choice([-1, 0, 1, 2, 2], n).astype(np.int64)
    debt = rng.choice([0.0, -0.0, 5.0, np.nan, 1e-300], (n, columns))
    versions = rng.integers(0, 3, n).astype(np.int64)
    moved_at = rng.integers(0, 5, columns).astype(np.int64)
    total_at = np.stack([rng.integers(-1, 3, n), rng.integers(-1, 5, n)]).astype(np.int64)
    totals = rng.choice([0.0, -0.0, 7.5, np.nan, 1e9], n)
    rows = rng.permutation(n)[:rng.integers(1, n + 1)].astype(np.int64)
    total, stale = np.full(len(rows), -9.0), np.full(n, -1, dtype=np.int64)
    got = kept_totals(rows, kinds, versions, debt, moved_at, total_at, totals, total, stale)
    want_total, want_stale = _plain(rows, kinds, versions, debt, moved_at, total_at, totals)
    assert total.tobytes() == want_total.tobytes()
    assert stale[:got].tolist() == want_stale.tolist()


def test_a_nan_cell_reads_its_columns_move():
    # NaN != 0: a row holding NaN in a column owes in it, as np.where(debt != 0, ...) reads it
    rows, kinds, versions = np.array([0]), np.array([2]), np.array([0])
    debt, moved_at, total_at = np.array([[np.nan, 0.0]]), np.array([3, 9]), np.array([[0], [2]])
    total, stale = np.empty(1), np.empty(1, dtype=np.int64)
    assert kept_totals(rows, kinds, versions, debt, moved_at, total_at, np.array([1.0]), total, stale) == 1


def _plain_stamp(price, key, gen, clean_before, moved_at):
    """Prescreen._totals' price step as it was in numpy: (the new key, generation, clean)."""
    new = price.tobytes()
    if new == key:
        return key, gen, clean_before
    clean = bool(np.isfinite(price).all() and (price > 0).all())
    if not (clean and clean_before):
        moved_at[:] = gen + 1
    else:
        moved_at[np.frombuffer(key, dtype=np.int64) != np.frombuffer(new, dtype=np.int64)] = gen + 1
    return new, gen + 1, clean


QUIET = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]       # a NaN of other bits than np.nan's


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), columns=st.integers(1, 6), steps=st.integers(1, 12))
def test_the_compiled_price_step_is_the_numpy_one(seed, columns, steps):
    # bits, not values: 0.0 and -0.0 differ, two NaNs of other payloads differ, the same NaN does not
    rng = np.random.default_rng(seed)
    values = np.array([1.0, 2.0, 0.0, -0.0, np.nan, QUIET, np.inf, -3.0, 1e-300])
    price = rng.choice(values[:2], columns)
    key, gen, clean = price.tobytes(), 1, True
    want_at, got_at, last = np.zeros(columns, dtype=np.int64), np.zeros(columns, dtype=np.int64), price.copy()
    for _ in range(steps):
        price = price.copy()
        for c in rng.choice(columns, rng.integers(0, columns + 1), replace=False):
            price[c] = rng.choice(values)
        moved, got_clean = stamp_moves(price, last, clean, got_at, gen + 1)
        key, want_gen, want_clean = _plain_stamp(price, key, gen, clean, want_at)
        assert moved == (want_gen != gen) and got_clean == want_clean
        assert got_at.tolist() == want_at.tolist() and last.tobytes() == price.tobytes()
        gen, clean = want_gen, want_clean
