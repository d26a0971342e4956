"""Pure estimators: daily volume and volatility, the square-root impact fit, pool depth.

No file access here; every function takes arrays and returns numbers, so the synthetic tests can
check that each estimator recovers parameters it was given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY = 86_400


@dataclass(frozen=True)
class DailyStats:
    volume_usd: float        # median daily quote volume
    volume_q25: float
    volume_q75: float
    volatility: float        # std (ddof 1) of day-to-day log returns of the daily close
    volatility_se: float     # normal-theory standard error of that std: sigma / sqrt(2 (n-1))
    days: int
    first_day: str
    last_day: str


def daily_stats(times_s: np.ndarray, close: np.ndarray, quote_volume: np.ndarray, *,
                min_bars: int = 24) -> DailyStats:
    """Hourly bars (unix seconds of the bar's open) -> daily quote volume and daily log-return std.

    A UTC day counts when it has all `min_bars` bars (a day with a missing hour is left out); returns are taken only between
    consecutive calendar days, so a gap in the file never makes a multi-day return.
    """
    day = np.floor_divide(times_s.astype(np.int64), DAY)
    order = np.argsort(times_s, kind="stable")
    day, close, quote_volume = day[order], close[order], quote_volume[order]
    days, start, counts = np.unique(day, return_index=True, return_counts=True)
    last = start + counts - 1
    keep = counts >= min_bars
    days, vol, cls = days[keep], np.add.reduceat(quote_volume, start)[keep], close[last][keep]
    if days.size < 3:
        raise ValueError(f"only {days.size} full days")
    consecutive = np.diff(days) == 1
    rets = np.diff(np.log(cls))[consecutive]
    sigma = float(np.std(rets, ddof=1))
    q25, q50, q75 = np.percentile(vol, [25, 50, 75])
    return DailyStats(float(q50), float(q25), float(q75), sigma, sigma / np.sqrt(2 * (rets.size - 1)),
                      int(days.size), _iso(days[0]), _iso(days[-1]))


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


# --- square-root impact with a permanent share and a decaying temporary part -------------------

@dataclass(frozen=True)
class ImpactFit:
    y: float                  # square-root prefactor Y (peak response per unit x)
    y_se: float               # day-block bootstrap standard errors
    permanent_share: float    # theta: response at long horizons / peak
    permanent_share_se: float
    half_life_seconds: float  # h: half-life of the decaying part
    half_life_low: float      # 5 % and 95 % of the bootstrap (h's distribution is skewed)
    half_life_high: float
    r2_first: float           # R^2 of the first-horizon regression
    r2_curve: float           # R^2 of the decay curve through the horizon coefficients
    horizons_s: tuple[float, ...]
    response: tuple[float, ...]   # coefficient on x at each horizon (the measured impulse response)
    n: int


def signed_sqrt(flow_usd, volume_usd: float):
    """sgn(Q) sqrt(|Q| / V): the square-root law's move per unit Y sigma for an outstanding flow Q."""
    return np.sign(flow_usd) * np.sqrt(np.abs(flow_usd) / volume_usd)


def impact_regressors(flow_usd: np.ndarray, dt_s: np.ndarray, *, volume_usd: float,
                      volatility: float, half_life_s: float) -> np.ndarray:
    """x_t: the model's log move per unit Y for each interval's signed flow q_t.

    The outstanding flow Q decays by 2^(-dt_t / h) each interval; the flow q_t moves the log price
    by Y x_t with x_t = sigma (S(Q+q_t) - S(Q)), S(u) = sgn(u) sqrt(|u|/V) (marginal square-root
    law), then Q += q_t. When q_t has Q's sign (a one-sided cascade) this is
    sign(q) sigma (sqrt(|Q+q|/V) - sqrt(|Q|/V)); a flow against Q undoes part of its impact.
    """
    clock = np.cumsum(np.asarray(dt_s, float))
    flow = np.asarray(flow_usd, float)
    x = np.zeros(len(flow))
    q_out, last = 0.0, 0.0
    for t in np.flatnonzero(flow):
        q_out *= 2.0 ** (-(clock[t] - last) / half_life_s)
        last = clock[t]
        x[t] = volatility * (signed_sqrt(q_out + flow[t], volume_usd) - signed_sqrt(q_out, volume_usd))
        q_out += flow[t]
    return x


def exp_filter(x: np.ndarray, decay: float) -> np.ndarray:
    """E_u = sum_{s<=u} x_s decay^(u-s): the impacts still outstanding, per unit (1 - theta) Y."""
    out = np.empty(len(x))
    acc = 0.0
    for u, v in enumerate(x):
        acc = acc * decay + v
        out[u] = acc
    return out


def local_projection(log_price: np.ndarray, x: np.ndarray, steps: np.ndarray, *, decay: float,
                     pre: int = 5, rows: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Coefficient beta_k of x_t in log p_{t+k} - log p_{t-1}, one regression per horizon k.

    Local projections (Jorda 2005) with controls, so beta_k is the response to x_t alone: the move
    over the `pre` intervals before (the fall that triggered the liquidations), the later flows
    of the window (their sum and their sum decayed to t+k), and the reversion in the window of
    the impacts still outstanding at t-1 (E_{t-1} (1 - d^(k+1)), E the x filtered with decay d per
    interval). Returns (beta per k, R^2 at k[0]).
    """
    n = len(log_price)
    cum = np.r_[0.0, np.cumsum(x)]
    filt = exp_filter(x, decay)
    t_all = np.arange(n) if rows is None else rows
    betas, r2 = [], 0.0
    for i, k in enumerate(steps):
        t = t_all[(t_all >= pre + 1) & (t_all < n - k)]
        y = log_price[t + k] - log_price[t - 1]
        cols = np.column_stack([x[t], cum[t + k + 1] - cum[t + 1], filt[t + k] - decay ** k * filt[t],
                                filt[t - 1] * (1.0 - decay ** (k + 1)),
                                log_price[t - 1] - log_price[t - 1 - pre], np.ones(len(t))])
        beta, *_ = np.linalg.lstsq(cols, y, rcond=None)
        betas.append(beta[0])
        if i == 0:
            resid = y - cols @ beta
            r2 = 1.0 - float(resid @ resid) / float(((y - y.mean()) ** 2).sum())
    return np.array(betas), r2


def decay_curve(horizons_s: np.ndarray, y: float, theta: float, half_life_s: float) -> np.ndarray:
    """Model response at each horizon to a unit x: Y (theta + (1 - theta) 2^(-k/h))."""
    return y * (theta + (1.0 - theta) * np.exp2(-np.asarray(horizons_s, float) / half_life_s))


def _curve_at(horizons_s: np.ndarray, resp: np.ndarray, half_life_s: float) -> tuple[float, float, float]:
    """For one h the curve a + b 2^(-k/h) is linear (a = Y theta, b = Y (1 - theta)): least squares
    with a, b >= 0 (both free, or one of them at zero) -> (Y, theta, SSR)."""
    w = np.exp2(-horizons_s / half_life_s)
    one = np.ones_like(w)
    candidates = []
    coef, *_ = np.linalg.lstsq(np.column_stack([one, w]), resp, rcond=None)
    if (coef >= 0).all():
        candidates.append((coef[0], coef[1]))
    candidates.append((max(float(resp.mean()), 0.0), 0.0))                   # permanent only
    candidates.append((0.0, max(float(resp @ w) / float(w @ w), 0.0)))       # transient only
    ssr, a, b = min((float(((resp - a * one - b * w) ** 2).sum()), a, b) for a, b in candidates)
    y = a + b
    return float(y), float(a / y) if y > 0 else 0.0, ssr


def fit_decay(horizons_s: np.ndarray, response: np.ndarray) -> tuple[float, float, float, float]:
    """Least-squares (Y, theta, h) through the measured response, and the curve's R^2.

    h is profiled: a log grid from 10 s to 30 days, then golden-section search around the best
    grid point (numpy only; the same inputs give the same bits).
    """
    k = np.asarray(horizons_s, float)
    resp = np.asarray(response, float)
    grid = np.geomspace(10.0, 30.0 * DAY, 400)
    ssr = [_curve_at(k, resp, h)[2] for h in grid]
    i = int(np.argmin(ssr))
    lo, hi = np.log(grid[max(i - 1, 0)]), np.log(grid[min(i + 1, len(grid) - 1)])
    g = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(60):
        c, d = hi - g * (hi - lo), lo + g * (hi - lo)
        if _curve_at(k, resp, np.exp(c))[2] <= _curve_at(k, resp, np.exp(d))[2]:
            hi = d
        else:
            lo = c
    h = float(np.exp((lo + hi) / 2.0))
    y, theta, ssr_h = _curve_at(k, resp, h)
    ss = float(((resp - resp.mean()) ** 2).sum())
    return y, theta, h, 1.0 - ssr_h / ss if ss > 0 else 0.0


HORIZONS = (1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240)   # steps (minutes in the real series)


def fit_impact(log_price: np.ndarray, flow_usd: np.ndarray, dt_s: np.ndarray, *, volume_usd: float,
               volatility: float, day: np.ndarray, steps: tuple[int, ...] = HORIZONS, pre: int = 5,
               iterations: int = 3, bootstrap: int = 100, seed: int = 15) -> ImpactFit:
    """Y, theta, h from a price series and the signed flow (USD, selling negative) in each interval.

    The impulse response to x_t is measured by local projections at each horizon and the decay
    curve fitted through it; x depends on h (outstanding flow), so the two are iterated from
    h = 30 min. Standard errors (h: a 5-95 % interval): bootstrap over whole days (`day` labels each row), seeded.
    """
    log_price = np.asarray(log_price, float)
    if not (len(log_price) == len(flow_usd) == len(dt_s) == len(day)) or len(log_price) < 50:
        raise ValueError("price, flow, dt and day must be equal-length series of at least 50 points")
    steps_arr = np.asarray(steps)
    horizons_s = steps_arr * float(np.round(np.median(dt_s)))
    h = 1800.0
    for _ in range(iterations):
        x = impact_regressors(flow_usd, dt_s, volume_usd=volume_usd, volatility=volatility, half_life_s=h)
        d = 2.0 ** (-float(np.median(dt_s)) / h)
        beta, r2_first = local_projection(log_price, x, steps_arr, decay=d, pre=pre)
        y, theta, h, r2_curve = fit_decay(horizons_s, beta)
    rng = np.random.default_rng(seed)
    days = np.unique(day)
    boot = []
    for _ in range(bootstrap):
        pick = rng.choice(days, size=days.size, replace=True)
        rows = np.concatenate([np.flatnonzero(day == d) for d in pick])
        b, _ = local_projection(log_price, x, steps_arr, decay=d, pre=pre, rows=rows)
        boot.append(fit_decay(horizons_s, b)[:3])
    boot_arr = np.array(boot) if bootstrap > 1 else np.full((2, 3), np.nan)
    se = np.std(boot_arr, axis=0, ddof=1)
    h_low, h_high = np.percentile(boot_arr[:, 2], [5, 95])
    return ImpactFit(y, float(se[0]), theta, float(se[1]), h, float(h_low), float(h_high), r2_first, r2_curve,
                     tuple(float(v) for v in horizons_s), tuple(float(v) for v in beta), len(log_price))


# --- depth ----------------------------------------------------------------------------------

def constant_product_depth_usd(reserve_base: float, reserve_quote: float, move: float,
                               fee: float = 0.003) -> float:
    """Quote value (at the pool's start price) of the base sold to push a x*y=k pool's price down by `move`.

    Price p = y/x; after selling dx (net of fee), p'/p = (x/(x+dx))^2, so dx = x (1/sqrt(1-move) - 1).
    """
    dx = reserve_base * (1.0 / np.sqrt(1.0 - move) - 1.0) / (1.0 - fee)
    return float(dx * reserve_quote / reserve_base)


def sqrt_law_size_usd(move: float, *, y: float, volatility: float, volume_usd: float) -> float:
    """Sale (USD, no outstanding flow) that moves a square-root-law market's price down by `move`."""
    return float(volume_usd * (-np.log1p(-move) / (y * volatility)) ** 2)
