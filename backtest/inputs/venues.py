"""Build a replay's Router from the lake: every pool and depth curve for the book's assets.

Per volatile asset: every Uniswap v2 and v3 pool against a USD stablecoin (priced within 5 %
of $1 at the snapshot, as `backtest.inputs.book.load_pools`), every depth curve (quoted in
USD), and pools against another volatile asset that has USD venues of its own (wstETH/WETH).
Each venue takes its latest state at or before the block, has its depth scaled by
`pool_depth_scale`, and is re-anchored to the book's price:
  v2  x*y=k kept (times scale^2), reserves moved to the book's price, exactly as load_pools;
  v3  liquidity and every liquidity_net times scale; the whole tick profile translated by the
      whole number of ticks nearest the book's price, then a swap to the exact price;
  depth curve  amounts times scale, centred on the book's price.
Order of operations for a pool quoted in a volatile asset: the quote's price is the book's
(its market price at the start), and the pool's price in quote units is book[base]/book[quote].
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from backtest.errors import InputError
from backtest.lake.io import read_table
from backtest.markets import uniswap_v3
from backtest.inputs.depth_table import curves_at, read_depth_curves
from backtest.markets.router import DEPTH_IMPACT, Router
from backtest.markets.depth_book import USD, DepthBook
from backtest.markets.venue_kinds import V2Pool, V3Pool

STABLE_BAND = 0.05
_LOG_TICK = math.log(1.0001)


def load_venues(lake: Path, book_assets: list[str], book_prices: np.ndarray, block: int, config,
                split: bool | None = None) -> Router:
    """All venues of the book's assets at `block`, anchored to `book_prices` (USD).

    `split` (default: the config's `split_orders` if it has one, else False) lets the router
    split an order across venues at equal marginal prices instead of sending it whole."""
    lake = Path(lake)
    prices = np.asarray(book_prices, dtype=float)
    idx = {a: i for i, a in enumerate(book_assets)}
    stable = {a for a in book_assets if abs(prices[idx[a]] - 1.0) < STABLE_BAND}
    scale = float(config.pool_depth_scale)
    pools = read_table(lake, "pools", required=False).to_pandas()
    pools = pools[pools["block_number"] <= block].sort_values(["block_number", "pool"], kind="stable")
    pools = pools.groupby("pool").tail(1).sort_values("pool")
    pools = pools[pools["unknown"].isna()]     # a row missing tokens, fee or reserves (pools' `unknown`) is no venue
    ticks = read_table(lake, "pool_ticks", required=False).to_pandas()
    decimals = _decimals(lake) if (pools["dex"] == "uniswap-v3").any() else {}

    direct, cross = [], []
    for row in pools.itertuples(index=False):
        if row.token0 not in idx or row.token1 not in idx or row.dex not in ("uniswap-v2", "uniswap-v3"):
            continue
        vol0, vol1 = row.token0 not in stable, row.token1 not in stable
        if vol0 and not vol1:
            direct.append((row, True))
        elif vol1 and not vol0:
            direct.append((row, False))
        elif vol0 and vol1:
            cross.append(row)
    venues = [_pool_venue(r, base0, idx, prices, scale, pools, ticks, decimals, block) for r, base0 in direct]
    for (venue, asset), (impacts, amounts, fee) in curves_at(read_depth_curves(lake), block).items():
        if asset in idx and asset not in stable:
            venues.append(DepthBook(asset=idx[asset], impacts=impacts, amounts=amounts * scale, fee=fee,
                                    reference=float(prices[idx[asset]]), name=f"{venue}:{asset}"))
    usd_depth = _usd_depth(venues, prices)
    for row in cross:
        # The quote is the side with the deeper USD venues: it is priced first, then the pool.
        d0, d1 = usd_depth.get(idx[row.token0], 0.0), usd_depth.get(idx[row.token1], 0.0)
        if d0 == 0.0 and d1 == 0.0:
            continue
        base0 = d1 >= d0
        venues.append(_pool_venue(row, base0, idx, prices, scale, pools, ticks, decimals, block))
    kind = {V2Pool: 0, V3Pool: 1, DepthBook: 2}
    venues.sort(key=lambda v: (v.asset, kind[type(v)], v.name))
    split = bool(getattr(config, "split_orders", False)) if split is None else split
    # feedback is the replay's choice, not the loader's: each run moves a fresh copy made with its own
    # (engine/replay.initial_venues), so loaded inputs are the same for both (sweep/inputs.REPLAY_ONLY)
    return Router(price=prices.copy(), venues=venues, feedback=True, split=split)


def _usd_depth(venues, prices) -> dict[int, float]:
    out: dict[int, float] = {}
    for v in venues:
        out[v.asset] = out.get(v.asset, 0.0) + v.depth(DEPTH_IMPACT) * prices[v.asset]
    return out


def _decimals(lake: Path) -> dict[str, int]:
    markets = read_table(lake, "markets").to_pandas().dropna(subset=["decimals"])
    return {a: int(d) for a, d in markets.groupby("asset")["decimals"].first().items()}


def _pool_venue(row, base_is_token0: bool, idx, prices, scale, pools, ticks, decimals, block):
    base_tok, quote_tok = (row.token0, row.token1) if base_is_token0 else (row.token1, row.token0)
    a, q = idx[base_tok], idx[quote_tok]
    price_in_quote = prices[a] / prices[q]
    if row.dex == "uniswap-v2":
        rb, rq = (row.reserve0, row.reserve1) if base_is_token0 else (row.reserve1, row.reserve0)
        k = rb * rq * scale ** 2
        return V2Pool(asset=a, quote_asset=q, base=float(np.sqrt(k / price_in_quote)),
                      quote=float(np.sqrt(k * price_in_quote)), fee=float(row.fee), name=row.pool)
    for tok in (base_tok, quote_tok):
        if tok not in decimals:
            raise InputError(f"v3 pool {row.pool}: no decimals for {tok} in the markets table",
                             file=Path("markets"), column="decimals")
    state = uniswap_v3.state_from_lake(pools, ticks, row.pool, block)
    pool = V3Pool(asset=a, quote_asset=q, state=state, base_is_token0=base_is_token0,
                  base_decimals=decimals[base_tok], quote_decimals=decimals[quote_tok], name=row.pool)
    return anchor_v3(pool, price_in_quote, scale)


def anchor_v3(pool: V3Pool, price_in_quote: float, scale: float) -> V3Pool:
    """Scale the liquidity, translate the tick profile to the price, then swap to it exactly.

    Translating keeps the depth at every distance from mid (what a stress test starting at the
    book's price needs); the lake's absolute tick levels are not kept."""
    s = pool.state
    target = pool._sqrt_price_for(price_in_quote)
    shift = int(round(2.0 * math.log(target / s.sqrt_price) / _LOG_TICK))
    if s.liquidity * scale < 0 or not math.isfinite(shift):
        raise InputError(f"v3 pool {pool.name}: cannot anchor to price {price_in_quote}", column="sqrt_price_x96")
    moved = replace(s, sqrt_price=s.sqrt_price * math.exp(shift * _LOG_TICK / 2.0), tick=s.tick + shift,
                    liquidity=s.liquidity * scale, ticks=s.ticks + shift, liquidity_net=s.liquidity_net * scale)
    if len(moved.ticks) and (moved.ticks[0] < uniswap_v3.MIN_TICK or moved.ticks[-1] > uniswap_v3.MAX_TICK):
        raise InputError(f"v3 pool {pool.name}: re-anchored ticks leave the tick range", column="tick")
    pool = replace(pool, state=moved)
    pool.pull_to(price_in_quote, price_in_quote)
    return pool


def describe(router: Router, assets: list[str]) -> pa.Table:
    """One row per venue: what a replay trades on (for logs and the docs' examples)."""
    rows = [dict(asset=assets[v.asset], venue=v.name, kind=type(v).__name__,
                 quote="USD" if v.quote_asset == USD else assets[v.quote_asset], fee=float(v.fee),
                 mid_usd=float(v.mid() * router._quote_usd(i)),
                 depth_2pct=float(v.depth(DEPTH_IMPACT))) for i, v in enumerate(router.venues)]
    return pa.Table.from_pylist(rows)


def venues_for_replay(inputs, config, feedback: bool) -> Router:
    """The engine's hook: a fresh router for one replay (its own venues to move), loaded from
    the run's lake at the book's block and starting at the path's first prices."""
    book = inputs.book
    router = load_venues(Path(config.lake), book.price_assets, book.prices, book.block_number, config)
    return router.fresh(inputs.exogenous[0], feedback)
