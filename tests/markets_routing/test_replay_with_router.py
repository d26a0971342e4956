"""The router inside a whole replay: liquidators of every protocol share v2, v3 and order-book venues."""

import shutil
from collections import Counter

import pandas as pd
import pyarrow.compute as pc
import pytest

import backtest.engine.replay as replay_module
from backtest.run import make_config, run
from backtest.lake.io import read_table, write_table
from backtest.inputs.venues import load_venues, venues_for_replay
from backtest.sample.venues import add_sample_venues
from backtest.sample.lake import PROTOCOLS, write_sample_lake
from backtest.scenarios import load_scenario

SCENARIO = load_scenario("stylised-eth-crash")
THIN = "pool_depth_scale=0.05"          # thin markets, so sales move prices and cascades happen
REPAYING = tuple(PROTOCOLS)             # the protocols where a liquidator repays (no Comet/Maker here)


@pytest.fixture(scope="module")
def plain_lake(tmp_path_factory):
    """The same book with only its Uniswap v2 pools: one venue per volatile asset."""
    lake = tmp_path_factory.mktemp("plain") / "lake"
    write_sample_lake(lake, seed=3, n_accounts=1_000, protocols=REPAYING)
    shutil.rmtree(lake / "depth_curves")
    shutil.rmtree(lake / "pool_ticks")
    pools = read_table(lake, "pools")
    for f in (lake / "pools").glob("*.parquet"):
        f.unlink()
    write_table(lake, "pools", pools.filter(pc.equal(pools["dex"], "uniswap-v2")))
    return lake


@pytest.fixture(scope="module")
def venue_lake(tmp_path_factory):
    """The same book with, for WETH, a v3 pool and an order book beside the v2 pool."""
    lake = tmp_path_factory.mktemp("venues") / "lake"
    write_sample_lake(lake, seed=3, n_accounts=1_000, protocols=REPAYING)
    add_sample_venues(lake, seed=3)
    return lake


def same_table(a, b):
    """Exactly equal, NaN matching NaN (the AMM price of an asset without a pool is NaN)."""
    pd.testing.assert_frame_equal(a.to_pandas(), b.to_pandas(), check_exact=True)


def with_router(monkeypatch, lake, config, sold: Counter | None = None):
    assert config.lake == str(lake)
    """Swap the engine's venues for the router loaded from the lake; count units sold per venue."""
    def initial_venues(inputs, feedback):
        router = venues_for_replay(inputs, config, feedback)     # the hook proposed for the engine
        if sold is not None and feedback:
            for venue in router.venues:          # Router.sell trades a venue through `sold` (sell's move)
                def trade(amount, *walked, _sold=venue.sold, _name=venue.name):     # a v3 pool's walk, as made
                    sold[_name] += amount
                    return _sold(amount, *walked)
                venue.sold = trade
        return router
    patch_initial_venues(monkeypatch, initial_venues)


def patch_initial_venues(monkeypatch, factory):
    """The engine's hook, in the plain loop and in the watchlist loop (which imports it by name)."""
    monkeypatch.setattr(replay_module, "initial_venues", factory)
    try:
        import backtest.engine.reference as fast_module
    except ImportError:
        return
    monkeypatch.setattr(fast_module, "initial_venues", factory, raising=False)


@pytest.fixture(scope="module")
def v2_only(plain_lake):
    """The same book and path with one v2 pool per asset."""
    return run(make_config(SCENARIO, plain_lake, [THIN]), SCENARIO)


@pytest.fixture(scope="module")
def routed(venue_lake):
    sold = Counter()
    with pytest.MonkeyPatch.context() as mp:
        config = make_config(SCENARIO, venue_lake, [THIN])
        with_router(mp, venue_lake, config, sold)
        return run(config, SCENARIO), sold


def test_weth_sales_are_routed_to_all_three_kinds_of_venue(routed):
    result, sold = routed
    assert result.metrics["liquidations"] > 100
    for venue in ("sample:WETH-USDC", "sample-v3:USDC-WETH-5", "sample-cex:WETH"):
        assert sold[venue] > 0, venue
    # wstETH goes both to its USDC pool and to its WETH-quoted v3 pool.
    assert sold["sample:wstETH-USDC"] > 0 and sold["sample-v3:wstETH-WETH-1"] > 0


def test_one_protocols_liquidations_push_another_protocols_accounts_under(routed):
    # All protocols sell into the same venues: some round k+1 liquidates an account of a
    # protocol none of whose accounts were liquidated in round k, i.e. only the other
    # protocols' sales (moving the shared prices, then the oracle) can have made it liquidatable.
    liq = routed[0].outcome.liquidations.to_pandas()
    crossed = []
    for step, rows in liq.groupby("step"):
        by_round = rows.groupby("round")["protocol"].agg(set)
        crossed += [(step, r) for r in by_round.index if r > 0 and by_round[r] - by_round.get(r - 1, set())]
    assert crossed


def test_more_venues_mean_a_shallower_effective_crash_than_one_v2_pool(routed, v2_only):
    # Same book, same path; the router adds the v3 pool and the order book to the v2 pool, so
    # the same forced selling moves WETH's market price less.
    m, base = routed[0].metrics, v2_only.metrics
    assert m["max_drawdown_effective"]["WETH"] < base["max_drawdown_effective"]["WETH"]
    assert m["max_drawdown_exogenous"] == base["max_drawdown_exogenous"]
    assert m["max_drawdown_effective"]["WETH"] > m["max_drawdown_exogenous"]["WETH"]    # still thin: sales bite


def test_with_the_router_the_counterfactual_has_no_cascade(venue_lake, monkeypatch):
    config = make_config(SCENARIO, venue_lake, [THIN], feedback=False)
    with_router(monkeypatch, venue_lake, config)
    m = run(config, SCENARIO).metrics
    assert m["cascade_depth"] == 0 and m["amplification"] == 1.0
    assert m["max_drawdown_effective"] == m["max_drawdown_exogenous"]


def test_routed_replays_are_deterministic(venue_lake, routed, monkeypatch):
    config = make_config(SCENARIO, venue_lake, [THIN])
    with_router(monkeypatch, venue_lake, config)
    again = run(config, SCENARIO)
    same_table(again.outcome.liquidations, routed[0].outcome.liquidations)
    same_table(again.outcome.steps, routed[0].outcome.steps)


def test_split_orders_in_a_replay_never_pay_less_than_the_whole_order_would(venue_lake, monkeypatch):
    config = make_config(SCENARIO, venue_lake, [THIN])
    checks = []

    def initial_venues(inputs, feedback):
        b = inputs.book
        router = load_venues(venue_lake, b.price_assets, b.prices, b.block_number, config, split=True)
        router = router.fresh(inputs.exogenous[0], feedback)

        def sell(asset, amount, _sell=router.sell):
            router.split = False
            whole = router.sell_quote(asset, amount)
            router.split = True
            usd = _sell(asset, amount)
            checks.append((usd, whole))
            return usd
        router.sell = sell
        return router
    patch_initial_venues(monkeypatch, initial_venues)
    result = run(config, SCENARIO)
    assert result.metrics["liquidations"] > 100
    assert all(usd >= whole * (1 - 1e-12) for usd, whole in checks)
    assert sum(usd > whole * (1 + 1e-6) for usd, whole in checks) > 10     # and splitting does happen
