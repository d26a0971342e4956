"""The per-row kernels that read only each row's nonzero columns (engine/pattern.py) give the bits of
the dense loops they replaced, for any prices: zero, huge, inf, NaN."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backtest.engine import watchlist as wl
from backtest.engine.pattern import Copy, Pattern

pytest.importorskip("numba")

PRICE = st.one_of(st.just(0.0), st.just(-0.0), st.floats(1e-300, 1e300), st.just(np.inf), st.just(-np.inf),
                  st.just(np.nan), st.floats(-1e6, -1e-6))
AMOUNT = st.one_of(st.just(0.0), st.just(0.0), st.just(-0.0), st.floats(1e-9, 1e12), st.just(np.nan))


@st.composite
def books(draw):
    n, c = draw(st.integers(1, 12)), draw(st.integers(1, 7))
    coll = draw(arrays(np.float64, (n, c), elements=AMOUNT))
    debt = draw(arrays(np.float64, (n, c), elements=AMOUNT))
    p = draw(arrays(np.float64, c, elements=PRICE))
    weight = draw(arrays(np.float64, c, elements=st.floats(-1e-4, 1.0)))
    rows = np.asarray(draw(st.lists(st.integers(0, n - 1), max_size=15)), dtype=np.int64)
    grow = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, c - 1), st.floats(1e-3, 1e3)), max_size=4))
    return coll, debt, p, weight, rows, grow


def bits(a):
    return np.asarray(a, dtype=float).tobytes()


def margins(coll, debt, rows, p, weight, pattern=None):
    wp, awp = weight * p, np.abs(weight) * p
    m, s = np.empty(len(rows)), np.empty(len(rows))
    if pattern is None:
        wl._margins_dense(coll, debt, rows, wp, awp, p, m, s)
    else:
        wl._margins(coll, debt, rows, None, wp, awp, p, *pattern.args, m, s)
        copied = np.empty(len(rows)), np.empty(len(rows))            # and from a Copy of the rows' slots
        wl._margins(coll, debt, rows, np.arange(len(rows)), wp, awp, p, *Copy(pattern, rows).args, *copied)
        assert bits(copied[0]) + bits(copied[1]) == bits(m) + bits(s)
    return bits(m) + bits(s)


@settings(max_examples=400, deadline=None)
@given(books())
def test_margins_over_nonzero_columns_equal_the_dense_loop(book):
    coll, debt, p, weight, rows, grow = book
    pattern = Pattern(coll, debt)
    with np.errstate(all="ignore"):
        assert margins(coll, debt, rows, p, weight, pattern) == margins(coll, debt, rows, p, weight)
        # balances change (some grow from zero: those rows outgrow their slot and are read whole)
        for i, a, x in grow:
            coll[i, a] = x if coll[i, a] == 0 else coll[i, a] / 2
            debt[i, a] = 0.0
        pattern.refresh([i for i, _, _ in grow])
        assert margins(coll, debt, rows, p, weight, pattern) == margins(coll, debt, rows, p, weight)


@settings(max_examples=300, deadline=None)
@given(books())
def test_rhos_over_nonzero_columns_equal_the_dense_loop(book):
    coll, debt, p, weight, _, _ = book
    pattern = Pattern(coll, debt)
    borrower = (debt > 0).any(axis=1)
    sparse, dense = np.empty(len(coll)), np.empty(len(coll))
    with np.errstate(all="ignore"):
        wp, awp = weight * p, np.abs(weight) * p
        k = wl._rhos(coll, debt, wp, awp, p, *pattern.args, borrower, sparse)
        assert k == wl._rhos_dense(coll, debt, wp, awp, p, borrower, dense)
    assert bits(sparse) == bits(dense)


def test_a_refreshed_row_lists_its_columns_and_one_that_grew_is_read_whole():
    coll = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    debt = np.array([[0.0, 3.0, 0.0], [0.0, 4.0, 0.0]])
    pattern = Pattern(coll, debt)
    assert pattern.columns(0).tolist() == [0, 1, 2] and pattern.columns(1).tolist() == [1]
    coll[0, 0], debt[1, 1], coll[1, 2], debt[1, 0] = 0.0, 0.0, 5.0, 6.0      # row 1 now holds 2 columns in 1 slot
    pattern.refresh([0, 1])
    assert pattern.columns(0).tolist() == [1, 2]
    start = pattern.indptr[0]
    assert pattern.values[start:start + 2].tolist() == [[0.0, 3.0], [2.0, 0.0]]     # (collateral, debt) packed
    assert pattern.columns(1) is None


def test_the_kernels_skip_the_zero_columns_only_when_it_cannot_change_a_bit():
    # 0 * inf is NaN: a price of inf on a column the row does not hold makes its margin NaN, as dense
    coll, debt = np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]])
    p, weight = np.array([3.0, np.inf]), np.array([0.5, 0.5])
    pattern = Pattern(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]))      # row 0: column 0 only
    wp, awp = weight * p, np.abs(weight) * p
    m, s = np.empty(1), np.empty(1)
    wl._margins(coll, debt, np.array([0]), None, wp, awp, p, *pattern.args, m, s)
    assert np.isnan(m[0])               # dense: 0 * inf in the collateral sum (the sparse path would say 1.5)


class _Rules:
    def __init__(self, floors):
        self.floors_average_lt = floors


@st.composite
def runs(draw):
    n, c = draw(st.one_of(st.integers(1, 13), st.integers(4, 8))), draw(st.integers(1, 5))
    amount = st.one_of(st.just(0.0), st.just(0.0), st.floats(1e-6, 1e9))
    coll, debt = draw(arrays(np.float64, (n, c), elements=amount)), draw(arrays(np.float64, (n, c), elements=amount))
    lt = draw(arrays(np.float64, c, elements=st.floats(0.0, 1.0)))
    floors = draw(arrays(np.bool_, n))
    price = st.one_of(st.floats(1e-3, 1e5), st.floats(1e-3, 1e5), st.just(0.0), st.just(np.inf), st.just(np.nan))
    p0 = draw(arrays(np.float64, c, elements=st.floats(1e-3, 1e5)))
    event = st.one_of(
        st.tuples(st.just("price"), st.integers(0, c - 1), price),
        st.tuples(st.just("repay"), st.integers(0, n - 1), st.integers(0, c - 1), st.floats(-1e3, 1e9)),
        st.tuples(st.just("seize"), st.integers(0, n - 1), st.integers(0, c - 1), st.floats(-1e3, 1e9)),
        st.tuples(st.just("lt"), st.integers(0, c - 1), st.floats(0.0, 1.0)),
        st.tuples(st.just("watch")))
    events = draw(st.lists(event, max_size=12))
    every = np.arange(n)
    rows = [every if draw(st.booleans()) else np.unique(draw(st.lists(st.integers(0, n - 1), max_size=n)))
            for _ in events]
    return coll, debt, lt, floors, p0, events, rows


@settings(max_examples=300, deadline=None)
@given(runs())
def test_a_kept_health_factor_has_the_bits_of_a_fresh_one(run):
    from backtest.engine.health import RowHealth, rows_health_factor
    from backtest.engine.state import BookState
    coll, debt, lt, floors, price, events, rows = run
    book = BookState(coll, debt, [_Rules(bool(f)) for f in floors], np.arange(coll.shape[1]))
    book.watch(lt, price)
    health = RowHealth(len(coll))
    with np.errstate(all="ignore"):
        for event, wanted in zip(events, rows):
            kind = event[0]
            if kind == "price":
                price = price.copy()
                price[event[1]] = event[2]
            elif kind == "repay":
                book.repay(*event[1:])
            elif kind == "seize":
                book.seize(*event[1:])
            elif kind == "lt":
                lt = lt.copy()
                lt[event[1]] = event[2]
            else:
                book.watch(lt, price)
            for _ in range(2):                  # the second call reads what the first kept
                got = health(book, wanted.astype(np.int64), price, lt)
                fresh = rows_health_factor(book.coll, book.debt, wanted.astype(np.int64), price, lt, book.floors)
                assert got.tobytes() == fresh.tobytes()


def test_a_row_is_computed_again_only_when_its_balances_or_its_prices_move(monkeypatch):
    from backtest.engine import health as row_health
    from backtest.engine.state import BookState
    # rows 0-3 are a block of four; row 4 is the book's ragged tail, computed every call
    coll = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    debt = np.array([[0.0, 0.0, 500.0], [0.0, 0.0, 900.0], [4.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    book = BookState(coll, debt, [_Rules(True)] * 5, np.arange(3))
    lt, price = np.array([0.8, 0.8, 0.8]), np.array([1000.0, 1000.0, 1.0])
    book.watch(lt, price)
    computed = []
    real = row_health.rows_health_factor
    monkeypatch.setattr(row_health, "rows_health_factor", lambda c, d, rows, *a: computed.append(rows.tolist()) or
                        real(c, d, rows, *a))
    health, rows = row_health.RowHealth(5), np.array([0, 1, 2, 4])
    health(book, rows, price, lt)
    assert computed == [[0, 1, 2, 4]]
    health(book, rows, price, lt)                              # nothing moved
    assert computed[-1] == [4]
    price = np.array([900.0, 1000.0, 1.0])                    # column 0: rows 0 (collateral) and 2 (debt)
    health(book, rows, price, lt)
    assert computed[-1] == [0, 2, 4]
    book.repay(1, 2, 100.0)                                    # row 1's balances
    health(book, rows, price, lt)
    assert computed[-1] == [1, 4]
    price = np.array([900.0, np.inf, 1.0])                    # a price that is not finite: every row again
    with np.errstate(invalid="ignore"):                        # 0 * inf
        health(book, rows, price, lt)
    assert computed[-1] == [0, 1, 2, 4]


def _numpy_rows_health_factor(coll, debt, rows, price, lt, floors):
    """rows_health_factor as it was before the compiled gather: numpy's coll[rows] * price."""
    from backtest.protocols.rules import health_factor
    tail = len(coll) - len(coll) % 4
    out = np.empty(len(rows))
    for sel in (rows < tail, rows >= tail):
        part = rows[sel]
        if len(part):
            padded = np.concatenate([part, np.repeat(part[:1], -len(part) % 4)]) if part[0] < tail else part
            out[sel] = health_factor(coll[padded] * price, debt[padded] * price, lt, floors[padded])[:len(part)]
    return out


@settings(max_examples=300, deadline=None)
@given(books(), st.data())
def test_the_compiled_gather_gives_numpys_products(book, data):
    from backtest.engine.health import rows_health_factor
    coll, debt, p, weight, _, _ = book
    lt = np.clip(weight, 0.0, 1.0)
    floors = data.draw(arrays(np.bool_, len(coll)))
    rows = np.unique(data.draw(st.lists(st.integers(0, len(coll) - 1), max_size=15))).astype(np.int64)
    with np.errstate(all="ignore"):
        assert bits(rows_health_factor(coll, debt, rows, p, lt, floors)) == \
            bits(_numpy_rows_health_factor(coll, debt, rows, p, lt, floors))


@st.composite
def bound_cases(draw):
    n, r = draw(st.integers(1, 8)), draw(st.integers(1, 6))
    amount = st.one_of(st.just(0.0), st.just(0.0), st.floats(1e-6, 1e9), st.just(-1.0), st.just(np.nan))
    coll = draw(arrays(np.float64, (n, r), elements=amount))
    debt = draw(arrays(np.float64, (n, r), elements=amount))
    odd = draw(st.booleans())           # else every price, bonus and close factor finite: the kernel's fast path
    price = st.one_of(st.floats(1e-6, 1e6), st.just(0.0), st.just(np.inf), st.just(np.nan)) if odd else \
        st.floats(1e-6, 1e6)
    oracle, sell, buy = (draw(arrays(np.float64, r, elements=price)) for _ in range(3))
    bonus = draw(arrays(np.float64, r, elements=st.one_of(st.floats(0.0, 0.2), st.just(-1.0), st.just(np.nan))
                        if odd else st.floats(0.0, 0.2)))
    close_factor = draw(arrays(np.float64, r, elements=st.one_of(st.floats(0.0, 1.0), st.just(np.inf))
                               if odd else st.floats(0.0, 1.0)))
    lt = draw(arrays(np.float64, r, elements=st.one_of(st.just(0.0), st.floats(0.0, 1.0))))
    groups = []                         # each a set of columns, ascending or not; every row in one of them
    for _ in range(draw(st.integers(1, 3))):
        cols = draw(st.lists(st.integers(0, r - 1), unique=True, max_size=r))
        groups.append(sorted(cols) if draw(st.booleans()) else cols)
    group_of = np.asarray(draw(st.lists(st.integers(0, len(groups) - 1), min_size=n, max_size=n)), dtype=np.int64)
    close = draw(st.lists(st.integers(0, 3), min_size=len(groups), max_size=len(groups)))
    below = np.asarray(draw(st.lists(st.integers(0, n - 1), max_size=10)), dtype=np.int64)
    hf = draw(arrays(np.float64, len(below), elements=st.floats(0.0, 1.0)))
    gas = draw(st.sampled_from([0.0, 1.5]))
    edits = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, r - 1), st.floats(0.0, 1e3)), max_size=3))
    return coll, debt, below, hf, group_of, groups, close, close_factor, oracle, sell, buy, lt, bonus, gas, edits


class _Group:
    def __init__(self, name):
        self.name = name


@settings(max_examples=400, deadline=None)
@given(bound_cases())
def test_the_round_bound_over_packed_cells_equals_every_column(case):
    from backtest.agents.screen import CLOSE, group_bounds, group_layout
    from backtest.engine.pattern import whole_rows
    coll, debt, below, hf, group_of, groups, close, close_factor, oracle, sell, buy, lt, bonus, gas, edits = case
    names = {v: k for k, v in CLOSE.items()}
    layout = group_layout([(_Group(names[k]), None, g) for k, g in zip(close, groups)])
    assert layout[2].tolist() == close
    pattern = Pattern(coll, debt)
    for i, a, x in edits:               # balances change after the pattern was built, then it is told
        coll[i, a], debt[i, a] = x, debt[i, a] / 2
    pattern.refresh([i for i, _, _ in edits])
    out = {}
    copy = Copy(pattern, below[::-1])                   # the rows' own slots, copied back to back (reversed)
    for name, at, args in (("packed", below, pattern.args), ("dense", below, whole_rows(len(coll))),
                           ("copy", len(below) - 1 - np.arange(len(below)), copy.args)):
        out[name] = np.empty(len(below))
        with np.errstate(all="ignore"):
            group_bounds(coll, debt, below, at, hf, group_of[below], *layout, close_factor, oracle, sell, buy, lt,
                         bonus, gas, *args, out[name])
    assert bits(out["packed"]) == bits(out["dense"])          # the same pairs, in the same order
    assert bits(out["copy"]) == bits(out["dense"])


def test_a_negative_debt_is_priced_against_every_collateral_column_as_the_dense_loop_does():
    from backtest.agents.screen import CLOSE, group_bounds, group_layout
    from backtest.engine.pattern import whole_rows
    # debt -1 on column 0 and nothing else: the dense loop prices it against column 1 too, where the
    # oracle ratio 100 makes the "profit" -105 * 0.001 + 1 * 1 = 0.895, the row's best
    coll, debt = np.zeros((1, 2)), np.array([[-1.0, 0.0]])
    layout = group_layout([(_Group("aave-v3.3"), None, [0, 1])])
    args = (np.array([0]), np.array([0.5]), np.array([0]), *layout, np.array([0.5, 0.5]), np.array([100.0, 1.0]),
            np.array([1.0, 0.001]), np.array([1.0, 1.0]), np.array([0.8, 0.8]), np.array([0.05, 0.05]), 0.1)
    out = {}
    for name, pattern in (("packed", Pattern(coll, debt).args), ("dense", whole_rows(1))):
        out[name] = np.empty(1)
        group_bounds(coll, debt, args[0], *args, *pattern, out[name])
    assert out["dense"][0] == pytest.approx(0.895 - 0.1)
    assert bits(out["packed"]) == bits(out["dense"])


@settings(max_examples=300, deadline=None)
@given(books(), st.data())
def test_a_copy_that_follows_its_rows_is_the_one_built_afresh(book, data):
    # A pattern.Copy told of every refreshed row it holds (follow) and taking in new ones (append, past
    # its room): always the slots the pattern holds, which are the live arrays' nonzero cells (a row that
    # outgrew its slot: width -1, read whole).
    coll, debt, _, _, _, _ = book
    pattern = Pattern(coll, debt)
    n, c = coll.shape
    copy = Copy(pattern, np.asarray(data.draw(st.lists(st.integers(0, n - 1), max_size=4)), dtype=np.int64))
    for _ in range(data.draw(st.integers(1, 6))):
        for i, a, x, y in data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, c - 1), AMOUNT, AMOUNT),
                                             max_size=2)):
            coll[i, a], debt[i, a] = x, y
            pattern.refresh([i])
            held = np.flatnonzero(copy.rows == i)
            copy.follow(np.full(len(held), i), held)
        copy.append(np.asarray(data.draw(st.lists(st.integers(0, n - 1), max_size=5)), dtype=np.int64))
        fresh = Pattern(coll, debt)
        indptr, indices, width, values = copy.args
        assert len(width) == len(copy.rows) == len(indptr) - 1
        for k, i in enumerate(copy.rows.tolist()):
            assert width[k] == pattern.width[i] and width[k] in (-1, fresh.width[i])
            if width[k] >= 0:
                cols = fresh.columns(i)
                assert indices[indptr[k]:indptr[k] + width[k]].tolist() == cols.tolist()
                assert bits(values[indptr[k]:indptr[k] + width[k]]) == \
                    bits(np.stack([coll[i, cols], debt[i, cols]], axis=1))


def _masked(coll, debt):
    """Pattern's arrays as numpy's masks make them (the construction the compiled passes replaced)."""
    nonzero = (coll != 0) | (debt != 0)
    width = nonzero.sum(axis=1).astype(np.int64)
    indptr = np.zeros(len(coll) + 1, dtype=np.int64)
    np.cumsum(width, out=indptr[1:])
    return indptr, np.nonzero(nonzero)[1].astype(np.int16), width, np.stack([coll[nonzero], debt[nonzero]], axis=1)


@settings(max_examples=200, deadline=None)
@given(books(), st.booleans())
def test_pattern_built_in_two_passes_equals_numpy_masks(book, fortran):
    coll, debt = book[0], book[1]
    if fortran:                         # the book's arrays in either memory order
        coll, debt = np.asfortranarray(coll), np.asfortranarray(debt)
    for built, want in zip(Pattern(coll, debt).args, _masked(coll, debt)):
        assert built.dtype == want.dtype and built.shape == want.shape and built.tobytes() == want.tobytes()
    assert [a.shape for a in Pattern(coll[:0], debt[:0]).args] == [(1,), (0,), (0,), (0, 2)]


def _stale_by_pattern(stamps, pattern, rows, tail, marked, changed):
    """Stamps.stale as it read the pattern for every row (before the columns were kept as bits); `changed`: the
    refresh (counted by the test) that last changed each row, `marked` the epoch and refresh count at its mark."""
    out = []
    for i in rows:
        e, tick = marked.get(int(i), (-1, 0))
        ok = i < tail and e >= 0 and changed.get(int(i), 0) <= tick and pattern.width[i] >= 0
        if ok:
            ok = all(stamps.col_epoch[a] <= e for a in pattern.columns(i))
        out.append(not ok)
    return out


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([1, 5, 40, 62, 63, 64, 90]), st.data())
def test_stale_from_kept_column_bits_equals_the_pattern_loop(columns, data):
    # books of up to 90 columns: past 63 a row's columns no longer fit the bits and the pattern is read
    from backtest.engine.pattern import Stamps
    n = data.draw(st.integers(1, 10))
    cells = st.sampled_from([0.0, 0.0, 0.0, 1.0, np.nan])
    coll = np.array(data.draw(st.lists(st.lists(cells, min_size=columns, max_size=columns), min_size=n, max_size=n)))
    debt = np.array(data.draw(st.lists(st.lists(cells, min_size=columns, max_size=columns), min_size=n, max_size=n)))
    pattern, stamps, marked, changed, refreshes = Pattern(coll, debt), Stamps(n), {}, {}, 0
    price = np.ones(columns)
    stamps.prices(pattern, price)
    every = np.arange(n, dtype=np.int64)
    for action in ["mark", *data.draw(st.lists(st.sampled_from(["mark", "price", "grow"]), max_size=8))]:
        if action == "mark":
            rows = np.unique(np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=n)), dtype=np.int64))
            stamps.mark(rows)
            marked.update({int(i): (stamps.epoch, refreshes) for i in rows})
        elif action == "price":
            price = price.copy()
            held = np.flatnonzero(((coll != 0) | (debt != 0)).any(axis=0)).tolist()     # often a held column
            price[data.draw(st.sampled_from(held) if held and data.draw(st.booleans()) else
                            st.integers(0, columns - 1))] *= 2.0
            stamps.prices(pattern, price)
        else:                               # a balance that grows from zero: refreshed, maybe read whole
            i, a = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, columns - 1))
            coll[i, a] += 1.0
            pattern.refresh([i])
            refreshes += 1
            changed[i] = refreshes
        for tail in (n, data.draw(st.integers(0, n))):
            assert stamps.stale(every, tail).tolist() == _stale_by_pattern(stamps, pattern, every, tail, marked, changed)
