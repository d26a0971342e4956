"""What a replay works out once, before its rounds (engine/start.py, the mechanisms' row split), held
to the plain per-row computation it replaced."""

import numpy as np
from hypothesis import given, settings, strategies as st

from backtest.protocols.maker_flip.mechanism import first_held


def _first_held_plain(coll, rows, cols, by_col):
    """flip_rows' loop as it was: each row's first held column of `cols` decides."""
    out = np.zeros(len(rows), dtype=bool)
    for k, i in enumerate(rows.tolist()):
        held = [j for j, c in enumerate(cols) if coll[i, c] > 0]
        out[k] = bool(held) and by_col[held[0]]
    return out


CELL = st.sampled_from([0.0, -1.0, 2.5, 1e-300, np.nan, np.inf, -0.0])


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6), st.integers(0, 8), st.data())
def test_first_held_is_the_plain_per_row_loop(n_cols, n_rows, data):
    coll = np.array(data.draw(st.lists(st.lists(CELL, min_size=n_cols, max_size=n_cols), min_size=n_rows + 1,
                                       max_size=n_rows + 1)))
    cols = data.draw(st.lists(st.integers(0, n_cols - 1), unique=True, max_size=n_cols))
    by_col = np.array(data.draw(st.lists(st.booleans(), min_size=len(cols), max_size=len(cols))), dtype=bool)
    rows = np.array(data.draw(st.lists(st.integers(0, n_rows), max_size=n_rows + 1)), dtype=np.int64)
    got = first_held(coll, rows, cols, by_col)
    assert got.dtype == bool and got.tolist() == _first_held_plain(coll, rows, cols, by_col).tolist()


def test_the_first_held_column_decides_not_any_held_column():
    coll = np.array([[0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [np.nan, 0.0, 0.0]])
    got = first_held(coll, np.array([0, 1, 2]), [0, 1, 2], np.array([True, False, True]))
    assert got.tolist() == [False, True, False]

