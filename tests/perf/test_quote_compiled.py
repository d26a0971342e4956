"""best_plan's quotes compiled (backtest/markets/quote_compiled.py) give the Python path's floats bit for bit:
each quote Router.sell_quote / buy_quote gives, on v2 pools, v3 pools whose walks cross ticks, depth books
walked past their last knot and into their asks, a pool quoted in another asset and an asset with no venue
(its reference market's impact); and the plan best_plan picks, with the route `execute` trades along.
Floats are compared by their bytes, so a reordered expression (a sum grouped otherwise, a product
reassociated) fails here on some draw."""

import copy
import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest import compiled
from backtest.agents.liquidator import best_plan, execute
from backtest.markets import quote_compiled, quote_table, uniswap_v3 as v3, venue_kinds
from backtest.markets.depth_book import DepthBook
from backtest.markets.reference import ReferenceMarket
from backtest.markets.router import Router
from backtest.markets.venue_kinds import V2Pool, V3Pool
from backtest.protocols.rules import RULES, Params

pytestmark = pytest.mark.skipif(quote_compiled.plan is None or not compiled.ON, reason="numba not installed")

ETH, USDC, STETH, LINK = 0, 1, 2, 3        # USDC has no venue; stETH is quoted in ETH
PRICE = np.array([2_000.0, 1.0, 1_900.0, 15.0])
CURVE = dict(impacts=np.array([0.005, 0.01, 0.02, 0.05]), amounts=np.array([100.0, 250.0, 600.0, 2_000.0]))
LOG_TICK = math.log(1.0001)


def laddered(price_raw: float, liquidity: float, fee: float, rng) -> v3.PoolState:
    """A pool at `price_raw` (token1 raw per token0 raw) with positions on 40 ticks around it: walks cross them."""
    at = math.floor(math.log(price_raw) / LOG_TICK)
    ticks = np.arange(at - 2_000, at + 2_001, 100)
    weight = rng.uniform(0.2, 1.0, len(ticks) // 2)
    nets = np.zeros(len(ticks))
    middle = len(ticks) // 2
    for k, w in enumerate(weight):             # nested ranges [middle - k - 1, middle + k + 1]
        nets[middle - k - 1] += w * liquidity
        nets[middle + k + 1 if middle + k + 1 < len(ticks) else -1] -= w * liquidity
    live = float(nets[:middle].sum())
    return v3.PoolState(math.sqrt(price_raw), at, live, ticks, nets, fee)


def router(seed: int, feedback: bool = True) -> Router:
    rng = np.random.default_rng(seed)
    venues = [
        V3Pool(ETH, USDC, laddered(2_000.0 * 1e6 / 1e18, 2e15, 0.0005, rng), True, 18, 6, name="eth-usdc v3"),
        V2Pool(ETH, USDC, 1_000.0, 2e6, 0.003, name="eth-usdc v2"),
        DepthBook(ETH, fee=0.001, reference=2_000.0, **CURVE),
        V3Pool(STETH, ETH, laddered(1.0 / 0.95, 3e20, 0.0001, rng), False, 18, 18, name="steth-eth v3"),
        V2Pool(STETH, ETH, 500.0, 475.0, 0.0005, name="steth-eth v2"),
        DepthBook(STETH, fee=0.002, reference=1_900.0, **CURVE),
        V2Pool(LINK, USDC, 4e4, 6e5, 0.003, name="link-usdc"),
    ]
    r = Router(PRICE.copy(), venues).fresh(PRICE, feedback)
    n = len(PRICE)
    r.attach(ReferenceMarket(PRICE.copy(), np.full(n, 0.5), np.full(n, 5e8), np.full(n, 0.4), np.full(n, 600.0)))
    for _ in range(rng.integers(0, 6)):        # venues off their mids, books into bids or asks
        asset, amount = int(rng.choice([ETH, STETH, LINK])), float(rng.lognormal(0, 2))
        (r.sell if rng.random() < 0.5 else r.buy)(asset, amount)
    if rng.random() < 0.3:
        before = r.reference.exo.copy()
        r.follow_path(before, before * rng.uniform(0.9, 1.1, n))
    return r


def _kernel_args(r: Router) -> tuple:
    t, ref = quote_table.table(r), r.reference
    return t.rows, t.ticks, t.tables, t.starts, t.order, r.price, ref._rows, r.venue_price, r.feedback


def bits(x) -> bytes:
    return struct.pack("<d", float(x))


def python_quote(r: Router, buy: bool, asset: int, amount: float) -> tuple:
    """(venue or -1, USD) as the Python path quotes and routes it."""
    with compiled.python_path():
        usd = (r.buy_quote if buy else r.sell_quote)(asset, amount)
        route = r._routes[(buy, asset, amount, False, r.feedback)][1]
    return (route[0][0] if route else -1), usd


AMOUNTS = [1e-12, 0.3, 7.0, 55.0, 400.0, 2_500.0, 5e4, 1e9, math.inf]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), feedback=st.booleans())
def test_each_quote_is_the_routers_bit_for_bit(seed, feedback):
    r = router(seed, feedback)
    m = _kernel_args(r)
    rng = np.random.default_rng(seed)
    for asset in (ETH, USDC, STETH, LINK):
        for amount in AMOUNTS + rng.lognormal(1, 3, 4).tolist():
            for buy in (False, True):
                venue, usd, ok = quote_compiled._quote(buy, asset, amount, m)
                assert ok
                want = python_quote(r, buy, asset, amount)
                assert (venue, bits(usd)) == (want[0], bits(want[1])), (asset, amount, buy)


def test_a_walk_crosses_ticks_and_a_book_runs_past_its_knots():
    # The cases above must reach what they claim: the v3 sale crosses several ticks, the book's tail is used.
    r = router(1)
    pool, book = r.venues[0], r.venues[2]
    start = pool.state.liquidity
    pool.sell(400.0)
    assert pool.state.liquidity != start and abs(pool.state.tick - math.floor(math.log(2e-9) / LOG_TICK)) > 300
    assert book.sell_out(5e4) < 5e4 * book.reference * (1 - CURVE["impacts"][-1])


def _plan_bits(plan) -> tuple:
    return None if plan is None else tuple(bits(x) if isinstance(x, float) else x for x in plan)


ROW = st.tuples(st.sampled_from([0, 1, 2, 3, 4]), st.sampled_from([0, 1, 2, 3, 4]),
                st.sampled_from([0.0, 1e-9, 0.4, 3.0, 80.0, 600.0, 1e5, math.inf, math.nan, -1.0]),
                st.sampled_from([0.0, 1e-9, 0.2, 2.0, 30.0, 900.0, 1e6, math.inf, math.nan]),
                st.sampled_from([0.0, 0.0, 0.01, 1.0, math.inf]),
                st.sampled_from([None, None, None, 0.0, -5.0, 1e7, math.inf, -math.inf, math.nan]))


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.lists(ROW, min_size=0, max_size=12),
       needed=st.sampled_from([-math.inf, 0.0, 50.0, 1e4, math.inf]), feedback=st.booleans())
def test_best_plan_on_the_screens_rows_is_the_python_paths(seed, rows, needed, feedback):
    """Rows as the screen leaves them (top, d, c, repay, taken, fee), with NaN and inf anywhere: the same
    plan, cost and proceeds; the same route memo for the chosen try; the same trades after `execute`."""
    fast = router(seed, feedback)
    slow = copy.deepcopy(fast)
    reserve_asset = np.array([ETH, USDC, STETH, LINK, ETH])    # two reserves of the same asset
    built = np.zeros((max(len(rows), 1), 6))
    for k, (d, c, repay, taken, fee_share, top) in enumerate(rows):
        ceiling = (taken - taken * fee_share) * 2_100.0 - repay * 0.9     # a ceiling of sorts, or a given top
        built[k] = (ceiling if top is None else top, d, c, repay, taken, taken * fee_share if fee_share != math.inf
                    else math.inf)
    args = (None, None, 0.9, None)
    tail = (reserve_asset, None, None, None, 0.0, (1.0,), needed, (len(rows), built))
    with compiled.python_path():
        try:
            want = best_plan(*args, slow, *tail)
        except ValueError:                       # a NaN sale at a v3 pool: the compiled path raises it too
            with pytest.raises(ValueError):
                best_plan(*args, fast, *tail)
            return
    got = best_plan(*args, fast, *tail)
    assert _plan_bits(got) == _plan_bits(want)
    if want is None:
        return
    d, c, repay, taken, fee = want[:5]
    for key in ((True, int(reserve_asset[d]), repay, False, feedback),
                (False, int(reserve_asset[c]), taken - fee, False, feedback)):
        if key[2] > 0:
            a, b = fast._entry(key), slow._entry(key)
            assert (a[0], a[1], bits(a[2])) == (b[0], b[1], bits(b[2]))
    if not (math.isfinite(repay) and math.isfinite(taken - fee)):
        return
    book = _Book(len(reserve_asset), reserve_asset)
    done = [tuple(map(bits, execute(plan, 0, book, r))) for plan, r in ((want, slow), (got, fast))]
    assert done[0] == done[1]
    assert [_state(v) for v in fast.venues] == [_state(v) for v in slow.venues]
    assert fast.price.tobytes() == slow.price.tobytes()
    assert fast.venue_price.tobytes() == slow.venue_price.tobytes()


class _Book:
    """The two calls `execute` makes of a BookState."""

    def __init__(self, n, asset_of):
        self.asset_of = asset_of

    def repay(self, i, d, amount):
        pass

    def seize(self, i, c, amount):
        pass


def _state(venue) -> list:
    s = venue.state if isinstance(venue, V3Pool) else None
    if s is not None:
        return [bits(s.sqrt_price), s.tick, bits(s.liquidity)]
    held = (venue.base, venue.quote) if isinstance(venue, V2Pool) else (venue.net_sold, venue.reference)
    return [bits(x) for x in held]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), protocol=st.sampled_from(["aave-v2", "aave-v3", "aave-v3.3", "compound-v2"]),
       needed=st.sampled_from([-math.inf, 0.0, 50.0, 1e4]), feedback=st.booleans())
def test_liquidations_in_a_row_match_the_python_path(seed, protocol, needed, feedback):
    """best_plan then execute, account after account on the same venues, both ways: the same plans and the
    same venues after each (the compiled rows are refreshed after each trade)."""
    if protocol not in RULES:
        pytest.skip(protocol)
    rng = np.random.default_rng(seed)
    fast = router(seed, feedback)
    slow = copy.deepcopy(fast)
    reserve_asset = np.array([ETH, USDC, STETH, LINK])
    price = PRICE[reserve_asset] * rng.uniform(0.9, 1.1, 4)
    lt = np.array([0.8, 0.85, 0.75, 0.6])
    params = Params(rng.uniform(0.0, 0.12, 4), rng.choice([0.0, 0.1], 4), rng.choice([0.5, 1.0], 4))
    book = _Book(4, reserve_asset)
    for _ in range(6):
        coll = rng.choice([0.0, 1.0], 4) * rng.lognormal(0, 2, 4) * 1e4 / price
        debt = rng.choice([0.0, 1.0], 4) * rng.lognormal(0, 2, 4) * 5e3 / price
        hf = rng.uniform(0.5, 1.0)
        plans = []
        for r, python in ((slow, True), (fast, False)):
            with compiled.python_path(python):
                plan = best_plan(coll, debt, hf, price, r, reserve_asset, lt, params, RULES[protocol], 0.0,
                                 (1.0, 0.5, 0.1), needed)
            plans.append((_plan_bits(plan), None if plan is None else tuple(map(bits, execute(plan, 0, book, r)))))
        assert plans[0] == plans[1]
        assert [_state(v) for v in fast.venues] == [_state(v) for v in slow.venues]
        assert fast.venue_price.tobytes() == slow.venue_price.tobytes()      # a book's mid as its kept sale left it
        if rng.random() < 0.3:
            fast.arbitrage(12.0, 0.0)
            slow.arbitrage(12.0, 0.0)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), held=st.sampled_from([0.0, -0.0, 50.0, -50.0, 100.0, -700.0, 1_999.0, 2_000.0,
                                                             -2_500.0, 1e4]),
       amount=st.one_of(st.sampled_from([1e-12, 0.5, 100.0, 150.0, 1_900.0, 2_000.0, 4_000.0, math.nan]),
                        st.floats(1e-9, 5e3)))
def test_a_books_mid_after_the_kept_sale_is_its_own(seed, held, amount):
    """quote_compiled._book_mid (what Router.sell reprices a book with after a planned sale) against the book's
    own mid once the sale is made, bit for bit: bids and asks, knots hit exactly; NaN only past the last knot."""
    r = router(seed)
    for v, venue in enumerate(r.venues):
        if type(venue) is not DepthBook:
            continue
        venue.net_sold = held
        r._all_moved()
        t = quote_table.table(r)
        got = quote_compiled._book_mid(t.rows[v], t.tables, t.rows[v, 3] + amount)
        made = copy.deepcopy(venue)
        made.sold(amount)
        if got != got:
            assert not abs(made.net_sold) <= venue._knots[0][-1]
        else:
            assert bits(got) == bits(made.mid())


def test_rows_follow_the_venues_and_a_new_tick_table_builds_the_table_anew():
    r = router(5)
    first = quote_table.table(r)
    before = first.rows.copy()
    route = r._find_sale(STETH, 40.0)[0]
    r.sell(STETH, 40.0)                        # the row of the venue it is routed to changes, no other
    t = quote_table.table(r)
    changed = {v for v in range(len(r.venues)) if t.rows[v].tobytes() != before[v].tobytes()}
    assert t is first and changed == {v for v, _ in route} and len(changed) == 1
    pool = r.venues[0]                         # the ETH v3 pool on a thinner ladder: new ticks, new table
    pool.state = laddered(pool.mid() * 1e6 / 1e18, 1e15, 0.0005, np.random.default_rng(9))
    r._all_moved()
    t = quote_table.table(r)
    assert t is not first
    m = _kernel_args(r)
    for amount in (3.0, 300.0):
        venue, usd, _ = quote_compiled._quote(False, ETH, amount, m)
        assert (venue, bits(usd)) == (lambda w: (w[0], bits(w[1])))(python_quote(r, False, ETH, amount))


@pytest.mark.parametrize("seed", range(3))
def test_refreshed_rows_are_the_rows_a_table_built_afresh_reads(seed):
    # Table.refresh writes a moved venue's cells one by one: the bytes `_row` reads from the venue, after sales and
    # purchases on every kind of venue and arbitrage between them (a new Table's rows are refresh's too).
    rng = np.random.default_rng(seed)
    r = router(seed)
    kept = quote_table.table(r)
    for _ in range(60):
        asset = int(rng.choice([ETH, STETH, LINK]))
        amount = float(10.0 ** rng.uniform(-3, 2))
        (r.sell if rng.random() < 0.6 else r.buy)(asset, amount)
        if rng.random() < 0.1:
            r.arbitrage(12.0, 0.0)
        assert quote_table.table(r) is kept
        for v, venue in enumerate(r.venues):
            cells = 4 if isinstance(venue, V3Pool) else 3
            want = np.array(quote_table._row(venue, ())[2:2 + cells], dtype=float)
            assert kept.rows[v, 2:2 + cells].tobytes() == want.tobytes(), v


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_routers_whole_order_quotes_compiled_are_its_python_ones(seed):
    """Router._find_sale / _find_purchase (what `sell` and `buy` route again after a trade moved a quote, and
    what Comet and Maker ask) through quote_compiled.one: the same route and USD as the router's own loop over
    its venues, of the same type (the loop's v3 walks compiled, as they run beside it), and the same bits as
    the Python path."""
    fast = router(seed)
    slow, python = copy.deepcopy(fast), copy.deepcopy(fast)
    slow._heavy = [False] * len(PRICE)                        # `one` is not asked: the router's own loop
    assert quote_compiled.one(fast, False, ETH, 3.0) is not None            # served compiled, not handed back
    assert quote_compiled.one(fast, False, LINK, 3.0) is None and not fast._heavy[LINK]     # a v2 pool alone
    assert quote_compiled.one(fast, False, ETH, np.float64(3.0)) is None    # a numpy amount: numpy's own type back
    for asset in (ETH, STETH, LINK):
        for amount in AMOUNTS + [np.float64(7.0)]:
            for buy in (False, True):
                got = (fast._find_purchase if buy else fast._find_sale)(asset, amount)
                want = (slow._find_purchase if buy else slow._find_sale)(asset, amount)
                assert (got[0], bits(got[1]), type(got[1])) == (want[0], bits(want[1]), type(want[1])), (asset, amount)
                with compiled.python_path():
                    want = (python._find_purchase if buy else python._find_sale)(asset, amount)
                assert (got[0], bits(got[1])) == (want[0], bits(want[1])), (asset, amount)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), repay=st.sampled_from([5e3, 2e5, 3e6]),
       sold=st.sampled_from([0.5, 30.0, 700.0, 4e3]))
def test_a_sale_its_purchase_repriced_is_chosen_again_from_the_plans_walks(seed, repay, sold):
    """USDC (no venue) bought, then ETH sold at venues quoted in USDC: the purchase moved USDC's reference price,
    so the sale's route lapsed. The compiled path chooses its venue again from what `plan` left (no new quote, no
    second v3 walk); the Python path routes it afresh; the same cost, proceeds, venues and prices come out."""
    fast = router(seed)
    slow = copy.deepcopy(fast)
    reserve_asset = np.array([ETH, USDC])
    built = np.array([[1e12, 1.0, 0.0, repay, sold, 0.0]])        # repay USDC (reserve 1), seize ETH (reserve 0)
    args, tail = (None, None, 0.9, None), (reserve_asset, None, None, None, 0.0, (1.0,), -math.inf, (1, built))
    with compiled.python_path():
        want = best_plan(*args, slow, *tail)
    got = best_plan(*args, fast, *tail)
    assert _plan_bits(got) == _plan_bits(want) and got is not None
    book, usdc = _Book(2, reserve_asset), fast.price[USDC]
    routed, walks = [], []
    walk = venue_kinds.v3_compiled.walk
    with pytest.MonkeyPatch.context() as patch:
        for r in (fast, slow):
            patch.setattr(r, "_find_sale", lambda *a, r=r, find=r._find_sale: routed.append(r) or find(*a))
        patch.setattr(venue_kinds.v3_compiled, "walk", lambda *a, **k: walks.append(a) or walk(*a, **k))
        done = tuple(map(bits, execute(got, 0, book, fast)))
        assert fast.price[USDC] != usdc and routed == [] and walks == []      # the route lapsed; nothing asked again
        with compiled.python_path():
            assert tuple(map(bits, execute(want, 0, book, slow))) == done
        assert routed == [slow]
    assert [_state(v) for v in fast.venues] == [_state(v) for v in slow.venues]
    assert fast.price.tobytes() == slow.price.tobytes()
    assert fast.venue_price.tobytes() == slow.venue_price.tobytes()
