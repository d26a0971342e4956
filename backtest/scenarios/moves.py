"""How each book asset moves in a scenario, and the betas for those it does not name.

A crash is dangerous because everything falls together; an asset left flat because a scenario
forgot it hides that. In a historical scenario an asset the scenario does not name takes its own
series from the lake when the lake covers the window; otherwise it moves with a beta to a named
asset (`[proxy]` in the scenario, or estimated by least squares on overlapping hourly log returns
in the lake: the 90 days of overlap nearest the scenario's start unless a window is given). Only
an asset with neither stays flat, and the replay summary says so. A stylised scenario's unnamed
assets stay flat unless it gives them a `[proxy]`: its window is not a real date to look up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa

from backtest.lake.catalog import run_query
from backtest.scenarios.library import Scenario, _utc

# Lake series names for book tokens that wrap a market asset (Binance prices ETH and BTC).
LAKE_NAMES = {"WETH": "ETH", "WBTC": "BTC"}
DEFAULT_REFERENCE = "WETH"
# USD stablecoins without a series of their own stay at their peg rather than take a fitted beta:
# CoinGecko's hourly USDC, USDT and DAI have betas of 0.04-0.05 to ETH over Apr-Jul 2021 (the
# shared real files), which on Black Thursday's -56 % would put USDC 3 % below a peg it held.
USD_STABLECOINS = frozenset({"USDC", "USDT", "DAI", "BUSD", "TUSD", "FDUSD", "LUSD", "FRAX", "GHO", "PYUSD",
                             "USDS", "crvUSD", "USDe", "sUSD", "GUSD", "USDP"})
ESTIMATE_DAYS = 90           # days of paired hourly returns nearest the scenario's start a beta is fitted on
MIN_RETURNS = 48             # two days of hourly returns, below which no beta is fitted


@dataclass(frozen=True)
class Move:
    """Where one book asset's path came from: `how` is scenario, own series, beta, or flat."""
    asset: str
    how: str
    detail: str = ""
    proxy: str | None = None
    beta: float | None = None
    window: tuple[str, str] | None = None
    returns: int | None = None

    def describe(self) -> str:
        return f"{self.asset}: {self.how}" + (f" {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class PathSources:
    """The moves of every book asset, in book order; `summary()` is the replay's line about them."""
    moves: tuple[Move, ...] = ()

    def of(self, how: str) -> list[Move]:
        return [m for m in self.moves if m.how == how]

    def summary(self) -> str:
        unnamed = [m.describe() for m in self.moves if m.how != "scenario"]
        return "  unnamed assets  " + ("\n                  ".join(unnamed) or "none: the scenario names every asset")


def _iso(t: datetime) -> str:
    return f"{t:%Y-%m-%dT%H:%MZ}"


def estimate_beta(con, asset: str, reference: str, window: tuple[datetime, datetime] | None,
                  near: datetime) -> tuple[float, int, tuple[datetime, datetime]] | None:
    """Least-squares slope of `asset`'s hourly log returns on `reference`'s (lake names), over
    `window`, else over the ESTIMATE_DAYS of paired hours nearest `near` (gaps in either series
    skipped); None under MIN_RETURNS pairs."""
    lo, hi = window or (datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2200, 1, 1, tzinfo=timezone.utc))
    rows = run_query(con, "proxy_returns", {"asset": asset, "reference": reference, "start": lo, "end": hi})
    hours = rows["hour"].cast(pa.int64()).to_numpy(zero_copy_only=False)
    x = rows["reference_return"].to_numpy(zero_copy_only=False).astype(float)
    y = rows["asset_return"].to_numpy(zero_copy_only=False).astype(float)
    if window is None and len(hours) > ESTIMATE_DAYS * 24:
        keep = np.sort(np.argsort(np.abs(hours - int(near.timestamp() * 1e6)), kind="stable")[:ESTIMATE_DAYS * 24])
        hours, x, y = hours[keep], x[keep], y[keep]
    if len(hours) < MIN_RETURNS:
        return None
    beta = ols_slope(x, y)
    if beta is None:
        return None
    when = [datetime.fromtimestamp(h / 1e6, timezone.utc) for h in (hours[0], hours[-1])]
    return beta, len(hours), (when[0], when[1])


def ols_slope(x: np.ndarray, y: np.ndarray) -> float | None:
    """cov(x, y) / var(x); None when x does not vary."""
    dx = x - x.mean()
    var = float(dx @ dx)
    return float(dx @ (y - y.mean()) / var) if var > 0 else None


def proxy_move(con, s: Scenario, asset: str, spec: dict) -> Move:
    """A `[proxy]` entry (or the default reference) -> a beta Move, stated or estimated; flat if
    the lake cannot give one."""
    ref = spec["asset"]
    if "beta" in spec:
        return Move(asset, "beta", f"{spec['beta']:g} to {ref} (stated in the scenario)", ref, float(spec["beta"]))
    window = tuple(_utc(w, f"proxy.{asset}.window", s.path) for w in spec["window"]) if "window" in spec else None
    own = spec.get("lake_asset", LAKE_NAMES.get(asset, asset))
    ref_lake = s.assets[ref].get("lake_asset", LAKE_NAMES.get(ref, ref))
    fit = estimate_beta(con, own, ref_lake, window, s.start)
    if fit is None:
        return Move(asset, "flat", f"(no {own} and {ref_lake} hourly prices overlap in the lake to estimate a beta)")
    beta, n, (a, b) = fit
    return Move(asset, "beta", f"{beta:.2f} to {ref} (estimated on {n} hourly log returns {_iso(a)} .. {_iso(b)})",
                ref, beta, (_iso(a), _iso(b)), n)


def default_reference(s: Scenario) -> str | None:
    """The named asset unnamed ones move with when the scenario gives no [proxy]: WETH if it is
    named, else the first named lake series."""
    if DEFAULT_REFERENCE in s.assets:
        return DEFAULT_REFERENCE
    return next((a for a, spec in s.assets.items() if spec.get("source") == "lake"), None)


def beta_path(reference: np.ndarray, beta: float) -> np.ndarray:
    """Relative path of an asset moving with `beta` to a relative `reference` path (1 at the start):
    log-returns scaled by beta, so a -50 % reference with beta 1.6 gives 0.5 ** 1.6 = -67 %."""
    return np.exp(beta * np.log(reference))

