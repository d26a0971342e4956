"""The health factors of the sample book: a debt-weighted target distribution and a seeded draw that meets it.

No real account book is among the project's real data (/work/shared/data/real has prices, oracle rounds, pool
states and gas, not positions), so the target is a published one. Its anchor, for the band that decides when
liquidations start: Perez, Werner, Xu, Livshits, "Liquidations: DeFi on a Knife-edge" (FC 2021,
arXiv:2009.13235) measure on Compound, then the largest lending market, that a 3 % move in an asset's price
makes "over 10m USD" liquidable; against Compound's borrows at the time (roughly $0.6-1B, public dashboards,
not from the paper) that is 1-2 % of the debt within 3 % of liquidation. TARGET puts 2 % of the debt
in HF 1.00-1.05, but the band starts at HF_FLOOR: about 0.5 % of the debt is within 3 % of liquidation,
under the anchor, the price of the floor (without it the same band would put 1.2 % there). The bands
above 1.10 are a judgement, not a measurement (no dated published figure we could cite): most debt
between HF 1.25 and 5, a few % above 5.

The book outside e-mode follows TARGET; e-mode loops (backtest/sample/lake.py) sit at HF 1.03-1.15 by design
(LT / LTV of their category), as on Aave v3, and are not counted in it: a wstETH/WETH loop is not liquidated by
a fall of ETH. HF_FLOOR keeps every account off the edge, so nothing is liquidated before prices move by 1 %
(a 1 % fall of the collateral with a 1 % rise of the debt asset moves HF by 2 %).
"""

from __future__ import annotations

import numpy as np

HF_FLOOR = 1.025
# (low, high, share of the debt outside e-mode): the bands of queries/health_bands.sql
TARGET = ((1.00, 1.05, 0.02), (1.05, 1.10, 0.04), (1.10, 1.25, 0.14), (1.25, 1.50, 0.24),
          (1.50, 2.00, 0.27), (2.00, 5.00, 0.25), (5.00, 10.0, 0.04))
# What the shipped sample's band shares may differ from TARGET by (percentage points of the debt):
# the draw is random and a few large accounts weigh a lot (sizes are lognormal).
TOLERANCE_PP = 2.0


def draw_health_factors(rng: np.random.Generator, n: int, target=TARGET) -> np.ndarray:
    """n health factors whose debt-weighted distribution is `target` when debt is adjusted collateral / HF
    and the adjusted collateral is drawn independently of HF. Debt-weighting divides an account's weight by
    its HF, so an account's HF is drawn with density proportional to target density x HF: a band by
    share x mean HF, then HF in the band with density proportional to HF (inverse CDF). No HF is below
    HF_FLOOR."""
    lo = np.maximum([b[0] for b in target], HF_FLOOR)
    hi = np.array([b[1] for b in target])
    weight = np.array([b[2] for b in target]) * (lo + hi) / 2
    band = rng.choice(len(target), size=n, p=weight / weight.sum())
    u = rng.random(n)
    return np.sqrt(lo[band] ** 2 + u * (hi[band] ** 2 - lo[band] ** 2))

