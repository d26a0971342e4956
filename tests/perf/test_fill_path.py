"""What a liquidation does once its plan is chosen, made cheaper without changing a bit: each faster form
is held here to the formula it replaced (kept below as the reference), on inputs wide enough that a
reordered sum or product, or a dropped step, gives other bits."""

import copy
import ctypes
import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest.agents.competition import Award, BlockGas, Field, rank
from backtest.config import LiquidatorConfig
from backtest.engine.state import BookState
from backtest.markets.depth_book import DepthBook
from backtest.markets.reference import ReferenceMarket, _f
from backtest.markets.venue_kinds import V2Pool, V3Pool
from backtest.protocols.rules import health_factor_at, health_factor_one, health_factor_row, rules_for
from tests.markets_routing.test_arbitrage_and_counterfactual import CURVE, v3_pool

SPECIAL = np.array([0.0, -0.0, np.nan, np.inf, 1e-300, 1e300])


def _bits(x) -> bytes:
    return np.array([x], dtype=float).tobytes()


@pytest.mark.parametrize("seed", range(4))
def test_health_factor_row_is_health_factor_one_of_the_products_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    for _ in range(3000):
        n = int(rng.integers(1, 12))                 # both sides of numpy's pairwise sum's 8
        coll = rng.random(n) * 10.0 ** rng.uniform(-6, 9, n) * (rng.random(n) < 0.7)
        debt = rng.random(n) * 10.0 ** rng.uniform(-6, 9, n) * (rng.random(n) < 0.5)
        price = rng.random(n) * 10.0 ** rng.uniform(-3, 5, n)
        lt = rng.choice([0.0, 0.7, 0.8, 0.825, 0.93], n)
        if rng.random() < 0.2:                       # a strided view, as a column of a table
            lt = np.repeat(lt, 2)[::2]
        for a in (coll, debt, price):
            if rng.random() < 0.1:
                a[rng.integers(n)] = rng.choice(SPECIAL)
        for floors in (True, False, np.bool_(True)):
            with np.errstate(invalid="ignore", over="ignore"):
                want = health_factor_one(coll * price, debt * price, lt, floors)
                got = health_factor_row(coll, debt, price, lt, floors)
            assert _bits(got) == _bits(want), (coll, debt, price, lt, floors)


@pytest.mark.parametrize("seed", range(3))
def test_compiled_row_sums_are_numpys_sums_and_the_hf_health_factor_one_s(seed):
    # Rows of up to 128 (the sample's 37 reserves, the 1M bench's 4) go to the numba kernel: numpy's pairwise
    # sum (eight running sums and a tree from 8 on), the same bits; a readonly row of the book, as liquidate
    # passes it (health_factor_at: the book's [N, R] arrays and a row index).
    from backtest import compiled
    from backtest.protocols import rules
    if rules._row_sums is None:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(seed)
    for _ in range(1500):
        n = int(rng.integers(1, 140))
        book = rng.standard_normal((2, n)) * 10.0 ** rng.uniform(-6, 9, (2, n)) * (rng.random((2, n)) < 0.4)
        book = np.abs(book) if rng.random() < 0.5 else book
        price = rng.random(n) * 10.0 ** rng.uniform(-3, 5, n)
        lt = rng.choice([0.0, 0.7, 0.8, 0.825, 0.93], n)
        if rng.random() < 0.1:                       # a strided lt: numpy's dot, not numpy_dot's call
            lt = np.repeat(lt, 2)[::2]
        for a in (book[0], book[1], price):
            if rng.random() < 0.1:
                a[rng.integers(n)] = rng.choice(SPECIAL)
        if rng.random() < 0.05:
            book[1] = -0.0
        view = book.view()
        view.flags.writeable = False
        coll, debt = view[0], view[1]
        with np.errstate(invalid="ignore", over="ignore"):
            if n <= 128:
                owed, total = rules._row_sums(coll, debt, price, np.empty(n))
                assert _bits(owed) == _bits(float((debt * price).sum()))
                assert owed <= 0 or _bits(total) == _bits(float((coll * price).sum()))
            for floors in (True, False):
                want = health_factor_one(coll * price, debt * price, lt, floors)
                assert _bits(health_factor_row(coll, debt, price, lt, floors)) == _bits(want)
                assert _bits(health_factor_at(view[0:1], view[1:2], 0, price, lt, floors)) == _bits(want)
                with compiled.python_path():
                    assert _bits(health_factor_row(coll, debt, price, lt, floors)) == _bits(want)
                    assert _bits(health_factor_at(view[0:1], view[1:2], 0, price, lt, floors)) == _bits(want)


def test_the_hf_after_dots_with_numpys_own_blas_where_it_is_found():
    # health_factor_at's one kernel (rules._health_at) calls the cblas_ddot numpy's dot calls (numpy_dot.py), found
    # here (numpy's wheel: scipy-openblas64); the test above holds its bits to numpy's. What finds it refuses a dot
    # summed in another order (a plain loop, a pairwise sum: other bits on some of its vectors).
    from backtest.protocols import numpy_dot, rules
    if rules._row_sums is None:
        pytest.skip("numba is not installed")
    fn = numpy_dot._numpy_cblas_ddot()
    assert fn is not None and numpy_dot.ddot is not None and rules._health_at is not None

    def loop(n, x, incx, y, incy):
        a = np.ctypeslib.as_array(ctypes.cast(x, ctypes.POINTER(ctypes.c_double)), (n,))
        b = np.ctypeslib.as_array(ctypes.cast(y, ctypes.POINTER(ctypes.c_double)), (n,))
        out = 0.0
        for u, v in zip(a.tolist(), b.tolist()):
            out += u * v
        return out

    def pairwise(n, x, incx, y, incy):
        a = np.ctypeslib.as_array(ctypes.cast(x, ctypes.POINTER(ctypes.c_double)), (n,))
        b = np.ctypeslib.as_array(ctypes.cast(y, ctypes.POINTER(ctypes.c_double)), (n,))
        return float((a * b).sum())

    assert numpy_dot._agrees(fn)
    assert not numpy_dot._agrees(loop) and not numpy_dot._agrees(pairwise)
    coll, debt = np.ones((3, 40)), np.ones((3, 40))
    lt, price = np.full(40, 0.8), np.ones(40)
    rules.health_factor_at(coll, debt, 1, price, lt, True)
    assert rules._fits[0] is lt                     # taken by the kernel
    rules.health_factor_at(coll, debt, 1, price, np.repeat(lt, 2)[::2], True)
    assert rules._fits[0] is lt                     # a strided lt is not


_AGENT = st.builds(LiquidatorConfig, min_profit_usd=st.floats(0.0, 1e4), gas_units=st.integers(100_000, 2_000_000),
                   latency_blocks=st.sampled_from([0, 1, 3, float("nan")]),
                   capital_usd=st.sampled_from([0.0, 1e3, 1e6, float("nan")]),
                   flash_loan_fee=st.sampled_from([0.0, 0.0005, 0.01, -0.001, float("inf")]))


def _award_by_rank(f: Field, gross, outlay, waited, gas_price, gas_units=None, extra=0.0):
    """Field.award as it was written, over `rank` (the reference)."""
    best, rivals = rank(f.agents, gross, outlay, waited, gas_price, gas_units, extra)
    if best is None or not best[4] <= f.gas.left:
        return None
    agent, gas, _, fee, units = best
    return Award(agent, gas, units, fee, f.builder_share if rivals > 1 else 0.0)


@settings(max_examples=300, deadline=None)
@given(st.lists(_AGENT, min_size=1, max_size=5),
       st.lists(st.tuples(st.floats(-1e5, 1e7), st.floats(0.0, 1e7), st.sampled_from([0, 1, 2, 5, float("nan")]),
                          st.sampled_from([1e-9, 3e-8, 1e-4]), st.sampled_from([None, 250_000]),
                          st.sampled_from([0.0, 80_000.0])), min_size=1, max_size=8),
       st.floats(0.0, 3e6))
def test_award_from_the_kept_ready_agents_is_rank_s_choice(agents, jobs, left):
    # Ties too: two agents with the same numbers go to the lower gas units, else the first listed.
    agents = [*agents, dataclasses.replace(agents[0], name="twin")]
    f = Field(tuple(agents), 0.9, BlockGas(np.array([left])))
    for gross, outlay, waited, gas_price, units, extra in jobs * 2:          # each asked twice: kept = afresh
        got = f.award(gross, outlay, waited, gas_price, units, extra)
        want = _award_by_rank(f, gross, outlay, waited, gas_price, units, extra)
        if want is None:
            assert got is None
            continue
        assert got.agent is want.agent
        assert _bits(list(got[1:])) == _bits(list(want[1:]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_AGENT, min_size=1, max_size=5),
       st.lists(st.tuples(st.floats(-1e5, 1e7), st.floats(0.0, 1e7),
                          st.sampled_from([0, 0.5, 1, 2, 3, 5, -math.inf, math.inf, float("nan")]),
                          st.sampled_from([1e-9, 3e-8, 1e-4])), min_size=1, max_size=8),
       st.floats(0.0, 3e6))
def test_what_a_liquidation_reads_of_the_field_kept_per_latency_level_is_bar_and_award(agents, jobs, left):
    """Field.ready_at (kept per latencies reached and gas price) against bar and award asked afresh of a twin:
    the same bar, the same ready rows, the same award of the same job, waits between latencies, NaN, +-inf."""
    agents = [*agents, dataclasses.replace(agents[0], name="twin")]
    f = Field(tuple(agents), 0.9, BlockGas(np.array([left])))
    for gross, outlay, waited, gas_price in jobs * 2:                    # each asked twice: kept = afresh
        fresh = Field(tuple(agents), 0.9, BlockGas(np.array([left])))
        units, need, ready = f.ready_at(waited, gas_price)
        bar = fresh.bar(waited, gas_price)
        assert _bits([need if units <= left else math.inf]) == _bits([bar])
        assert ready == fresh._ready(waited, gas_price, None, 0.0)
        got, want = f.award_among(ready, gross, outlay), fresh.award(gross, outlay, waited, gas_price)
        assert (got is None) == (want is None)
        if want is not None:
            assert got.agent is want.agent and _bits(list(got[1:])) == _bits(list(want[1:]))


def _trade_reference(m: ReferenceMarket, a: int, usd: float) -> None:
    """ReferenceMarket.trade as it was written, through numpy scalars and `_f`."""
    m.flow[a] += usd
    c = float(m.coefficient[a])
    if c == 0.0 or usd == 0.0:
        return
    q, v = float(m.outstanding[a]), float(m.volume[a])
    d = c * (_f(q + usd, v) - _f(q, v))
    if d == 0.0:
        return
    theta = float(m.permanent_share[a])
    m.permanent[a] = kept = m.permanent[a] + theta * d
    m.temporary[a] = passing = m.temporary[a] + (1.0 - theta) * d
    m.outstanding[a] = q + usd
    m.price[a] = m.exo[a] * math.exp(kept + passing)


@pytest.mark.parametrize("seed", range(3))
def test_reference_trade_moves_the_market_as_the_numpy_scalar_formula(seed):
    rng = np.random.default_rng(seed)
    n = 4
    market = ReferenceMarket(rng.uniform(0.5, 3e4, n), np.array([0.0, 0.3, 1.7, 0.05]),
                             np.array([1e9, 0.0, 3e6, 5e11]), rng.uniform(0, 1, n), np.full(n, 600.0))
    twin = copy.deepcopy(market)
    for _ in range(2000):
        a = int(rng.integers(n))
        usd = float(rng.choice([-1.0, 1.0]) * 10.0 ** rng.uniform(-4, 8)) if rng.random() > 0.05 else 0.0
        market.trade(a, usd)
        _trade_reference(twin, a, usd)
        if rng.random() < 0.05:
            market.decay(12.0)
            twin.decay(12.0)
    for name in ("flow", "permanent", "temporary", "outstanding", "price"):
        assert getattr(market, name).tobytes() == getattr(twin, name).tobytes(), name


def _venues():
    return [V2Pool(0, 1, 1_000.0, 2e6, 0.003), v3_pool(), DepthBook(0, fee=0.001, reference=2_000.0, **CURVE)]


@pytest.mark.parametrize("k", range(3))
def test_a_venue_sold_is_left_as_its_sell_leaves_it(k):
    # The router trades the route it quoted: `sold` moves the venue and skips the answer it already has.
    rng = np.random.default_rng(k)
    for amount in [*(10.0 ** rng.uniform(-6, 2.5, 30)), 0.0]:
        one, two = _venues()[k], _venues()[k]
        for x in (amount, amount / 3, amount * 2):
            one.sell(x)
            two.sold(x)
            assert two.mid() == one.mid() and two.sell_out(1.0) == one.sell_out(1.0)
            assert _venue_state(two) == _venue_state(one)


def _venue_state(venue) -> bytes:
    if isinstance(venue, V3Pool):
        got = [venue.state.sqrt_price, venue.state.tick, venue.state.liquidity]
    elif isinstance(venue, V2Pool):
        got = [venue.base, venue.quote]
    else:
        got = [venue.net_sold, venue.reference]
    return _bits(got)


def test_repay_and_seize_leave_the_cells_numpy_scalars_left():
    rng = np.random.default_rng(5)
    cells = rng.random((40, 3)) * 10.0 ** rng.uniform(-6, 9, (40, 3))
    cells[0, 0], cells[1, 1] = np.nan, np.inf
    state = BookState(cells.copy(), cells.copy(), [rules_for("aave-v3")] * 40, np.arange(3))
    want_coll, want_debt = cells.copy(), cells.copy()
    for _ in range(400):
        i, r = int(rng.integers(40)), int(rng.integers(3))
        amount = float(rng.choice([np.nan, np.inf, *(cells[i, r] * rng.uniform(0, 1.5, 4))]))
        for cell, act in ((want_debt, state.repay), (want_coll, state.seize)):
            held = cell[i, r]                                # the numpy scalar, as the methods read it before
            cell[i, r] = 0.0 if amount >= held else held - amount
            act(i, r, amount)
    assert state.coll.tobytes() == want_coll.tobytes() and state.debt.tobytes() == want_debt.tobytes()


@pytest.mark.parametrize("seed", range(3))
def test_a_deficit_after_a_seizure_is_burn_deficits(seed):
    # liquidate reads the seized cell, not the whole row, before asking burn_deficit: the same deficit, book and
    # versions as asking it always, rows with every mix of zero, -0.0, NaN and held cells.
    from backtest.agents.liquidator import _burned
    rng = np.random.default_rng(seed)
    cells = rng.choice([0.0, -0.0, np.nan, 1e-300, 3.5, 1e9], (300, 4), p=[0.55, 0.1, 0.05, 0.05, 0.15, 0.1])
    price = np.array([1.0, 2_000.0, 0.999, 3e4])
    one = BookState(cells.copy(), cells[::-1].copy(), [rules_for("aave-v3.3")] * 300, np.arange(4))
    two = BookState(cells.copy(), cells[::-1].copy(), [rules_for("aave-v3.3")] * 300, np.arange(4))
    burned = 0
    for i in rng.permutation(300).tolist():
        c = int(rng.integers(4))
        got, want = _burned(one, i, c, price), two.burn_deficit(i, price)
        assert _bits(got) == _bits(want)
        burned += want != 0.0
    assert burned > 10
    assert one.coll.tobytes() == two.coll.tobytes() and one.debt.tobytes() == two.debt.tobytes()
    assert one.versions().tobytes() == two.versions().tobytes()


@pytest.mark.parametrize("feedback", [True, False])
def test_the_units_sold_add_up_as_numpy_scalars(feedback):
    # Router.sell adds each amount to `sold` in plain floats: the sums numpy's `sold[asset] += amount` gives.
    from tests.perf.test_best_plan import market
    rng = np.random.default_rng(7)
    router = market(50.0, feedback)
    want = np.zeros_like(router.sold)
    for _ in range(400):
        asset = int(rng.integers(len(want)))
        amount = float(rng.choice([0.0, -0.0, 1e-12, *(10.0 ** rng.uniform(-6, 1.5, 5))]))
        router.sell(asset, amount)
        want[asset] += amount
    assert router.sold.tobytes() == want.tobytes() and (want > 0).sum() >= 2
