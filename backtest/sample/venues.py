"""SYNTHETIC extra venues for the sample lake: Uniswap v3 pools and off-chain depth curves.

Nothing here is on-chain data. Shapes follow mainnet where it is public knowledge: USDC/WETH
at 5 bps with USDC as token0 (6 and 18 decimals, tick spacing 10), wstETH/WETH at 1 bp with
tight ranges around the exchange rate (spacing 1), and a centralised exchange whose order book
holds a few thousand ETH within 1 % of mid. Liquidity is drawn as seeded random positions around
the price; the active liquidity is then scaled to the depth wanted.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa

from backtest.lake.io import write_table
from backtest.inputs.depth_table import write_depth_curves

SNAPSHOT_BLOCK = 18_908_895                      # backtest.sample.lake.SNAPSHOT_BLOCK
SOURCE = "synthetic:sample-venues"
_LOG_TICK = math.log(1.0001)

# pool: (token0, token1, decimals0, decimals1, fee, tick spacing, token1 per token0 (whole),
#        median half-width in ticks, USD depth 2 % below mid wanted)
V3_POOLS = {
    "sample-v3:USDC-WETH-5": ("USDC", "WETH", 6, 18, 0.0005, 10, 1 / 2280.0, 1500, 8e6),
    "sample-v3:wstETH-WETH-1": ("wstETH", "WETH", 18, 18, 0.0001, 1, 2620.0 / 2280.0, 60, 6e6),
}
# venue, asset: amounts (base units) sellable down to 0.5 / 1 / 2 / 5 % below mid, taker fee
DEPTH_CURVES = {
    ("sample-cex", "WETH"): ((1_300.0, 2_800.0, 6_000.0, 16_000.0), 0.001),
    ("sample-cex", "WBTC"): ((40.0, 90.0, 200.0, 550.0), 0.001),
}
IMPACTS = (0.005, 0.01, 0.02, 0.05)


def _positions(rng, tick: int, spacing: int, half_width: float, n: int = 24):
    """(lower, upper, weight) of n positions around `tick`, on the spacing grid."""
    centre = tick + rng.normal(0.0, half_width / 5, n)
    centre[0] = tick
    half = np.maximum(np.exp(rng.normal(math.log(half_width), 0.7, n)), 2 * spacing)
    lower = np.floor((centre - half) / spacing).astype(np.int64) * spacing
    upper = np.ceil((centre + half) / spacing).astype(np.int64) * spacing
    return lower, upper, np.exp(rng.normal(0.0, 1.0, n))


def v3_pool_tables(rng, name: str, spec) -> tuple[dict, list[dict]]:
    token0, token1, d0, d1, fee, spacing, price, half_width, depth_usd = spec
    raw_price = price * 10.0 ** (d1 - d0)
    tick = math.floor(math.log(raw_price) / _LOG_TICK)
    lower, upper, weight = _positions(rng, tick, spacing, half_width)
    # Inside a range v3 is x*y=k on virtual reserves, and the USD sellable 2 % below mid is
    # about 1 % of the virtual USD reserve of the side bought (0.0102 x); so that reserve is
    # depth / 0.0102, and L = reserve / sqrt(price) in whole units (x USD, y = x P, L = sqrt(xy)).
    usd_per_token0 = 1.0 if token0 == "USDC" else 2620.0
    reserve0 = depth_usd / (1 / math.sqrt(0.98) - 1) / usd_per_token0
    active_whole = reserve0 * math.sqrt(price)
    target = active_whole * 10.0 ** ((d0 + d1) / 2)
    active = weight[(lower <= tick) & (tick < upper)].sum()
    liq = np.floor(weight * target / active).astype(object)
    net: dict[int, int] = {}
    for lo, hi, l in zip(lower.tolist(), upper.tolist(), liq.tolist()):
        net[lo] = net.get(lo, 0) + int(l)
        net[hi] = net.get(hi, 0) - int(l)
    ticks = sorted(t for t, v in net.items() if v != 0)
    active_liq = sum(net[t] for t in ticks if t <= tick)
    sqrt_x96 = int(math.sqrt(raw_price) * 2**96)
    pool = dict(dex="uniswap-v3", pool=name, token0=token0, token1=token1, fee=fee, block_number=SNAPSHOT_BLOCK,
                sqrt_price_x96=str(sqrt_x96), tick=tick, liquidity=str(active_liq))
    rows = [dict(pool=name, block_number=SNAPSHOT_BLOCK, tick=t, liquidity_net=str(net[t])) for t in ticks]
    return pool, rows


def depth_curve_table() -> pa.Table:
    rows = [dict(venue=venue, asset=asset, impact=i, amount=a, fee=fee, valid_from_block=SNAPSHOT_BLOCK,
                 source=SOURCE)
            for (venue, asset), (amounts, fee) in DEPTH_CURVES.items() for i, a in zip(IMPACTS, amounts)]
    return pa.Table.from_pylist(rows)


def add_sample_venues(lake: Path, seed: int = 7) -> dict[str, int]:
    """Write the synthetic v3 pools, their ticks and the depth curves beside the sample's v2 pools."""
    rng = np.random.default_rng(seed)
    pools, ticks = [], []
    for name, spec in V3_POOLS.items():
        pool, rows = v3_pool_tables(rng, name, spec)
        pools.append(pool)
        ticks += rows
    write_table(lake, "pools", pa.Table.from_pylist(pools), "sample_v3.parquet")
    write_table(lake, "pool_ticks", pa.Table.from_pylist(ticks), "sample_v3.parquet")
    write_depth_curves(lake, depth_curve_table(), "sample_cex.parquet")
    return {"pools": len(pools), "pool_ticks": len(ticks), "depth_curves": depth_curve_table().num_rows}
