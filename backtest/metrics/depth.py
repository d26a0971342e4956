"""How much selling each asset's market could take at the start of a run: its 2 % depth.

"Pool depth consumed" compares what the liquidators sold with this. The 2 % depth (units that
move the price down 2 %) is the usual market-depth yardstick, and it means the same for every
kind of venue the engine routes to: Uniswap v2 and v3 pools and order-book depth curves.
"""

from __future__ import annotations

import math

import numpy as np

IMPACT = 0.02


def v2_depth(base_reserve: float, impact: float = IMPACT) -> float:
    """Units that move a constant-product pool's marginal price down by `impact`, fee aside.

    Selling a into reserves (R_b, R_q) leaves the marginal price at mid * (R_b / (R_b + a))^2
    (x * y = k, Uniswap/v2-core UniswapV2Pair.sol), so a = R_b * (1 / sqrt(1 - impact) - 1).
    """
    return base_reserve * (1.0 / math.sqrt(1.0 - impact) - 1.0)


def starting_depth(pools, price_assets: list[str], impact: float = IMPACT) -> dict[str, float]:
    """Units of each asset that move its market down by `impact` at the start, summed over its venues.

    `pools` is what the engine loaded: a router over venues of any kind (each with `.asset` and
    `.depth(impact)`, backtest/markets/router.py), or one Uniswap v2 pool per asset (`.asset`, `.base`).
    """
    out = np.zeros(len(price_assets))
    if hasattr(pools, "venues"):
        for venue in pools.venues:
            out[venue.asset] += venue.depth(impact)
    elif hasattr(pools, "base"):
        for a, base in zip(np.asarray(pools.asset).tolist(), np.asarray(pools.base).tolist()):
            out[a] += v2_depth(base, impact)
    return {price_assets[i]: float(v) for i, v in enumerate(out) if v > 0}
