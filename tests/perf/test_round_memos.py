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
