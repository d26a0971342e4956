"""Per-asset parameters of the reference market's impact model (issue 15 item 1).

A signed USD flow q reaching asset a's reference market, with temporary flow Q still outstanding,
moves its log price by  sign(q) * Y * sigma * (sqrt(|Q+q|/V) - sqrt(|Q|/V))  (square-root law,
Toth et al. 2011; Bouchaud et al. 2018, "Trades, Quotes and Prices", ch. 12). A share theta of
each move is permanent; the rest, and Q, decay with half-life h.

PROVISIONAL: the values below are literature placeholders so the engine can import the table;
`backtest calibrate` replaces them with fits on ../shared/data/real (docs/calibration.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImpactParams:
    daily_volume_usd: float      # V: typical daily traded volume, USD
    daily_volatility: float      # sigma: standard deviation of daily log returns
    y: float                     # Y: square-root-law prefactor (dimensionless)
    permanent_share: float       # theta: share of an impact that never decays
    half_life_seconds: float     # h: half-life of the temporary part and of the outstanding flow
    source: str                  # where each number comes from


_LIT = ("provisional literature values: Y~1 (Toth et al. 2011; Bouchaud et al. 2018 ch. 12), "
        "theta 0.5 and h 1800 s placeholders; V and sigma rough Binance spot 2021-2023 orders of "
        "magnitude; to be replaced by `backtest calibrate`")

IMPACT: dict[str, ImpactParams] = {
    "WETH": ImpactParams(1.0e9, 0.040, 1.0, 0.5, 1800.0, _LIT),
    "wstETH": ImpactParams(2.0e7, 0.040, 1.0, 0.5, 1800.0, _LIT),
    "WBTC": ImpactParams(1.0e7, 0.035, 1.0, 0.5, 1800.0, _LIT),
    "CRV": ImpactParams(3.0e7, 0.060, 1.0, 0.5, 1800.0, _LIT),
    "LINK": ImpactParams(5.0e7, 0.055, 1.0, 0.5, 1800.0, _LIT),
    "USDC": ImpactParams(5.0e8, 0.001, 1.0, 0.5, 1800.0, _LIT),
    "USDT": ImpactParams(5.0e8, 0.001, 1.0, 0.5, 1800.0, _LIT),
    "DAI": ImpactParams(5.0e7, 0.001, 1.0, 0.5, 1800.0, _LIT),
}

DEFAULT = ImpactParams(1.0e7, 0.060, 1.0, 0.5, 1800.0, _LIT)
