"""load_venues: every pool and depth curve of the book's assets, at the block, re-anchored to the book."""

import math
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest

from backtest.config import RunConfig
from backtest.inputs.book import load_book, load_pools
from backtest.errors import InputError
from backtest.lake.io import read_table, write_table
from backtest.inputs.depth_table import read_depth_curves, write_depth_curves
from backtest.inputs.venues import describe, load_venues
from backtest.sample.venues import SNAPSHOT_BLOCK, add_sample_venues
from backtest.markets.depth_book import DepthBook
from backtest.markets.venue_kinds import V2Pool, V3Pool
from backtest.sample.lake import write_sample_lake
from backtest.scenarios import load_scenario

Q96 = 2**96
ASSETS = ["USDC", "WETH", "wstETH"]
PRICES = np.array([1.0, 2_000.0, 2_300.0])


def config(lake, **kw):
    return replace(RunConfig(scenario="stylised-eth-crash", lake=str(lake)), **kw)


def minimal_lake(tmp_path, pools, ticks=None, curves=None):
    lake = tmp_path / "lake"
    write_table(lake, "markets", pa.Table.from_pylist([
        dict(protocol="aave-v3", asset=a, decimals=d, ltv=0.5, liquidation_threshold=0.6, liquidation_bonus=0.05,
             valid_from_block=1) for a, d in (("USDC", 6), ("WETH", 18), ("wstETH", 18))]))
    write_table(lake, "pools", pa.Table.from_pylist(pools))
    if ticks:
        write_table(lake, "pool_ticks", pa.Table.from_pylist(ticks))
    if curves:
        write_depth_curves(lake, pa.Table.from_pylist(curves))
    return lake


def v2_row(pool, t0, t1, r0, r1, block=100, fee=0.003):
    return dict(dex="uniswap-v2", pool=pool, token0=t0, token1=t1, fee=fee, block_number=block, reserve0=r0,
                reserve1=r1)


def one_range_v3_rows(price_weth_per_usdc_raw: float, liq: int, low: int, high: int, block=100):
    tick = math.floor(math.log(price_weth_per_usdc_raw) / math.log(1.0001))
    pool = dict(dex="uniswap-v3", pool="v3", token0="USDC", token1="WETH", fee=0.0005, block_number=block,
                sqrt_price_x96=str(int(math.sqrt(price_weth_per_usdc_raw) * Q96)), tick=tick, liquidity=str(liq))
    ticks = [dict(pool="v3", block_number=block, tick=low, liquidity_net=str(liq)),
             dict(pool="v3", block_number=block, tick=high, liquidity_net=str(-liq))]
    return pool, ticks


def test_the_sample_lake_has_every_venue_kind_and_v2_pools_keep_k(small_lake):
    # The engine's venues are the loader's: v2 pools keep x*y = k (scaled by depth_scale^2) while
    # being moved to the book's price; the sample also has v3 pools and order books.
    cfg = config(small_lake, pool_depth_scale=0.3)
    book = load_book(small_lake, load_scenario("stylised-eth-crash"), cfg)
    router = load_pools(small_lake, book, cfg)
    kinds = {type(v).__name__ for v in router.venues}
    assert {"V2Pool", "V3Pool", "DepthBook"} <= kinds
    table = read_table(small_lake, "pools").to_pandas().set_index("pool")
    for v in router.venues:
        if isinstance(v, V2Pool):
            row = table.loc[v.name]
            assert v.base * v.quote == pytest.approx(row.reserve0 * row.reserve1 * 0.09, rel=1e-12)
            assert v.quote / v.base == pytest.approx(book.prices[v.asset] / book.prices[v.quote_asset], rel=1e-12)


def test_each_pool_takes_its_latest_state_at_or_before_the_block(tmp_path):
    lake = minimal_lake(tmp_path, [v2_row("p", "WETH", "USDC", 10.0, 20_000.0, block=100),
                                   v2_row("p", "WETH", "USDC", 40.0, 80_000.0, block=200)])
    # At block 150 the first row holds: k = 10 x 20,000; re-anchored to 2,000 -> 10 WETH, 20,000 USDC.
    (pool,) = load_venues(lake, ASSETS, PRICES, 150, config(lake)).venues
    assert (pool.base, pool.quote) == (pytest.approx(10.0), pytest.approx(20_000.0))
    (pool,) = load_venues(lake, ASSETS, PRICES, 250, config(lake)).venues
    assert pool.base == pytest.approx(40.0)
    assert load_venues(lake, ASSETS, PRICES, 50, config(lake)).venues == []


def test_a_v3_pool_is_anchored_to_the_book_price_with_its_shape_kept(tmp_path):
    # USDC (6 dec) token0, WETH (18) token1, lake price 2,100 USD/WETH: raw WETH per raw USDC
    # = 10^12 / 2,100. One range +-600 ticks (about +-6 %) around it.
    raw = 1e12 / 2_100.0
    tick = math.floor(math.log(raw) / math.log(1.0001))
    pool, ticks = one_range_v3_rows(raw, 10**18, tick - 600, tick + 600)
    lake = minimal_lake(tmp_path, [pool], ticks)
    (v,) = load_venues(lake, ASSETS, PRICES, 100, config(lake)).venues
    assert isinstance(v, V3Pool) and not v.base_is_token0 and v.quote_asset == 0
    # The book says 2,000: the pool's mid is moved there exactly ...
    assert v.mid() == pytest.approx(2_000.0, rel=1e-12)
    # ... and the range moved with it: 2,000 is still mid-range, so the ticks shifted by
    # round(log(2,100/2,000) / log(1.0001)) = 488 (the price of WETH is the inverse of P).
    assert v.state.ticks.tolist() == [tick - 600 + 488, tick + 600 + 488]
    assert v.state.liquidity == 1e18


def test_pool_depth_scale_scales_v3_liquidity_and_depth_curves(tmp_path):
    raw = 1e12 / 2_000.0
    tick = math.floor(math.log(raw) / math.log(1.0001))
    pool, ticks = one_range_v3_rows(raw, 10**18, tick - 600, tick + 600)
    curve = [dict(venue="cex", asset="WETH", impact=i, amount=a, valid_from_block=1)
             for i, a in ((0.01, 100.0), (0.02, 300.0))]
    lake = minimal_lake(tmp_path, [pool], ticks, curve)
    one = load_venues(lake, ASSETS, PRICES, 100, config(lake)).venues
    two = load_venues(lake, ASSETS, PRICES, 100, config(lake, pool_depth_scale=2.0)).venues
    assert two[0].depth(0.02) == pytest.approx(2 * one[0].depth(0.02), rel=1e-9)
    assert two[1].amounts.tolist() == [200.0, 600.0]


def test_a_wsteth_weth_pool_is_quoted_in_weth_valued_at_wethS_price(tmp_path):
    lake = minimal_lake(tmp_path, [v2_row("weth", "WETH", "USDC", 1_000.0, 2e6),
                                   v2_row("lsd", "wstETH", "WETH", 500.0, 575.0, fee=0.0005)])
    r = load_venues(lake, ASSETS, PRICES, 100, config(lake))
    lsd = next(v for v in r.venues if v.name == "lsd")
    # WETH has USD venues and wstETH has none, so WETH is the quote; the pool is re-anchored to
    # 2,300 / 2,000 = 1.15 WETH per wstETH with k = 500 x 575 kept.
    assert (lsd.asset, lsd.quote_asset) == (2, 1)
    assert lsd.mid() == pytest.approx(1.15, rel=1e-12) and lsd.base * lsd.quote == pytest.approx(500 * 575)
    assert r.sell_quote(2, 1.0) == pytest.approx(lsd.sell_out(1.0) * 2_000.0, rel=1e-12)


def test_a_pool_between_two_assets_without_usd_venues_is_left_out(tmp_path):
    lake = minimal_lake(tmp_path, [v2_row("lsd", "wstETH", "WETH", 500.0, 575.0)])
    assert load_venues(lake, ASSETS, PRICES, 100, config(lake)).venues == []


def test_the_latest_depth_curve_at_or_before_the_block_is_used(tmp_path):
    curves = [dict(venue="cex", asset="WETH", impact=i, amount=a, fee=0.001, valid_from_block=b)
              for b, pts in ((10, ((0.01, 100.0), (0.02, 300.0))), (90, ((0.01, 50.0), (0.05, 400.0))))
              for i, a in pts]
    lake = minimal_lake(tmp_path, [v2_row("weth", "WETH", "USDC", 1_000.0, 2e6)], curves=curves)
    book = next(v for v in load_venues(lake, ASSETS, PRICES, 50, config(lake)).venues if isinstance(v, DepthBook))
    assert book.amounts.tolist() == [100.0, 300.0] and book.reference == 2_000.0 and book.fee == 0.001
    book = next(v for v in load_venues(lake, ASSETS, PRICES, 95, config(lake)).venues if isinstance(v, DepthBook))
    assert book.impacts.tolist() == [0.01, 0.05]


@pytest.mark.parametrize("bad, column, message", [
    (dict(impact=2.0), "impact", "fraction"),
    (dict(amount=-5.0), "amount", "positive"),
    (dict(fee=0.7), "fee", "within"),
    (dict(venue=None), "venue", "empty"),
])
def test_bad_depth_rows_are_located_by_file_column_and_row(tmp_path, bad, column, message):
    rows = [dict(venue="cex", asset="WETH", impact=0.01, amount=100.0, fee=0.0, valid_from_block=1),
            {**dict(venue="cex", asset="WETH", impact=0.02, amount=300.0, fee=0.0, valid_from_block=1), **bad}]
    with pytest.raises(InputError, match=message) as err:
        write_depth_curves(tmp_path, pa.Table.from_pylist(rows))
    assert (err.value.column, err.value.row) == (column, 2)


def test_a_curve_whose_amounts_fall_as_impact_grows_is_refused_when_read(tmp_path):
    import pyarrow.parquet as pq
    (tmp_path / "depth_curves").mkdir()
    pq.write_table(pa.Table.from_pylist([dict(venue="cex", asset="WETH", impact=i, amount=a, valid_from_block=1)
                                         for i, a in ((0.01, 300.0), (0.02, 100.0))]),
                   tmp_path / "depth_curves" / "x.parquet")
    with pytest.raises(InputError, match="cex/WETH.*strictly increasing") as err:
        read_depth_curves(tmp_path)
    assert err.value.file.name == "x.parquet"


def test_a_v3_pool_needs_its_tokens_decimals(tmp_path):
    raw = 1e12 / 2_000.0
    tick = math.floor(math.log(raw) / math.log(1.0001))
    pool, ticks = one_range_v3_rows(raw, 10**18, tick - 600, tick + 600)
    lake = minimal_lake(tmp_path, [pool], ticks)
    write_table(lake, "markets", pa.Table.from_pylist([
        dict(protocol="aave-v3", asset="WETH", decimals=18, ltv=0.5, liquidation_threshold=0.6,
             liquidation_bonus=0.05, valid_from_block=1)]))
    with pytest.raises(InputError, match="decimals for USDC"):
        load_venues(lake, ASSETS, PRICES, 100, config(lake))


def test_sample_venues_load_anchored_and_deterministic(tmp_path):
    lake = tmp_path / "lake"
    write_sample_lake(lake, seed=3, n_accounts=200)
    add_sample_venues(lake, seed=3)
    first = (lake / "pool_ticks" / "sample_v3.parquet").read_bytes()
    add_sample_venues(lake, seed=3)
    assert (lake / "pool_ticks" / "sample_v3.parquet").read_bytes() == first
    cfg = config(lake)
    book = load_book(lake, load_scenario("stylised-eth-crash"), cfg)
    assert book.block_number == SNAPSHOT_BLOCK
    r = load_venues(lake, book.price_assets, book.prices, book.block_number, cfg)
    weth = book.price_assets.index("WETH")
    kinds = sorted(type(r.venues[v]).__name__ for v in r.by_asset[weth])
    assert kinds == ["DepthBook", "V2Pool", "V3Pool"]
    for v, venue in enumerate(r.venues):     # every venue starts at the book's price
        assert venue.mid() * r._quote_usd(v) == pytest.approx(book.prices[venue.asset], rel=1e-9)


def test_describe_lists_each_venue_with_its_depth(small_lake, tmp_path):
    lake = minimal_lake(tmp_path, [v2_row("deep", "WETH", "USDC", 1_000.0, 2e6),
                                   v2_row("thin", "WETH", "USDC", 100.0, 2e5)])
    table = describe(load_venues(lake, ASSETS, PRICES, 100, config(lake)), ASSETS).to_pandas()
    assert table["venue"].tolist() == ["deep", "thin"] and (table["quote"] == "USDC").all()
    # Depth 2 % below mid is base x (1/sqrt(0.98) - 1): 1,000 : 100 ETH of base.
    assert table["depth_2pct"].tolist() == pytest.approx([1_000 * (1 / 0.98 ** 0.5 - 1), 100 * (1 / 0.98 ** 0.5 - 1)])
    assert table["mid_usd"].tolist() == pytest.approx([2_000.0, 2_000.0])
