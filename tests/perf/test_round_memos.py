"""What the replay loop keeps between rounds and steps gives the numbers a fresh computation gives: each
memo is checked against the fresh value after each event that must end it (a balance change, a price
move), so a memo that outlived its inputs fails here."""

import numpy as np

from backtest.engine.record import bad_debt_usd
from backtest.engine.replay import CandidateDebt
from backtest.engine.state import BookState
from backtest.protocols.rules import rules_for

LT = np.array([0.8, 0.85])


def _book() -> BookState:
    coll = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 5000.0], [1.5, 0.0]])      # ETH, USDC
    debt = np.array([[0.0, 3000.0], [0.0, 1000.0], [0.5, 0.0], [0.0, 2900.0]])
    book = BookState(coll, debt, [rules_for("aave-v3")] * len(coll), np.arange(2))
    book.watch(LT, np.array([2000.0, 1.0]))
    return book


def _fresh(book: BookState, prices: np.ndarray) -> float:
    return bad_debt_usd(book.coll, book.debt, prices)


def test_candidate_debt_is_kept_only_while_the_watchlist_hands_back_the_same_rows():
    book, memo = _book(), CandidateDebt()
    p = np.array([2000.0, 1.0])
    rows = book.candidates(p)
    first = memo(book, rows, p)
    assert first == _fresh(book, p) == 1000.0
    assert book.candidates(p) is rows and memo(book, rows, p) == first           # nothing moved: kept
    book.repay(0, 1, 500.0)                                                       # a balance changed
    rows = book.candidates(p)
    assert memo(book, rows, p) == _fresh(book, p) == 500.0
    p = np.array([1800.0, 1.0])                                                   # a price moved
    rows = book.candidates(p)
    assert memo(book, rows, p) == _fresh(book, p) == 700.0 + 200.0
    book.seize(3, 0, 1.5)                                                         # and another balance
    rows = book.candidates(p)
    assert memo(book, rows, p) == _fresh(book, p) == 700.0 + 2900.0


def _cells_are_the_books(w, rows) -> None:
    at, (indptr, indices, width, values) = w.cells(rows)
    assert at.tolist() == w.slot[rows].tolist()                     # where the current copy holds them
    assert indptr.base is w.near.args[0].base and values.base is w.near.args[3].base   # the current copy
    for k, i in enumerate(rows.tolist()):
        cols = indices[indptr[at[k]]:indptr[at[k]] + width[at[k]]].tolist()
        assert cols == np.flatnonzero((w.coll[i] != 0) | (w.debt[i] != 0)).tolist()
        assert values[indptr[at[k]]:indptr[at[k]] + width[at[k]]].tolist() == \
            [[w.coll[i, a], w.debt[i, a]] for a in cols]


def test_the_watchlist_keeps_a_rows_cells_only_until_an_update_or_an_anchor():
    from backtest.engine.watchlist import Watchlist
    rng = np.random.default_rng(3)
    n = 2000                                                         # ETH and some WBTC against USDC debt
    coll, debt = np.zeros((n, 3)), np.zeros((n, 3))
    coll[:, 0], coll[:, 2] = rng.uniform(0.5, 2.0, n), rng.uniform(0, 0.05, n) * (rng.random(n) < 0.5)
    debt[:, 1] = rng.uniform(100.0, 2500.0, n)
    p = np.array([2000.0, 1.0, 30_000.0])
    w = Watchlist(coll, debt, np.array([0.8, 0.85, 0.7]), p, budget=4)
    rows = w.candidates(p * 0.85)
    assert len(rows) and w.cells(rows) is w.cells(rows)             # kept for the same array
    _cells_are_the_books(w, rows)
    i = int(rows[0])
    coll[i] = 0.0                                                    # a liquidation took everything
    w.update(i)
    _cells_are_the_books(w, rows)
    w.cells(rows)
    far = int(np.flatnonzero(w.slot < 0)[0])                         # a row the copy does not hold yet
    debt[far, 1] *= 0.5
    w.update(far)                                                    # the copy grows (new arrays) ...
    coll[int(rows[1]), 0] *= 0.5
    w.update(int(rows[1]))                                           # ... and follows a candidate there
    _cells_are_the_books(w, rows)
    anchors = w.anchors
    w.candidates(p * 0.3)                                            # a move past the cap: a new anchor
    assert w.anchors > anchors
    _cells_are_the_books(w, rows)


def test_worst_first_orders_as_the_two_key_sort():
    """replay.worst_first's one stable sort by HF gives np.lexsort((row, hf)) of rows given ascending: ties
    (many, and +0.0 against -0.0) by account."""
    from backtest.engine.replay import worst_first
    rng = np.random.default_rng(7)
    rows = np.sort(rng.choice(100_000, 5_000, replace=False))
    hf = rng.choice([0.5, 0.75, 0.0, -0.0, 0.999, 1.0, 1.5, np.nan, np.inf], len(rows)) * \
        np.where(rng.random(len(rows)) < 0.5, 1.0, rng.uniform(0.9, 1.1, len(rows)))
    below, hf_below = worst_first(rows, hf)
    under = hf < 1.0
    order = np.lexsort((rows[under], hf[under]))
    assert below.tolist() == rows[under][order].tolist()
    assert hf_below.tobytes() == hf[under][order].tobytes()
