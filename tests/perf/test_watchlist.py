"""The watchlist never misses an account below HF 1, and skips the safe ones."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backtest.engine.record import bad_debt_by_account
from backtest.protocols.rules import health_factor
from backtest.engine.watchlist import Watchlist
from backtest.errors import InputError


def brute_force_below(coll, debt, lt, prices, floors=None):
    floors = np.ones(len(coll), dtype=bool) if floors is None else floors
    return np.flatnonzero(health_factor(coll * prices, debt * prices, lt, floors) < 1.0)


def test_one_account_becomes_a_candidate_only_when_its_threshold_is_crossed():
    # 1 ETH collateral (LT 0.80) against 1,500 USDC debt, ETH at 2,000: HF = 2000*0.8/1500 = 1.0667.
    coll, debt = np.array([[1.0, 0.0]]), np.array([[0.0, 1500.0]])
    watch = Watchlist(coll, debt, np.array([0.80, 0.75]), np.array([2000.0, 1.0]))
    # Bound: m0 = 2000*(0.80-0.0001) - 1500 = 99.8; S = 1599.8 + 1500 = 3099.8; rho = 0.0322.
    assert watch.rho[0] == pytest.approx(99.8 / 3099.8, rel=1e-6)
    # ETH -3% (1,940): HF = 1940*0.8/1500 = 1.0347, and the move 0.03 < rho: not even looked at.
    assert watch.candidates(np.array([1940.0, 1.0])).tolist() == []
    # ETH -5% (1,900): the move passes rho, but the margin 1900*0.7999 - 1500 = 19.8 > 0: HF 1.0133.
    assert watch.candidates(np.array([1900.0, 1.0])).tolist() == []
    # ETH -6.3% (1,874): HF = 1874*0.8/1500 = 0.99947 < 1.
    assert watch.candidates(np.array([1874.0, 1.0])).tolist() == [0]


def test_accounts_without_debt_are_never_candidates():
    coll, debt = np.array([[1.0, 0.0], [0.0, 5.0]]), np.zeros((2, 2))
    watch = Watchlist(coll, debt, np.array([0.8, 0.0]), np.array([2000.0, 1.0]))
    assert watch.candidates(np.array([1.0, 0.001])).tolist() == []


def test_a_threshold_above_one_is_refused():
    with pytest.raises(InputError, match="liquidation_threshold"):
        Watchlist(np.ones((1, 1)), np.ones((1, 1)), np.array([1.2]), np.array([1.0]))


def test_a_small_move_examines_only_the_accounts_close_to_liquidation():
    rng = np.random.default_rng(5)
    n = 20_000
    # ETH collateral worth 1,000 * U(1.5, 3) / 0.8, USDC debt 1,000: HF uniform in [1.5, 3] ...
    hf0 = rng.uniform(1.5, 3.0, n)
    hf0[:7] = 1.01                                           # ... except 7 accounts at 1.01
    coll = np.stack([1000 * hf0 / 0.8 / 2000, np.zeros(n)], axis=1)
    debt = np.stack([np.zeros(n), np.full(n, 1000.0)], axis=1)
    lt, p0 = np.array([0.8, 0.8]), np.array([2000.0, 1.0])
    watch = Watchlist(coll, debt, lt, p0, budget=256)
    # ETH -2%: the 7 fall to HF 1.01*0.98 = 0.9898; the others stay >= 1.5*0.98 = 1.47.
    found = watch.candidates(np.array([1960.0, 1.0]))
    assert found.tolist() == list(range(7))
    # rho of a 1.01 account ~ 0.01/2.01 ~ 0.005 and of a 1.5 one ~ 0.5/2.5 = 0.2: a 2% move
    # crosses only the first seven thresholds, so only they were looked at.
    assert watch.examined == 7


@st.composite
def books(draw):
    n = draw(st.integers(1, 25))
    c = draw(st.integers(1, 4))
    amounts = arrays(np.float64, (n, c), elements=st.one_of(st.just(0.0), st.floats(1e-3, 1e6)))
    coll, debt = draw(amounts), draw(amounts)
    lt = draw(arrays(np.float64, c, elements=st.one_of(st.just(0.0), st.floats(0.0, 1.0), st.just(1.0))))
    p0 = draw(arrays(np.float64, c, elements=st.floats(1e-3, 1e5)))
    moves = draw(st.lists(arrays(np.float64, c, elements=st.floats(-0.95, 3.0)), min_size=1, max_size=6))
    budget = draw(st.integers(0, 8))
    floors = draw(arrays(np.bool_, n))
    edits = draw(st.lists(st.tuples(st.integers(0, n - 1), st.floats(0.0, 1.0), st.floats(0.0, 1.0)), max_size=6))
    return coll, debt, lt, p0, moves, budget, floors, edits


@settings(max_examples=300)
@given(books())
def test_candidates_are_a_superset_of_the_brute_force(book):
    coll, debt, lt, p0, moves, budget, floors, edits = book
    watch = Watchlist(coll, debt, lt, p0, budget=budget)
    for k, move in enumerate(moves):
        prices = p0 * (1.0 + move)
        if k < len(edits):                                   # a liquidation shrank one row
            i, keep_c, keep_d = edits[k]
            coll[i] *= keep_c
            debt[i] *= keep_d
            watch.update(i)
        found = set(watch.candidates(prices).tolist())
        assert set(brute_force_below(coll, debt, lt, prices, floors).tolist()) <= found
        indptr, indices, width, values = watch.near.args           # the copied slots are current
        assert (watch.slot[found_rows := np.asarray(sorted(found), dtype=np.int64)] >= 0).all()   # every candidate's
        assert (watch.slot[watch.near.rows] == np.arange(len(watch.near.rows))).all()
        assert (watch.slot >= 0).sum() == len(watch.near.rows) and len(found_rows) <= len(watch.near.rows)
        held = watch.order[:watch.limit]              # the copy holds the first `limit` of the order, at their rank:
        assert (watch.slot[held] == np.arange(len(held))).all()     # every slot a prefix the pool reads can reach
        assert int(np.searchsorted(watch.rho, watch._move(prices), side="right")) <= watch.limit
        for k, i in enumerate(watch.near.rows.tolist()):
            assert width[k] == watch.pattern.width[i]
            start, w = watch.pattern.indptr[i], max(width[k], 0)
            assert indices[indptr[k]:indptr[k] + w].tolist() == watch.pattern.indices[start:start + w].tolist()
            assert values[indptr[k]:indptr[k] + w].tobytes() == watch.pattern.values[start:start + w].tobytes()
        bad = np.flatnonzero(bad_debt_by_account(coll, debt, prices) > 0)
        assert set(bad.tolist()) <= found


@settings(max_examples=300)
@given(books())
def test_the_compiled_pool_and_test_give_the_numpy_steps_answer(book):
    # watchlist._select (the pool, its margins and the test in one compiled call) against the numpy steps it
    # replaced (the prefix and the dirty rows not in it concatenated, _maybe_below, a mask, the sort): the same
    # rows and the same count examined, after every move and every row changed
    from backtest.engine import watchlist as wl
    coll, debt, lt, p0, moves, budget, floors, edits = book
    watches = {name: Watchlist(coll, debt, lt, p0, budget=budget) for name in ("compiled", "numpy")}
    real = wl._select
    for k, move in enumerate(moves):
        prices = p0 * (1.0 + move)
        if k < len(edits):
            i, keep_c, keep_d = edits[k]
            coll[i] *= keep_c
            debt[i] *= keep_d
            for watch in watches.values():
                watch.update(i)
        got = {}
        for name, watch in watches.items():
            wl._select = real if name == "compiled" else None
            try:
                got[name] = (watch.candidates(prices).tolist(), watch.examined)
            finally:
                wl._select = real
        assert got["compiled"] == got["numpy"]
