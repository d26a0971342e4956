"""Assemble the impact table from the real data folder and render `markets/impact_params.py`.

Which file calibrates which asset, and why, is the SPOT table below; Y, theta and h come from the
one series with forced-liquidation flow (Binance ETH futures, January 2021) and are applied to
every asset (the square-root prefactor is close to universal across assets: Toth et al. 2011).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backtest.calibration import fits
from backtest.calibration.read import read_hourly, read_liquidation_minutes, read_pool_reserves
from backtest.errors import InputError

# asset -> (file under the real folder, why this file)
SPOT = {
    "WETH": ("binance_1h_misrori/ETHUSDT_1h.csv", "Binance ETHUSDT"),
    "WBTC": ("binance_1h_misrori/BTCUSDT_1h.csv",
             "Binance BTCUSDT: WBTC's reference market is BTC's (WBTCUSDT itself trades ~0.3M USD/day)"),
    "wstETH": ("binance_1h_misrori/ETHUSDT_1h.csv",
               "Binance ETHUSDT: wstETH's reference price is ETH x the stETH rate and its liquidity is "
               "on-chain (Curve stETH/ETH; Kaiko Research 'stETH liquidity' 2023), modelled as DEX pools; "
               "the one LST on a CEX in the data, BETHUSDT, trades ~1M USD/day and is not where stETH trades"),
    "CRV": ("binance_1h_misrori/CRVUSDT_1h.csv", "Binance CRVUSDT"),
    "LINK": ("binance_1h_misrori/LINKUSDT_1h.csv", "Binance LINKUSDT"),
    "AAVE": ("binance_1h_misrori/AAVEUSDT_1h.csv", "Binance AAVEUSDT"),
    "MKR": ("binance_1h_misrori/MKRUSDT_1h.csv", "Binance MKRUSDT"),
    "USDC": ("binance_1h_misrori/USDCUSDT_1h.csv", "Binance USDCUSDT"),
    "USDT": ("binance_1h_misrori/USDCUSDT_1h.csv", "Binance USDCUSDT (the stable-stable pair measures USDT too)"),
    "DAI": ("binance_1h_misrori/USDCUSDT_1h.csv",
            "Binance USDCUSDT as the stable-stable proxy (no DAI market in the data)"),
}
FUTURES = "riskdao_binance_futures_2021_01/data_unified_0_ethusdt.csv"
# Binance ETHUSDT spot volume around the futures month (the hourly files have a gap 2020-12-30..2021-04-04):
# the 30 full days before and after it.
FUTURES_VOLUME = (("binance_1h_ingiorn/Binance_ETHUSDT_1h.csv", "2020-11-30", "2020-12-29"),
                  ("binance_1h_misrori/ETHUSDT_1h.csv", "2021-04-05", "2021-05-04"))
POOL_DAYS = "stablesims_feeds/eth_dai_liquidity"
STABLES = ("USDC", "USDT", "DAI")


def real_data_folder(given: Path | None = None) -> Path:
    """--real, else $BACKTEST_REAL_DATA, else ../shared/data/real beside the repository."""
    if given is not None:
        return Path(given)
    env = os.environ.get("BACKTEST_REAL_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"


@dataclass(frozen=True)
class Calibration:
    spot: dict[str, fits.DailyStats]
    impact: fits.ImpactFit
    futures_volume_usd: float
    futures_volatility: float
    pool_depth: list[dict]       # one row per crash day: the real pool's 2 % depth vs the CEX's
    robustness: list[tuple[str, fits.ImpactFit]]   # the same fit under other choices (no bootstrap)


def _window(bars, first: str, last: str):
    lo = np.datetime64(first, "D").astype("datetime64[s]").astype(np.int64)
    hi = (np.datetime64(last, "D") + 1).astype("datetime64[s]").astype(np.int64)
    keep = (bars.times_s >= lo) & (bars.times_s < hi)
    return bars.times_s[keep], bars.close[keep], bars.quote_volume[keep]


def _need(path: Path) -> Path:
    if not path.exists():
        raise InputError("missing (see MANIFEST.md of the real data folder)", file=path)
    return path


def calibrate(real: Path, *, bootstrap: int = 100, robustness: bool = True) -> Calibration:
    if not Path(real).is_dir():
        raise InputError("real data folder absent (pass --real or set BACKTEST_REAL_DATA)", file=real)
    cache: dict[str, fits.DailyStats] = {}
    spot = {}
    for asset, (rel, _) in SPOT.items():
        if rel not in cache:
            bars = read_hourly(_need(real / rel))
            cache[rel] = fits.daily_stats(bars.times_s, bars.close, bars.quote_volume)
        spot[asset] = cache[rel]
    parts = [_window(read_hourly(_need(real / rel)), a, b) for rel, a, b in FUTURES_VOLUME]
    around = fits.daily_stats(*(np.concatenate(c) for c in zip(*parts)))
    minutes = read_liquidation_minutes(_need(real / FUTURES))
    day = np.floor_divide(minutes.times_s, fits.DAY)
    closes = minutes.log_mid[np.r_[np.flatnonzero(np.diff(day)), len(day) - 1]]
    sigma = float(np.std(np.diff(closes), ddof=1))
    dt = np.r_[np.median(np.diff(minutes.times_s)), np.diff(minutes.times_s)]
    flow = minutes.short_usd - minutes.long_usd
    common = {"volume_usd": around.volume_usd, "volatility": sigma}
    impact = fits.fit_impact(minutes.log_mid, flow, dt, day=day, bootstrap=bootstrap, **common)
    checks = []
    if robustness:
        half = len(day) // 2
        variants = [(f"control for the preceding {p} min", slice(None), flow, {"pre": p}) for p in (1, 15, 60)]
        variants += [("first half of the month", slice(None, half), flow, {}),
                     ("second half of the month", slice(half, None), flow, {}),
                     ("long liquidations only (shorts left out)", slice(None), -minutes.long_usd, {})]
        for label, rows, f, kw in variants:
            checks.append((label, fits.fit_impact(minutes.log_mid[rows], f[rows], dt[rows], day=day[rows],
                                                  bootstrap=0, **common, **kw)))
    return Calibration(spot, impact, around.volume_usd, sigma, pool_depth(real, spot["WETH"], impact), checks)


def pool_depth(real: Path, eth: fits.DailyStats, impact: fits.ImpactFit, move: float = 0.02) -> list[dict]:
    """Per crash day: the Uniswap v2 ETH/DAI pool's 2 % depth (median and minimum over the day's
    10-minute rows) and its ratio to the sale that moves the calibrated ETH reference market 2 %."""
    cex = fits.sqrt_law_size_usd(move, y=impact.y, volatility=eth.volatility, volume_usd=eth.volume_usd)
    rows = []
    for path in sorted(_need(real / POOL_DAYS).glob("*.json"), key=lambda p: p.stem[-4:] + p.stem[:5]):
        weth, dai = read_pool_reserves(path)
        depth = np.array([fits.constant_product_depth_usd(w, d, move) for w, d in zip(weth, dai)])
        month, dd, year = path.stem.split("-")
        rows.append({"day": f"{year}-{month}-{dd}", "pool_depth_2pct_usd": float(np.median(depth)),
                     "pool_depth_2pct_min_usd": float(depth.min()), "cex_depth_2pct_usd": cex,
                     "ratio": float(np.median(depth)) / cex})
    return rows


def sig3(v: float) -> float:
    return float(f"{v:.3g}")


def params(cal: Calibration) -> tuple[dict[str, tuple], tuple, str]:
    """Rounded (V, sigma, Y, theta, h, source head) per asset, the DEFAULT row, and the fit's source
    (every row's source is its head + the fit's source)."""
    imp = cal.impact
    y, theta, h = sig3(imp.y), sig3(imp.permanent_share), sig3(imp.half_life_seconds)
    fit_src = (f"Y, theta, h: {FUTURES}, 2021-01-01..31, local projections of log mid on the sqrt-law "
               f"flow of Binance-futures liquidations, V {sig3(cal.futures_volume_usd):g} (Binance spot "
               f"ETHUSDT median of the 30 days each side), sigma {sig3(cal.futures_volatility):g} (the "
               f"month's daily closes); backtest calibrate")
    out = {}
    for asset, (rel, why) in SPOT.items():
        s = cal.spot[asset]
        src = (f"V, sigma: {rel} ({why}), {s.first_day}..{s.last_day}, median daily quote volume, "
               f"std of daily log returns; ")
        out[asset] = (sig3(s.volume_usd), sig3(s.volatility), y, theta, h, src)
    risky = [v for a, v in out.items() if a not in STABLES]
    default = (min(v[0] for v in risky), max(v[1] for v in risky), y, theta, h,
               "the thinnest volume and the largest volatility of the table's non-stable assets; ")
    return out, default, fit_src


HEADER = '''"""Per-asset parameters of the reference market's impact model (issue 15 item 1).

GENERATED by `backtest calibrate --write backtest/markets/impact_params.py` from ../shared/data/real;
docs/calibration.md describes each fit and its quality. Do not edit the numbers by hand:
tests/calibration checks that this table equals what the command computes.

A signed USD flow q reaching asset a's reference market, with temporary flow Q still outstanding,
moves its log price by  Y * sigma * (f(Q+q) - f(Q)),  f(x) = sign(x) * sqrt(|x|/V)  (square-root
law, Toth et al. 2011; Bouchaud et al. 2018, "Trades, Quotes and Prices", ch. 12; the signed form, so
a flow against the outstanding one undoes impact). A share theta of each move is permanent; the
rest, and Q, decay with half-life h.
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


'''


def render(cal: Calibration) -> str:
    table, default, fit_src = params(cal)
    lines = [HEADER, f"_FIT = {fit_src!r}\n\n", "IMPACT: dict[str, ImpactParams] = {\n"]
    for asset, row in table.items():
        lines.append(f"    {asset!r}: ImpactParams({row[0]!r}, {row[1]!r}, {row[2]!r}, {row[3]!r}, {row[4]!r},\n"
                     f"                           {row[5]!r} + _FIT),\n")
    lines.append("}\n\n")
    lines.append(f"DEFAULT = ImpactParams({default[0]!r}, {default[1]!r}, {default[2]!r}, {default[3]!r}, "
                 f"{default[4]!r},\n                       {default[5]!r} + _FIT)\n")
    return "".join(lines)
