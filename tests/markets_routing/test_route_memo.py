"""The router keeps a route it quoted until something it reads moves (Router._remembered), each
venue's first-unit marginals until it trades (Router._first) and each asset's floor and ceiling until
its generation moves (Router.ceilings); a v3 pool keeps its last walk for the state it started from
(V3Pool._sell, _buy), the reference market its decay factors for a block length
(ReferenceMarket.decay): best_plan and the keepers quote a trade, then make it. Any sequence of
quotes, trades, path moves and arbitrage gives the same floats and leaves the same venues as a twin
whose caches and memos are all emptied before every call."""

import numpy as np
from hypothesis import given, settings, strategies as st

from backtest.markets import uniswap_v3 as v3
from backtest.markets.depth_book import DepthBook
from backtest.markets.reference import ReferenceMarket
from backtest.markets.router import Router
from backtest.markets.venue_kinds import V2Pool
from tests.markets_routing.test_quote_ceilings import v3_pool

ETH, USDC, STETH = 0, 1, 2         # USDC has no venue (its reference market); stETH is quoted in ETH
CURVE = dict(impacts=np.array([0.005, 0.01, 0.02, 0.05]), amounts=np.array([100.0, 250.0, 600.0, 2_000.0]))
PRICE = np.array([2_000.0, 1.0, 1_900.0])


def router(split: bool, feedback: bool) -> Router:
    venues = [v3_pool(0.0005), V2Pool(ETH, USDC, 1_000.0, 2e6, 0.003),
              DepthBook(ETH, fee=0.001, reference=2_000.0, **CURVE), V2Pool(STETH, ETH, 500.0, 475.0, 0.0005)]
    r = Router(PRICE.copy(), venues, split=split)
    r = r.fresh(PRICE, feedback)
    n = len(PRICE)
    r.attach(ReferenceMarket(PRICE.copy(), np.full(n, 0.5), np.full(n, 5e8), np.full(n, 0.4), np.full(n, 600.0)))
    return r


def _forget(r: Router) -> None:
    r._all_moved()                      # routes, first-unit marginals and ceilings: nothing kept
    r.reference.__dict__.pop("_keep", None)         # the decay factors of the last block length
    for v in r.venues:
        v.__dict__.pop("_sell_memo", None)
        v.__dict__.pop("_buy_memo", None)


def _do(r: Router, op) -> list:
    kind, asset, amount = op
    if kind == "follow":
        before = r.reference.exo.copy()
        r.follow_path(before, before * amount)
        return []
    if kind == "arb":
        r.arbitrage(6.0 if amount > 1.5 else 12.0, 0.0 if amount < 1 else 60.0)      # blocks of two lengths
        return []
    got = getattr(r, kind)(asset, amount)
    return [got, *r.ceilings()[2], *r.ceilings()[3], *np.concatenate(r.quote_range()).tolist()]


def _same(x, y) -> bool:
    return (x != x and y != y) or x == y


AMOUNT = st.sampled_from([0.5, 3.0, 40.0, 40.0, 900.0, 1e4, 0.0])
OP = st.one_of(st.tuples(st.sampled_from(["sell_quote", "buy_quote", "sell", "buy"]), st.sampled_from([ETH, USDC, STETH]),
                         AMOUNT),
               st.tuples(st.just("follow"), st.just(0), st.floats(0.8, 1.2)),
               st.tuples(st.just("arb"), st.just(0), st.floats(0.0, 2.0)),
               st.tuples(st.sampled_from(["plan", "quoted"]), st.sampled_from([ETH, USDC, STETH]), AMOUNT))


@settings(max_examples=200, deadline=None)
@given(st.lists(OP, min_size=1, max_size=30), st.booleans(), st.booleans())
def test_remembered_routes_and_walks_give_what_fresh_ones_give(ops, split, feedback):
    memo, fresh = router(split, feedback), router(split, feedback)
    for op in ops:
        _forget(fresh)
        if op[0] in ("plan", "quoted"):         # quoted elsewhere (quote_compiled.best): only `memo` keeps it
            _plan(memo, *op[1:])
            if op[0] == "quoted":               # made later if at all (by the ops that follow)
                continue
            a, b = [_do(r, ("buy", *op[1:])) + _do(r, ("sell", *op[1:])) for r in (memo, fresh)]  # made: liquidate
        else:
            a, b = _do(memo, op), _do(fresh, op)
        assert len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b)), op
        # Router.ceilings' one pass per asset (_bounds) is purchase_floor / sale_ceiling asked now
        floor, ceiling = memo.ceilings()[2:]
        assert floor == [float(memo.purchase_floor(k)) for k in range(len(PRICE))]
        assert ceiling == [float(memo.sale_ceiling(k)) for k in range(len(PRICE))]
    assert memo.venue_price.tolist() == fresh.venue_price.tolist()
    assert memo.price.tolist() == fresh.price.tolist()
    assert [_state(v) for v in memo.venues] == [_state(v) for v in fresh.venues]


def _plan(r: Router, asset: int, amount: float) -> None:
    """Router.remember of a purchase and a sale of `amount` of `asset` as quote_compiled.best leaves a plan's two
    whole orders (the venue each goes to, -1 none), from the router's own routing of them now."""
    (bought, cost), (sold, proceeds) = r._find_purchase(asset, amount), r._find_sale(asset, amount)
    if len(bought) < 2 and len(sold) < 2:       # a split order is never remembered (quote_compiled serves none)
        r.remember(asset, amount, bought[0][0] if bought else -1, cost, asset, amount, sold[0][0] if sold else -1,
                   proceeds)


def _state(venue) -> list:
    """A venue's scalar state (a v3 pool's price, tick and liquidity), memos left out."""
    out = []
    for name, x in sorted(vars(venue).items()):
        if isinstance(x, v3.PoolState):
            out += [x.sqrt_price, x.tick, x.liquidity]
        elif isinstance(x, (int, float, str)):
            out.append((name, x))
    return out


def test_a_quoted_sale_is_routed_once_and_a_trade_of_its_quote_asset_forgets_it():
    r = router(False, True)
    calls = []
    find = r._find_sale
    r._find_sale = lambda asset, amount: calls.append(asset) or find(asset, amount)
    quoted = r.sell_quote(STETH, 3.0)
    assert r.sell(STETH, 3.0) == quoted and calls == [STETH]        # the sale reuses the quote's route
    assert r.sell_quote(STETH, 3.0) != quoted and calls == [STETH] * 2     # its pool moved: asked again
    r.sell_quote(STETH, 1.0)
    r.buy(USDC, 10.0)                                                # USDC quotes no stETH venue: kept
    r.sell_quote(STETH, 1.0)
    assert calls == [STETH] * 3
    r.buy(ETH, 1.0)                                                  # stETH's pool is quoted in ETH: forgotten
    r.sell_quote(STETH, 1.0)
    assert calls == [STETH] * 4
