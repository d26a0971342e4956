"""What the replay loop keeps between rounds and steps gives the numbers a fresh computation gives: each
memo is checked against the fresh value after each event that must end it (a balance change, a price
move), so a memo that outlived its inputs fails here."""

import numpy as np

from backtest.engine.record import bad_debt_usd
from backtest.engine.health import rows_health_factor
from backtest.engine.replay import CandidateDebt
from backtest.engine.state import BookState
from backtest.engine.worst import WorstFirst, worst_first
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
    """worst_first gives np.lexsort((row, hf)) of rows given ascending: ties (a few runs, hundreds of
    runs, +0.0 against -0.0) by account."""
    rng = np.random.default_rng(7)
    rows = np.sort(rng.choice(100_000, 5_000, replace=False))
    hf = rng.choice([0.5, 0.75, 0.0, -0.0, 0.999, 1.0, 1.5, np.nan, np.inf], len(rows)) * \
        np.where(rng.random(len(rows)) < 0.5, 1.0, rng.uniform(0.9, 1.1, len(rows)))
    many = rng.integers(0, 400, len(rows)) / 400.0 * np.where(rng.random(len(rows)) < 0.5, 1.0, -1.0)
    from backtest import compiled
    for python in (False, True):        # a compiled pick and numpy's stable sort; numpy's sort with ties redone
        with compiled.python_path(python):
            for hf in (hf, many, hf[:40], many[:40], hf[:0]):   # a few runs of ties (one by one), hundreds, none
                below, hf_below = worst_first(rows[:len(hf)], hf)
                under = hf < 1.0
                order = np.lexsort((rows[:len(hf)][under], hf[under]))
                assert below.tolist() == rows[:len(hf)][under][order].tolist()
                assert hf_below.tobytes() == hf[under][order].tobytes()


def test_the_kept_order_is_the_fresh_sort_round_after_round():
    """WorstFirst (the last order kept, only what moved sorted and merged in) gives worst_first's answer over
    rounds where rows leave, come and stay, HFs move or hold, ties (+0.0 against -0.0 among them) abound;
    rows not strictly ascending go to worst_first."""
    from backtest import compiled
    rng = np.random.default_rng(11)
    worst = WorstFirst(2_000)
    rows = np.sort(rng.choice(2_000, 600, replace=False)).astype(np.int64)
    hf = rng.choice([0.5, 0.75, 0.0, -0.0, 0.9, 1.0, 1.5, np.nan], len(rows)) * np.where(
        rng.random(len(rows)) < 0.5, 1.0, rng.uniform(0.8, 1.2, len(rows)))
    kept = 0
    for _ in range(40):
        last = dict(zip(worst.last[0].tolist(), worst.last[1].tolist()))
        below, hf_below = worst(rows, hf)
        under = hf < 1.0
        order = np.lexsort((rows[under], hf[under]))
        assert below.tolist() == rows[under][order].tolist() and hf_below.tobytes() == hf[under][order].tobytes()
        assert (worst.at == -1).all()
        kept += sum(last.get(i) == h for i, h in zip(below.tolist(), hf_below.tolist()))    # rows it kept
        stay = rng.random(len(rows)) < 0.9                            # some rows leave, others come
        come = rng.choice(2_000, 40, replace=False)
        new = np.union1d(rows[stay], come).astype(np.int64)
        old = dict(zip(rows.tolist(), hf.tolist()))
        hf = np.array([old.get(i, rng.choice([0.3, 0.75, -0.0, 2.0])) for i in new.tolist()])
        moved = rng.random(len(new)) < 0.1                           # some HFs move, the rest hold
        hf[moved] = rng.choice([0.0, 0.75, 0.99, 1.01], int(moved.sum()))
        rows = new
    assert kept > 5_000
    shuffled = rng.permutation(rows)                                    # not ascending: worst_first's answer
    got = worst(shuffled, hf)
    assert got[0].tolist() == worst_first(shuffled, hf)[0].tolist()
    with compiled.python_path():                                        # the Python path: worst_first
        assert worst(rows, hf)[0].tolist() == worst_first(rows, hf)[0].tolist()


def _bench_run():
    from backtest.bench.book import bench_config, bench_inputs
    from backtest.bench.replay_case import CONFIG
    inputs = bench_inputs(3000, 300, 0)
    return inputs, bench_config(CONFIG, inputs)


def test_the_round_bound_kept_between_rounds_never_hides_a_row_that_could_pay(monkeypatch):
    """replay.Bounds answers a round from its last exact bound only if no row can reach the bar: checked
    against the exact bound in every round of a replay, and the replay's liquidations are those of a run
    that computes every round afresh."""
    from backtest.bench.replay_case import parquet_bytes
    from backtest.engine import replay
    inputs, config = _bench_run()
    seen = {"kept": 0, "exact": 0}

    class Checked(replay.Bounds):
        def __call__(self, below, hf_below, state, r, venues, groups, group_of, gas_usd):
            got = super().__call__(below, hf_below, state, r, venues, groups, group_of, gas_usd)
            exact = replay.bounds(below, hf_below, state, r, venues, groups, group_of, gas_usd)
            if got.tobytes() == exact.tobytes():
                seen["exact"] += 1
            else:                           # the kept answer: a ceiling of every row, all below the bar
                assert (exact < self.bar).all() and (got >= exact).all() and (got < self.bar).all()
                seen["kept"] += 1
            return got

    class Fresh(replay.Bounds):
        def __call__(self, below, hf_below, state, r, venues, groups, group_of, gas_usd):
            return replay.bounds(below, hf_below, state, r, venues, groups, group_of, gas_usd)

    monkeypatch.setattr(replay, "Bounds", Checked)
    kept = replay.replay(inputs, config)
    assert seen["kept"] > 0 and seen["exact"] > 0 and kept.liquidations.num_rows > 0
    monkeypatch.setattr(replay, "Bounds", Fresh)
    fresh = replay.replay(inputs, config)
    for table in ("liquidations", "steps"):                        # NaN cells: compare the bytes written
        assert parquet_bytes(getattr(kept, table)) == parquet_bytes(getattr(fresh, table)), table


def test_the_kept_round_bound_yields_when_a_quote_moves_far_or_the_rows_change():
    """The same rows with the venues moved a little: the kept ceiling (above the exact bound); the sale
    quotes up 60 %: rows pass, so the exact bound; other rows (another array), or other oracle prices:
    the exact bound, bit for bit."""
    from backtest.agents.round import Round
    from backtest.engine import replay
    from backtest.engine.start import start
    inputs, config = _bench_run()
    s = start(inputs, config, replay.initial_venues(inputs, True), replay.Bounds)
    book, venues = s.state, s.venues
    from backtest.bench.book import STABLE
    move = np.full(len(inputs.exogenous[0]), 0.55)
    move[STABLE] = 1.0
    price = (inputs.exogenous[0] * move)[book.asset_of]              # a crash: rows under water
    book.watch(s.lt, price)
    rows = book.candidates(price)
    below, hf_below = worst_first(rows, rows_health_factor(book.coll, book.debt, rows, price, s.lt,
                                                           book.floors))
    assert len(below) > 10
    memo, bar = replay.Bounds(1e9), 1e9                                # a bar no row reaches: the memo may answer

    def both(r):
        args = (book, r, venues, s.groups, s.group_of, 5.0)
        return memo(below, hf_below, *args), replay.bounds(below, hf_below, *args)

    r = Round(0, 0.0, 0, price, s.lt, s.params, 1e-9, 12.0)
    got, exact = both(r)
    assert got.tobytes() == exact.tobytes()                           # nothing kept yet
    venues.sell(0, 0.01)                                              # a small trade moves asset 0's quotes
    got, exact = both(r)
    assert got.tobytes() != exact.tobytes() and (got >= exact).all() and (got < bar).all()
    memo.bar = float(np.max(exact)) + 1.0                              # a bar the exact bound almost reaches
    for v in venues.venues:                                           # every sale quote 60 % up
        v.quote *= 1.6
    venues._all_moved()
    got, exact = both(r)
    assert (exact >= memo.bar).any() and got.tobytes() == exact.tobytes()
    memo.bar = 1e9
    got, exact = both(r)                                              # kept again, then other prices
    r = Round(0, 0.0, 0, price * 1.01, s.lt, s.params, 1e-9, 12.0)
    got, exact = both(r)
    assert got.tobytes() == exact.tobytes()
    below = below.copy()                                              # other rows (the same values)
    got, exact = both(r)
    assert got.tobytes() == exact.tobytes()


def test_stable_argsort_is_numpys_stable_sort():
    """stable_argsort (numpy's default sort, then ties put back in position order) is np.argsort(kind="stable")
    of keys without NaN: a few runs of ties redone one by one, hundreds (the stable sort itself), +0.0 against
    -0.0, -inf, none; the watchlist's anchor orders its kept rows by it (rho, then row)."""
    from backtest.engine.worst import stable_argsort
    rng = np.random.default_rng(5)
    few = rng.choice([0.5, -0.0, 0.0, -np.inf, 0.25], 3000) * np.where(rng.random(3000) < 0.99, rng.uniform(
        0.9, 1.1, 3000), 1.0)
    many = rng.integers(0, 400, 3000) / 400.0 * np.where(rng.random(3000) < 0.5, 1.0, -1.0)
    for keys in (few, many, few[:40], rng.normal(size=3000), few[:0], np.array([0.0, -0.0, 0.0, -0.0])):
        got = stable_argsort(keys)
        assert got.tolist() == np.argsort(keys, kind="stable").tolist()
    from backtest.engine.watchlist import Watchlist
    n = 5000
    coll, debt = np.zeros((n, 2)), np.zeros((n, 2))
    coll[:, 0], debt[:, 1] = rng.choice([1.0, 1.5, 2.0], n), rng.choice([1000.0, 2500.0], n)   # many equal rho
    w = Watchlist(coll, debt, LT, np.array([2000.0, 1.0]))
    rho = np.empty(n)
    from backtest.engine.watchlist import _rhos
    _rhos(coll, debt, w.weight * w.p0, np.abs(w.weight) * w.p0, w.p0, *w.pattern.args, w.borrower, rho)
    kept = np.sort(w.order)
    assert w.order.tolist() == kept[np.lexsort((kept, rho[kept]))].tolist()
    assert w._ascending(rng.permutation(kept)).tolist() == kept.tolist()


def test_the_v33_totals_are_debt_at_price_and_asked_again_only_for_a_row_or_its_prices_that_moved():
    """Prescreen's Aave v3.3 total debt USD per row (float(debt @ price), as best_plan takes it) is kept per
    row while its cells and the prices of the columns it owes in hold: a poisoned kept value shows whether it
    was read or asked again."""
    from backtest.agents.competition import BlockGas, Field
    from backtest.agents.prescreen import Prescreen
    from backtest.config import LiquidatorConfig
    rng = np.random.default_rng(3)
    coll, debt = rng.uniform(0, 5, (8, 3)), rng.uniform(0, 900, (8, 3)) * (rng.random((8, 3)) < 0.7)
    rules = [rules_for("aave-v3.3" if i % 3 else "aave-v3") for i in range(8)]
    book = BookState(coll, debt, rules, np.arange(3))
    pre = Prescreen(book, Field((LiquidatorConfig(),), 0.0, BlockGas(np.array([30e6]))))
    rows, price = rng.permutation(8), np.array([2000.0, 1.0, 0.99])

    def fresh():
        return [float(book.debt[i] @ price) if i % 3 else 0.0 for i in rows]
    assert pre._totals(rows, book, price).tolist() == fresh()
    pre.totals[:] = -1.0                                    # poison: every v3.3 row now kept as -1
    assert (pre._totals(rows, book, price)[rows % 3 != 0] == -1.0).all()     # nothing moved: all kept
    book.repay(4, int(np.argmax(book.debt[4])), 100.0)      # row 4 (v3.3) changed: asked again, the rest kept
    got = pre._totals(rows, book, price)
    assert got[rows == 4].tolist() == [float(book.debt[4] @ price)]
    assert (got[(rows % 3 != 0) & (rows != 4)] == -1.0).all()
    pre.totals[:] = -1.0
    price = price * np.array([1.0, 1.0, 1.01])               # a price moved: the rows owing in it asked again
    owes = book.debt[rows, 2] != 0
    got = pre._totals(rows, book, price)
    assert owes[rows % 3 != 0].any() and (~owes[rows % 3 != 0]).any()
    assert got[(rows % 3 != 0) & owes].tolist() == [f for f, o, r in zip(fresh(), owes, rows) if r % 3 and o]
    assert (got[(rows % 3 != 0) & ~owes] == -1.0).all()
    for odd in (np.nan, np.inf, 0.0):                        # a price not finite or not > 0: every row again
        pre.totals[:] = -1.0
        price[1] = odd
        with np.errstate(invalid="ignore"):
            assert np.array_equal(pre._totals(rows, book, price), fresh(), equal_nan=True)
    pre.totals[:] = -1.0
    price[1] = 1.0                                           # and again when it is finite once more
    assert pre._totals(rows, book, price).tolist() == fresh()
    assert pre._totals(rows[rows % 3 == 0], book, price).tolist() == [0.0] * 3      # no v3.3 row: zeros


def test_the_candidates_unpacked_from_their_cells_give_the_gathered_bad_debt():
    """replay._gathered (compiled: the watchlist's packed cells put back into zeros) is book.coll[rows],
    book.debt[rows] (a -0.0 cell may come back +0.0), and bad_debt_usd over it has the gathered bits, after rows
    change, grow a cell from zero (read whole) and hold -0.0, NaN and inf cells; any price not finite or
    not > 0: the gather itself."""
    from backtest import compiled
    from backtest.engine.replay import _gathered
    rng = np.random.default_rng(5)
    n, r = 400, 6
    coll = rng.uniform(0, 3, (n, r)) * (rng.random((n, r)) < 0.4)
    debt = rng.uniform(0, 4000, (n, r)) * (rng.random((n, r)) < 0.3)
    coll[:5, 2], debt[5:9, 4], coll[9, 1], debt[10, 0] = -0.0, -0.0, np.nan, np.inf
    book = BookState(coll, debt, [rules_for("aave-v3")] * n, np.arange(r))
    lt, p = np.full(r, 0.8), rng.uniform(0.5, 3000, r)
    book.watch(lt, p)
    for _ in range(4):
        rows = book.candidates(p)
        with np.errstate(invalid="ignore"):
            c, d = _gathered(book, rows, p)
            assert np.array_equal(c, book.coll[rows], equal_nan=True) and np.array_equal(d, book.debt[rows],
                                                                                           equal_nan=True)
            assert bad_debt_usd(c, d, p).hex() == bad_debt_usd(book.coll[rows], book.debt[rows], p).hex()
        for i in rng.choice(rows, 5, replace=False).tolist():          # liquidations, and a cell grown from zero
            book.repay(i, int(np.argmax(book.debt[i])), 500.0)
        book._debt[rows[0], np.flatnonzero(book.coll[rows[0]] == 0)[:1]] = 7.0
        book._touched.append(int(rows[0]))
        p = p * rng.uniform(0.9, 1.1, r)
    asked = []
    cells = book.cells
    book.cells = lambda rows: asked.append(1) or cells(rows)
    _gathered(book, rows, p)
    assert asked == [1]                                              # compiled, clean prices: the cells
    for odd in (np.nan, 0.0):                                        # else the gather itself
        q = p.copy()
        q[3] = odd
        got = _gathered(book, rows, q)
        assert np.signbit(got[0]).sum() == np.signbit(book.coll[rows]).sum() and asked == [1]
    with compiled.python_path():
        _gathered(book, rows, p)
    assert asked == [1]
