"""The book state is the one writer of collateral and debt: its named methods change the cells as the
protocols do, mark the rows they touched, and the watchlist hears of those rows when the loop next
asks for candidates; a write from anywhere else raises."""

import numpy as np
import pytest

from backtest.engine.state import BookState
from backtest.protocols.rules import rules_for


def book(coll, debt, protocol="aave-v3"):
    return BookState(np.array(coll, dtype=float), np.array(debt, dtype=float), [rules_for(protocol)] * len(coll),
                     np.arange(np.shape(coll)[1]))


def test_repay_and_seize_stop_at_zero_and_mark_the_row():
    s = book([[2.0, 0.0], [1.0, 0.0]], [[0.0, 1000.0], [0.0, 500.0]])
    s.repay(0, 1, 400.0)
    s.seize(0, 0, 0.5)
    s.repay(1, 1, 600.0)                     # more than owed: the cell goes to 0, not below
    s.seize(1, 0, 1.5)
    assert s.debt.tolist() == [[0.0, 600.0], [0.0, 0.0]]
    assert s.coll.tolist() == [[1.5, 0.0], [0.0, 0.0]]
    assert s.touched() == [0, 0, 1, 1] and s.touched() == []


def test_a_deficit_is_burned_only_when_no_collateral_is_left():
    s = book([[0.0, 0.0], [0.1, 0.0]], [[1.0, 300.0], [0.0, 300.0]], "aave-v3.3")
    price = np.array([2000.0, 1.0])
    assert s.burn_deficit(1, price) == 0.0 and s.debt[1].tolist() == [0.0, 300.0]   # still holds collateral
    assert s.burn_deficit(0, price) == 2300.0 and not s.debt[0].any()
    assert s.burn_deficit(0, price) == 0.0                                          # nothing left to burn
    assert s.touched() == [0]


def test_absorb_and_grab_change_what_comet_and_maker_change():
    # Comet: reserves 0 (WETH), 1 (USDC base). The account's collateral and base supply go, its debt is erased.
    s = book([[3.0, 50.0]], [[0.0, 4000.0]], "comet")
    s.absorb(0, [0], 1)
    assert not s.coll.any() and not s.debt.any() and s.touched() == [0]
    # Maker: a partial bark takes 2 of 5 WETH and 3,000 of 8,000 DAI from the vault.
    m = book([[5.0, 0.0]], [[0.0, 8000.0]], "maker")
    m.grab(0, 0, 2.0, 1, 3000.0)
    assert m.coll.tolist() == [[3.0, 0.0]] and m.debt.tolist() == [[0.0, 5000.0]] and m.touched() == [0, 0]


def test_the_arrays_can_be_changed_only_through_the_state():
    s = book([[1.0, 0.0]], [[0.0, 1000.0]])
    with pytest.raises(ValueError, match="read-only"):
        s.coll[0, 0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        s.debt[0] -= 1.0
    assert s.coll[0, 0] == 1.0 and s.debt[0, 1] == 1000.0


def test_the_watchlist_hears_of_touched_rows_when_candidates_are_asked():
    # Two accounts at HF 1.2 (1 ETH at 2,000, LT 0.8, 1,333.33 USDC). Prices stay put, so without being
    # told the watchlist would return the same (empty) answer; a seize on row 1 makes it liquidatable.
    s = book([[1.0, 0.0], [1.0, 0.0]], [[0.0, 1333.33], [0.0, 1333.33]])
    lt, prices = np.array([0.8, 0.8]), np.array([2000.0, 1.0])
    s.watch(lt, prices)
    first = s.candidates(prices)
    assert first.tolist() == [] and s.candidates(prices) is first          # nothing moved: the same array
    s.seize(1, 0, 0.5)                                                     # HF 0.6
    assert s.candidates(prices).tolist() == [1]
    assert s.touched() == []                                               # the log went to the watchlist


def test_per_row_rules_come_from_one_lookup_per_protocol():
    """start._row_rules and BookState.per_rules: each row gets its own protocol's Rules and flags, the same
    as a lookup row by row, whether the distinct rules are passed in or found from the rows."""
    from backtest.engine.start import _row_rules
    protocol = np.array(["spark", "aave-v3", "compound-v2", "aave-v3", "spark", "aave-v3.3"], dtype=object)
    rules = {p: rules_for(p) for p in sorted(set(protocol))}
    row_rules, rule_of = _row_rules(protocol, rules)
    assert [r is rules[p] for r, p in zip(row_rules, protocol)] == [True] * len(protocol)
    coll = np.ones((len(protocol), 2))
    given = BookState(coll.copy(), coll.copy(), row_rules, np.arange(2), rule_of)
    found = BookState(coll.copy(), coll.copy(), row_rules, np.arange(2))
    for s in (given, found):
        assert s.floors.tolist() == [r.floors_average_lt for r in row_rules]
        assert s.per_rules(lambda r: r.name).tolist() == [r.name for r in row_rules]
        assert s.per_rules(lambda r: r.kind).tolist() == [r.kind for r in row_rules]
    assert len(found.distinct) == len(set(protocol))
