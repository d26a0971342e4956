"""Monte Carlo price paths for sweeps: correlated GBM, jump-diffusion, block bootstrap, and a
Brownian bridge pinned to a drawdown. Each is calibrated on a real series from the lake.

Every path is a [steps, assets] multiplier starting at 1, anchored on the book's own prices.
Path `i` of seed `s` draws from PCG64(SeedSequence([s, i])), so it is the same path whichever
worker, executor or worker count computes it. The arithmetic after the draws is elementwise (no
BLAS), so on one machine the bytes never vary; across CPU types `exp`/`log` may differ in the
last bit (numpy picks SIMD kernels at run time).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from backtest.errors import InputError

MODELS = ("gbm", "jump", "bootstrap", "bridge")


def path_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of path `index`: depends on (seed, index) only, never on who runs it."""
    if seed < 0 or index < 0:
        raise InputError(f"seed and path index must be >= 0 (got seed {seed}, path {index})", column="seed")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(index)])))


def log_returns(prices: np.ndarray) -> np.ndarray:
    """[R+1, k] prices -> [R, k] log returns."""
    return np.diff(np.log(prices), axis=0)


def estimate(returns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-step volatility (sample std) and correlation; a flat series has vol 0 and no correlation."""
    r = returns - returns.mean(axis=0)
    n = max(len(returns) - 1, 1)
    k = returns.shape[1]
    cov = np.array([[np.sum(r[:, a] * r[:, b]) / n for b in range(k)] for a in range(k)]).reshape(k, k)
    vol = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    corr = np.eye(k)
    for a in range(k):
        for b in range(k):
            if a != b and vol[a] > 0 and vol[b] > 0:
                corr[a, b] = float(np.clip(cov[a, b] / (vol[a] * vol[b]), -1.0, 1.0))
    return vol, corr


def cholesky_psd(corr: np.ndarray) -> np.ndarray:
    """Lower factor L with L L^T = corr, tolerating singular matrices (WETH and wstETH move as one).

    Plain Python floats, so the factor is the same bits on every machine (LAPACK may not be).
    """
    k = len(corr)
    low = np.zeros((k, k))
    for j in range(k):
        d = corr[j, j] - sum(low[j, m] ** 2 for m in range(j))
        if d <= 1e-12:
            continue
        low[j, j] = math.sqrt(d)
        for i in range(j + 1, k):
            low[i, j] = (corr[i, j] - sum(low[i, m] * low[j, m] for m in range(j))) / low[j, j]
    return low


def correlated_normals(rng: np.random.Generator, n: int, low: np.ndarray) -> np.ndarray:
    """[n, k] standard normals with correlation L L^T, by elementwise sums (no BLAS)."""
    k = len(low)
    z = rng.standard_normal((n, k))
    out = np.zeros((n, k))
    for i in range(k):
        for m in range(i + 1):
            if low[i, m] != 0.0:
                out[:, i] += z[:, m] * low[i, m]
    return out


def _from_log(increments: np.ndarray) -> np.ndarray:
    """[T-1, k] log increments -> [T, k] multipliers with a first row of ones."""
    levels = np.cumsum(increments, axis=0)
    return np.exp(np.vstack([np.zeros((1, increments.shape[1])), levels]))


def gbm(rng, n_steps: int, vol: np.ndarray, corr: np.ndarray) -> np.ndarray:
    """Driftless (martingale) correlated GBM: log step = -vol^2/2 + vol * correlated normal."""
    eps = correlated_normals(rng, n_steps - 1, cholesky_psd(corr))
    return _from_log(-0.5 * vol ** 2 + vol * eps)


def jump_diffusion(rng, n_steps: int, vol, corr, jumps_per_step: float, jump_mean: float,
                   jump_std: float) -> np.ndarray:
    """Merton jump-diffusion, jumps common to all assets (a market-wide shock).

    Merton (1976); the same process as QuantLib lballabio/QuantLib ql/processes/merton76process.hpp.
    The shock's log size is N(jump_mean, jump_std) for the most volatile asset and scales with
    each asset's volatility (beta = vol / max vol). The drift is compensated, so E[S_t] = S_0.
    """
    eps = correlated_normals(rng, n_steps - 1, cholesky_psd(corr))
    counts = rng.poisson(jumps_per_step, n_steps - 1).astype(float)
    shock = counts * jump_mean + np.sqrt(counts) * jump_std * rng.standard_normal(n_steps - 1)
    beta = vol / vol.max() if vol.max() > 0 else np.zeros_like(vol)
    compensator = jumps_per_step * (np.exp(beta * jump_mean + 0.5 * (beta * jump_std) ** 2) - 1.0)
    return _from_log(-0.5 * vol ** 2 - compensator + vol * eps + shock[:, None] * beta)


def block_bootstrap(rng, n_steps: int, returns: np.ndarray, block: int) -> np.ndarray:
    """Circular block bootstrap of whole rows of real returns (keeps cross-asset and short-range
    dependence); Politis & Romano (1992), as in bashtage/arch arch/bootstrap/base.py
    (CircularBlockBootstrap)."""
    r = len(returns)
    if r == 0:
        raise InputError("no returns to bootstrap: the calibration window holds no price moves", column="calibrate")
    block = max(1, min(block, r))
    starts = rng.integers(0, r, size=-(-(n_steps - 1) // block))
    rows = ((starts[:, None] + np.arange(block)[None, :]) % r).ravel()[: n_steps - 1]
    return _from_log(returns[rows])


def bridge(rng, n_steps: int, vol, corr, pin: int, target: float, pin_step: int) -> np.ndarray:
    """Correlated GBM conditioned on asset `pin` being at `target` (a multiplier) at `pin_step`.

    Gaussian conditioning (Matheron's rule): X = W + min(t/T, 1) * beta * (log target - W_pin(T)),
    beta_j = cov(j, pin) / var(pin). For the pinned asset this is the Brownian bridge of
    QuantLib lballabio/QuantLib ql/methods/montecarlo/brownianbridge.cpp; the other assets move
    as their correlation with it says they would, given where it ends up.
    """
    if vol[pin] <= 0:
        raise InputError("the bridge asset has zero volatility in the calibration window", column="bridge")
    if not 1 <= pin_step <= n_steps - 1:
        raise InputError(f"bridge time must fall inside the scenario (step 1..{n_steps - 1}, got {pin_step})",
                         column="bridge")
    eps = correlated_normals(rng, n_steps - 1, cholesky_psd(corr))
    w = np.vstack([np.zeros((1, len(vol))), np.cumsum(-0.5 * vol ** 2 + vol * eps, axis=0)])
    beta = corr[:, pin] * vol / vol[pin]
    frac = np.minimum(np.arange(n_steps) / pin_step, 1.0)
    x = w + frac[:, None] * beta[None, :] * (math.log(target) - w[pin_step, pin])
    return np.exp(x)


@dataclass(frozen=True, eq=False)
class Calibration:
    """Real log returns of the simulated assets on the scenario's step grid."""
    assets: tuple[str, ...]           # book assets with a series of their own
    returns: np.ndarray               # [R, k]
    step_seconds: int
    window: tuple[str, str]
    followers: tuple[tuple[str, str], ...] = ()   # (asset, leader): moves as its leader

    def fingerprint(self) -> str:
        h = hashlib.sha256(repr((self.assets, self.step_seconds, self.window, self.followers)).encode())
        h.update(np.ascontiguousarray(self.returns, dtype="<f8").tobytes())
        return h.hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class PathModel:
    """One Monte Carlo model, fully specified: the same (model, index) is the same path."""
    model: str
    seed: int
    calibration: Calibration
    jumps_per_day: float = 2.0
    jump_mean: float = -0.10
    jump_std: float = 0.05
    block_steps: int = 12
    bridge_asset: str | None = None
    bridge_drawdown: float = 0.5
    bridge_hours: float = 12.0

    def __post_init__(self):
        if self.model not in MODELS:
            raise InputError(f"unknown path model {self.model!r} (known: {', '.join(MODELS)})", column="model")
        if self.model == "bridge":
            if self.bridge_asset not in self.calibration.assets:
                raise InputError(f"bridge asset {self.bridge_asset!r} has no price series in the calibration window "
                                 f"(simulated: {', '.join(self.calibration.assets) or 'none'})", column="bridge")
            if not 0 < self.bridge_drawdown < 1:
                raise InputError("bridge drawdown must be within (0, 1)", column="bridge")

    def describe(self) -> dict:
        """What identifies the paths (written to sweep.toml and hashed into task keys)."""
        d = {"model": self.model, "seed": self.seed, "calibration": self.calibration.fingerprint(),
             "window": list(self.calibration.window), "assets": list(self.calibration.assets)}
        if self.model == "jump":
            d.update(jumps_per_day=self.jumps_per_day, jump_mean=self.jump_mean, jump_std=self.jump_std)
        if self.model == "bootstrap":
            d.update(block_steps=self.block_steps)
        if self.model == "bridge":
            d.update(bridge_asset=self.bridge_asset, bridge_drawdown=self.bridge_drawdown,
                     bridge_hours=self.bridge_hours)
        return d

    def multipliers(self, index: int, n_steps: int) -> np.ndarray:
        rng, cal = path_rng(self.seed, index), self.calibration
        vol, corr = estimate(cal.returns)
        if self.model == "gbm":
            return gbm(rng, n_steps, vol, corr)
        if self.model == "jump":
            per_step = self.jumps_per_day * cal.step_seconds / 86400.0
            return jump_diffusion(rng, n_steps, vol, corr, per_step, self.jump_mean, self.jump_std)
        if self.model == "bootstrap":
            return block_bootstrap(rng, n_steps, cal.returns, self.block_steps)
        pin_step = int(round(self.bridge_hours * 3600.0 / cal.step_seconds))
        return bridge(rng, n_steps, vol, corr, cal.assets.index(self.bridge_asset), 1.0 - self.bridge_drawdown,
                      pin_step)

    def exogenous(self, index: int, assets: list[str], prices: np.ndarray, n_steps: int) -> np.ndarray:
        """[T, A] USD paths for the book: simulated assets move, followers copy their leader,
        the rest stay at the book's price."""
        m = self.multipliers(index, n_steps)
        col = {a: j for j, a in enumerate(self.calibration.assets)}
        for asset, leader in self.calibration.followers:
            if leader in col:
                col[asset] = col[leader]
        out = np.tile(np.asarray(prices, dtype=float), (n_steps, 1))
        for j, asset in enumerate(assets):
            if asset in col:
                out[:, j] = prices[j] * m[:, col[asset]]
        return out


def default_window(scenario, book_time: datetime) -> tuple[datetime, datetime]:
    """A historical scenario calibrates on its own window; a stylised one on the 30 days before the book."""
    if scenario.kind == "historical":
        return scenario.start, scenario.end
    return book_time - timedelta(days=30), book_time


def calibrate_from_lake(lake: Path, scenario, assets: list[str], start: datetime, end: datetime) -> Calibration:
    """Read each book asset's series (the scenario's `lake_asset` name if it has one) on the
    scenario's step grid; assets without a series over most of the window are left out (constant),
    and the returns start where every kept series has begun."""
    from backtest.lake.catalog import connect, run_query

    con = connect(lake)
    step = scenario.step_seconds
    names, columns, followers = [], [], []
    for asset in assets:
        spec = scenario.assets.get(asset, {})
        if "follows" in spec:
            followers.append((asset, spec["follows"]))
            continue
        rows = run_query(con, "price_path", {"asset": spec.get("lake_asset", asset), "start": start, "end": end,
                                             "step_seconds": step})
        prices = rows["price_usd"].to_numpy(zero_copy_only=False).astype(float)
        seen = prices[~np.isnan(prices)]
        # a series must cover most of the window (as-of fill means a late start is the only gap)
        if len(seen) < max(3, len(prices) // 2) or (seen <= 0).any() or np.all(seen == seen[0]):
            continue
        names.append(asset)
        columns.append(prices)
    if not names:
        raise InputError(f"no book asset has a price series covering the window {start:%Y-%m-%d %H:%M}Z .. "
                         f"{end:%Y-%m-%d %H:%M}Z in the lake to calibrate on (choose a window with --calibrate)",
                         file=Path(lake) / "prices", column="calibrate")
    table = np.column_stack(columns)
    table = table[int(np.max(np.argmax(~np.isnan(table), axis=0))):]     # from where every series has begun
    returns = log_returns(table)
    return Calibration(assets=tuple(names), returns=returns, step_seconds=step,
                       window=(f"{start:%Y-%m-%dT%H:%M:%SZ}", f"{end:%Y-%m-%dT%H:%M:%SZ}"),
                       followers=tuple(followers))
