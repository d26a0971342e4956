"""The round's pass with each row's tries kept (screen_kept.next_kept, what Prescreen runs) answers as the
pass that screens every row afresh (screen.next_to_liquidate), bit for bit, after each event that must
end a kept row: its balances changing (BookState.versions), its HF, a price of a column it holds; and it
keeps a row through what must not end it (a price of a column it does not hold, the venues' quotes, the
bar)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest.agents import screen
from backtest.agents.screen_kept import KeptTries, next_kept
from backtest.engine.state import BookState
from backtest.protocols.rules import RULES
from tests.perf.test_screen import PROTOCOLS, account

pytestmark = pytest.mark.skipif(next_kept is None, reason="numba not installed")
SIZES = np.array([1.0, 0.5, 0.25, 0.1])


class Case:
    """Six accounts of one protocol on the four reserves of tests/perf/test_screen.account, a round's inputs."""

    def __init__(self, seed: int, protocol: str, rich: bool = True, arena: int = 1 << 16):
        accounts = [account(seed + j, rich) for j in range(6)]
        self.rng, self.asset_of, price, _, _, self.lt, self.params = accounts[0]
        coll, debt = np.array([a[3] for a in accounts]), np.array([a[4] for a in accounts])
        self.book = BookState(coll, debt, [RULES[protocol]] * 6, self.asset_of)
        self.kind = screen.KIND[RULES[protocol].terms]
        self.price = price.copy()
        self.rows, self.hf = self.rng.permutation(6), self.rng.uniform(0.5, 1.0, 6)
        self.floor, self.ceiling = self.price[:3] * 0.99, self.price[:3] * 1.01
        self.needed, self.lean, self.gas_left = np.full(6, 25.0), np.full(6, 500_000.0), 30e6
        self.kept = KeptTries(6, arena)

    def args(self):
        book = self.book
        with np.errstate(invalid="ignore"):        # inf prices times zero debt: NaN, as the engine's own dot gives
            total = np.array([float(book.debt[i] @ self.price) if self.kind == 2 else 0.0 for i in self.rows])
        p = self.params
        return (self.rows, self.hf, self.lean, self.needed, np.full(6, self.kind, dtype=np.int64), total, book.coll,
                book.debt, self.price, self.asset_of, self.lt, p.bonus, p.protocol_fee, p.close_factor, self.floor,
                self.ceiling, SIZES, self.gas_left)

    def passes(self, kept: bool) -> list:
        """Every (k, tries) the pass stops at, from the first row to the last."""
        got, k, out = [], 0, np.full((64, 6), np.nan)
        while True:
            if kept:
                a = self.args()
                per_row, per_column = np.stack([a[1], a[2], a[3], a[5]]), np.stack([a[8], *a[10:14]])
                k, n = next_kept(k, a[0], per_row, a[4], a[6], a[7], per_column, a[9], *a[14:], out,
                                 self.book.versions(), self.kept.arrays())
            else:
                k, n = screen.next_to_liquidate(k, *self.args(), out)
            got.append((k, n, out[:max(n, 0)].tobytes()))
            if k >= len(self.rows):
                return got
            k += 1

    def same(self) -> list:
        fresh = self.passes(kept=False)
        assert self.passes(kept=True) == fresh
        return fresh


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), protocol=st.sampled_from(PROTOCOLS), rich=st.booleans(),
       arena=st.sampled_from([8, 1 << 16]), events=st.lists(st.integers(0, 6), min_size=1, max_size=12))
def test_the_kept_pass_is_the_fresh_pass_after_any_event(seed, protocol, rich, arena, events):
    case = Case(seed, protocol, rich, arena)        # an arena of 8 tries: emptied and filled again over and over
    case.same()
    rng = case.rng
    for e in events:
        a, i = int(rng.integers(4)), int(rng.integers(6))
        if e == 0:                                   # an oracle price moves
            case.price[a] *= rng.uniform(0.8, 1.2)
        elif e == 1:                                 # a row is liquidated: its balances change
            case.book.seize(i, a, case.book.coll[i, a] * rng.uniform(0, 1.2))
            case.book.repay(i, int(rng.integers(4)), float(case.book.debt[i].max()) * rng.uniform(0, 0.6))
        elif e == 2:                                 # its HF (the caller's)
            case.hf[rng.integers(6)] = rng.uniform(0.5, 1.0)
        elif e == 3:                                 # the venues' quotes
            case.floor *= rng.uniform(0.9, 1.1, 3)
            case.ceiling *= rng.uniform(0.9, 1.1, 3)
        elif e == 4:                                 # the bar, per row
            case.needed = rng.choice([0.0, 25.0, 400.0, 1e5, -np.inf], 6)
        elif e == 5:                                 # a price not finite: every row to the Python search
            case.price[a] = rng.choice([np.nan, np.inf, case.price[a]])
        else:                                        # nothing moved
            pass
        case.same()


def _stop_at_first(seed=11):
    """An Aave v3 case whose pass stops at its first row."""
    case = Case(seed, "aave-v3")
    case.needed[:] = -1e12                           # finite (-inf goes to the Python search untried)
    assert case.passes(kept=False)[0][:2] == (0, 4 * int((case.book.debt[case.rows[0]] > 0).sum()) * int(
        ((case.book.coll[case.rows[0]] > 0) & (case.lt > 0)).sum()))
    return case


def test_a_kept_row_ends_when_its_balances_change_with_the_same_hf_and_prices():
    case = _stop_at_first()
    before = case.same()
    i = case.rows[before[0][0]]
    c = int(np.flatnonzero((case.book.coll[i] > 0) & (case.lt > 0))[0])
    case.book.seize(int(i), c, case.book.coll[i, c] / 2)            # HF passed in unchanged
    after = case.same()
    assert after[0][2] != before[0][2]                               # a kept answer would be the old tries


def test_a_kept_row_ends_when_a_price_it_reads_moves_and_stays_when_another_does():
    case = _stop_at_first()
    before = case.same()
    i = case.rows[before[0][0]]
    held = (case.book.debt[i] > 0) | ((case.book.coll[i] > 0) & (case.lt > 0))
    assert not held.all()
    slot = case.kept.slot_of[i]
    case.price[int(np.flatnonzero(~held)[0])] *= 1.5                # a column the row does not read: kept
    assert case.same()[0] == before[0] and case.kept.slot_of[i] == slot     # not screened afresh nor kept anew
    case.price[int(np.flatnonzero(held)[0])] *= 1.01
    after = case.same()
    assert after[0][2] != before[0][2]


def test_a_kept_row_ends_when_its_hf_moves_and_stays_through_new_quotes_and_bars():
    case = Case(5, "aave-v3")
    case.same()
    filled = case.kept.fill.copy()
    case.floor *= 1.02
    case.needed[:] = 3.0
    case.same()
    assert case.kept.fill[1] == filled[1]                           # every row judged from its kept tries
    case.hf[:] = np.where(case.hf > 0.95, 0.9, 0.97)                # across Aave v3's 0.95 close-factor line
    fresh = case.same()
    assert case.kept.fill[1] > filled[1]
    assert fresh == case.passes(kept=False)


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), protocol=st.sampled_from(PROTOCOLS), rich=st.booleans(),
       bad=st.sampled_from([None, "coll", "debt", "hf", "needed", "price"]), needed=st.sampled_from([0.0, 25.0, 1e5]))
def test_the_one_pass_fresh_screen_is_screen_row(seed, protocol, rich, bad, needed):
    """screen_kept._screen_fresh (the row's owed, seizable and held columns listed in one pass, the tries over
    those lists) gives screen._screen_row's verdict and tries bit for bit, and lists the columns _keep keys on:
    debt > 0, or collateral > 0 with LT > 0. A NaN or inf anywhere: the Python search, nothing built."""
    from backtest.agents.screen_kept import _screen_fresh
    rng, asset_of, price, coll, debt, lt, p = account(seed, rich)
    hf = float(rng.choice([rng.uniform(0.5, 0.95), rng.uniform(0.95, 1.0)]))
    a = int(rng.integers(4))
    if bad == "coll":
        coll[a] = rng.choice([np.nan, np.inf])
    elif bad == "debt":
        debt[a] = rng.choice([np.nan, -np.inf])
    elif bad == "hf":
        hf = np.nan
    elif bad == "needed":
        needed = np.inf
    elif bad == "price":
        price[a] = np.nan
    floor, ceiling = _quotes(price, asset_of)
    kind = screen.KIND[RULES[protocol].terms]
    total = float(debt @ price)
    columns = screen._columns_finite(price, asset_of, p.bonus, p.protocol_fee, p.close_factor, floor, ceiling)
    want, got = np.full((64, 6), np.nan), np.full((64, 6), np.nan)
    verdict, n = screen._screen_row(kind, hf, coll, debt, price, asset_of, lt, p.bonus, p.protocol_fee, p.close_factor,
                                    floor, ceiling, SIZES, total, needed, columns, want)
    cols = np.full((3, 4), -1, dtype=np.int64)
    verdict2, n2, m = _screen_fresh(kind, hf, coll, debt, price, asset_of, lt, p.bonus, p.protocol_fee, p.close_factor,
                                    floor, ceiling, SIZES, total, needed, columns, got, cols, False)
    assert (verdict2, n2) == (verdict, n)
    assert got[:max(n, 0)].tobytes() == want[:max(n, 0)].tobytes()
    if n >= 0:
        held = np.flatnonzero((debt > 0) | ((coll > 0) & (lt > 0)))
        assert cols[2, :m].tolist() == held.tolist()
    _bounded_is_exact(kind, hf, coll, debt, price, asset_of, lt, p, floor, ceiling, total, needed, columns, verdict, n,
                      want)


def _bounded_is_exact(kind, hf, coll, debt, price, asset_of, lt, p, floor, ceiling, total, needed, columns, verdict, n,
                      want):
    """_screen_fresh with its bound: screen._screen_row's verdict; its tries, unless the bound rejected the row
    (BOUNDED: then the pairs, one per owed and seizable column)."""
    from backtest.agents.screen_kept import BOUNDED, _screen_fresh
    got, cols = np.full((64, 6), np.nan), np.full((3, 4), -1, dtype=np.int64)
    verdict2, n2, _ = _screen_fresh(kind, hf, coll, debt, price, asset_of, lt, p.bonus, p.protocol_fee, p.close_factor,
                                    floor, ceiling, SIZES, total, needed, columns, got, cols, True)
    assert verdict2 == verdict
    if n2 == BOUNDED:
        assert -got[0, 0] == int((debt > 0).sum()) * int(((coll > 0) & (lt > 0)).sum()) > 0
    else:
        assert n2 == n and got[:max(n, 0)].tobytes() == want[:max(n, 0)].tobytes()
    return n2 == BOUNDED


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), protocol=st.sampled_from(PROTOCOLS), rich=st.booleans(),
       margin=st.sampled_from([-1e-9, 0.0, 5e-10, 1e-9, 1.5e-9, 2e-9, 2.5e-9, 3e-9, 4e-9, 1e-8, 1e-6, 0.05, 1.0]))
def test_the_bound_rejects_only_rows_the_tries_reject(seed, protocol, rich, margin):
    """screen_kept._bound_rejects at bars around the row's best try: within a few 1e-9 of it (screen._verdict's
    SLACK) only the tries decide, and the bound settles the rows well below the bar (a bound that gave up its
    1e-9 margins, or read the fee or the cap wrong, would reject a row the tries take to the Python search)."""
    rng, asset_of, price, coll, debt, lt, p = account(seed, rich)
    hf = float(rng.choice([rng.uniform(0.5, 0.95), rng.uniform(0.95, 1.0)]))
    floor, ceiling = _quotes(price, asset_of)
    kind, total = screen.KIND[RULES[protocol].terms], float(debt @ price)
    columns = screen._columns_finite(price, asset_of, p.bonus, p.protocol_fee, p.close_factor, floor, ceiling)
    want = np.full((64, 6), np.nan)
    _, n = screen._screen_row(kind, hf, coll, debt, price, asset_of, lt, p.bonus, p.protocol_fee, p.close_factor,
                              floor, ceiling, SIZES, total, 0.0, columns, want)
    if n <= 0:
        return
    top = float(want[:n, 0].max())
    needed = top + abs(top) * margin
    verdict, n = screen._screen_row(kind, hf, coll, debt, price, asset_of, lt, p.bonus, p.protocol_fee, p.close_factor,
                                    floor, ceiling, SIZES, total, needed, columns, want)
    bounded = _bounded_is_exact(kind, hf, coll, debt, price, asset_of, lt, p, floor, ceiling, total, needed, columns,
                                verdict, n, want)
    assert not (bounded and margin < 2e-9)


def _quotes(price, asset_of):
    """A round's purchase floor and sale ceiling per asset around the oracle prices."""
    per_asset = np.array([price[asset_of == x][0] for x in range(3)])
    return per_asset * 0.99, per_asset * 1.01


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_bound_of_a_row_its_collateral_caps_is_its_best_try(protocol):
    """A row whose collateral pays for less than any size repays (1 WETH against $100,000 of USDC): every try
    takes the whole balance, and the bound, the balance / k repaid, is the best try to ~1e-9. At the best try
    the bound leaves the verdict to the tries; 1e-7 above it, it rejects the row alone (a bound reading the
    repay cap only would not)."""
    from backtest.agents.screen_kept import BOUNDED, _screen_fresh
    from backtest.protocols.rules import Params
    asset_of, price, lt = np.array([0, 1]), np.array([1.0, 2_000.0]), np.array([0.0, 0.8])
    coll, debt = np.array([0.0, 1.0]), np.array([100_000.0, 0.0])
    p = Params(np.array([0.05, 0.05]), np.array([0.0, 0.0]), np.array([0.5, 0.5]))
    floor, ceiling = price * 1.001, price * 0.999
    kind, hf, total = screen.KIND[RULES[protocol].terms], 0.9, 100_000.0
    columns = screen._columns_finite(price, asset_of, p.bonus, p.protocol_fee, p.close_factor, floor, ceiling)
    want = np.full((64, 6), np.nan)
    _, n = screen._screen_row(kind, hf, coll, debt, price, asset_of, lt, p.bonus, p.protocol_fee, p.close_factor,
                              floor, ceiling, SIZES, total, 0.0, columns, want)
    assert n > 0 and (want[:n, 4] == 1.0).all()                          # every try takes the whole WETH
    top = float(want[:n, 0].max())
    assert 50.0 < top < 100.0                                             # ~5 % of $2,000 less the quotes' spread
    got, cols = np.full((64, 6), np.nan), np.full((3, 2), -1, dtype=np.int64)
    for needed, bounded in ((top, False), (top * (1 + 1e-7), True)):
        verdict, _ = screen._screen_row(kind, hf, coll, debt, price, asset_of, lt, p.bonus, p.protocol_fee,
                                        p.close_factor, floor, ceiling, SIZES, total, needed, columns, want)
        verdict2, n2, _ = _screen_fresh(kind, hf, coll, debt, price, asset_of, lt, p.bonus, p.protocol_fee,
                                        p.close_factor, floor, ceiling, SIZES, total, needed, columns, got, cols, True)
        assert verdict2 == verdict == (screen.REJECT if bounded else screen.PYTHON)
        assert (n2 == BOUNDED) == bounded
