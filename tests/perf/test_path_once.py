"""What a replay works out once, before its rounds (engine/start.py, the mechanisms' row split), held
to the plain per-row computation it replaced."""

import numpy as np
from hypothesis import given, settings, strategies as st

from backtest.engine.start import _book_rules, book_rules
from backtest.inputs.kept import KEPT
from backtest.protocols.maker_flip.mechanism import first_held
from backtest.protocols.rules import rules_for


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


class _Book:
    """The columns book_rules reads (a class: a namespace cannot be referenced weakly)."""

    def __init__(self, protocol, reserve_protocol):
        self.protocol = np.array(protocol, dtype=object)
        self.reserve_protocol = list(reserve_protocol)
        self.accounts = np.array([f"0x{i}" for i in range(len(protocol))], dtype=object)
        self.liquidation_threshold = np.full(len(reserve_protocol), 0.8)


def _plain(book, whole):
    """start()'s build as it was, row by row."""
    row_rules = [rules_for(p) for p in book.protocol]
    names = sorted(set(book.protocol))
    groups = [(rules_for(p), [i for i, q in enumerate(book.protocol) if q == p],
               list(range(len(book.reserve_protocol))) if whole else
               [c for c, q in enumerate(book.reserve_protocol) if q == p])
              for p in names if rules_for(p).kind == "repay"]
    group_of = [next((g for g, (_, m, _) in enumerate(groups) if i in m), -1) for i in range(len(book.protocol))]
    return row_rules, groups, group_of


def _same_as_plain(got, book, whole):
    row_rules, (distinct, index), groups, group_of = got
    rules, plain_groups, plain_group_of = _plain(book, whole)
    assert row_rules == rules and [distinct[k] for k in index] == rules
    assert [(r, m.tolist(), c.tolist()) for r, m, c in groups] == plain_groups
    assert group_of.tolist() == plain_group_of


PROTOCOLS = ["aave-v2", "aave-v3", "comet", "maker", "compound-v2", "morpho-blue"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(PROTOCOLS), min_size=1, max_size=12),
       st.lists(st.sampled_from(PROTOCOLS), min_size=1, max_size=5), st.booleans())
def test_book_rules_are_the_plain_per_row_build(protocol, reserve_protocol, whole):
    _same_as_plain(_book_rules(_Book(protocol, reserve_protocol), whole), _Book(protocol, reserve_protocol), whole)


def test_book_rules_are_kept_per_book_and_whole_and_not_given_to_another_book():
    a = _Book(["aave-v2", "comet", "aave-v3"], ["aave-v2", "aave-v3", "comet"])
    b = _Book(["aave-v3", "aave-v3", "aave-v2"], ["aave-v2", "aave-v3", "comet"])
    first = book_rules(a, False)
    assert book_rules(a, False) is first                     # the same book: kept
    _same_as_plain(book_rules(a, True), a, True)             # --set protocol: its own groups
    _same_as_plain(book_rules(b, False), b, False)           # another book: its own
    _same_as_plain(book_rules(a, False), a, False)
    key = id(a)
    del a, first
    c = _Book(["maker"], ["maker"])
    _same_as_plain(book_rules(c, False), c, False)           # a dead book's entry goes at the next new book
    assert all(ref() is not None for ref, _ in KEPT.values())
    assert key not in KEPT or KEPT[key][0]() is c
