"""The cost curve: replay time against accounts, steps and liquidations, one axis at a time, in one run.

Three series on the SYNTHETIC bench book (backtest/bench/book.py), each from a base size:

- accounts x1, x2, x4 at the base steps: the same crash, so liquidations grow with the book too;
- steps x1, x2, x4 at the base accounts: the crash keeps its shape (40 % into the window, 1/6 of it
  long), so liquidations stay about the same while quiet steps grow;
- liquidations: the base size with the path's log-move from the start scaled by 0.5, 1, 1.5 and 2
  (0.5: half the crash, 2: twice it in log terms), so accounts and steps are fixed and only the
  number of liquidations moves.

Each point is the best of `repeats` runs of the watchlist engine (`backtest.engine.replay`), after a
warm-up replay (imports, numba). Per series: `slope` = log(time ratio) / log(size ratio) between the
first and last point (1: linear, 0: flat), and the marginal cost per unit between them (seconds per
1,000 accounts, per 1,000 steps, per liquidation), in wall and in CPU time; and a least-squares fit of
CPU time to all ten points (`model`). These are measurements, never test assertions.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from backtest.bench.book import bench_config, bench_inputs
from backtest.bench.measure import measured
from backtest.config import RunConfig

CONFIG = RunConfig(scenario="bench-curve", lake="", seed=0)
FACTORS = (1, 2, 4)
CRASH_SCALES = (0.5, 1.0, 1.5, 2.0)


def scaled_crash(inputs, scale: float):
    """The same inputs with every price's log-move from the first step multiplied by `scale`."""
    start = inputs.exogenous[0]
    exo = start * (inputs.exogenous / start) ** scale
    return replace(inputs, exogenous=exo, era_prices=None if inputs.era_prices is None else exo)


def _time(inputs, repeats: int) -> dict:
    from backtest.engine.replay import replay
    config = bench_config(CONFIG, inputs)
    best = None
    for _ in range(repeats):
        with measured() as m:
            out = replay(inputs, config)
        best = m if best is None or m.seconds < best.seconds else best
    return dict(seconds=best.seconds, cpu_seconds=best.cpu_seconds, peak_rss_mb=best.peak_rss_mb, liquidations=out.liquidations.num_rows,
                accounts=len(inputs.book.accounts), steps=len(inputs.times))


def _slope(a: dict, b: dict, axis: str, clock: str):
    if a[axis] > 0 and b[axis] > a[axis] and a[clock] > 0 and b[clock] > 0:
        return math.log(b[clock] / a[clock]) / math.log(b[axis] / a[axis])
    return None


def _summary(points: list[dict], axis: str, per: float) -> dict:
    """Slope (log-log, first to last point) and marginal seconds per `per` units of `axis`, in wall time and
    in CPU time (this process's: on a shared machine the steadier of the two)."""
    a, b = points[0], points[-1]
    dx = b[axis] - a[axis]
    out = dict(axis=axis, points=points, per=per)
    for clock, name in (("seconds", ""), ("cpu_seconds", "cpu_")):
        out[f"{name}slope"] = _slope(a, b, axis, clock)
        out[f"{name}marginal_seconds"] = (b[clock] - a[clock]) / dx * per if dx else None
    return out


def run_case(accounts: int, steps: int, seed: int = 0, repeats: int = 3) -> dict:
    from backtest.engine.replay import replay
    warm = bench_inputs(500, 30, seed)
    replay(warm, bench_config(CONFIG, warm))                           # imports and first-call costs out of the way
    series = {
        "accounts": _summary([_time(bench_inputs(accounts * f, steps, seed), repeats) for f in FACTORS], "accounts", 1e3),
        "steps": _summary([_time(bench_inputs(accounts, steps * f, seed), repeats) for f in FACTORS], "steps", 1e3),
    }
    base = bench_inputs(accounts, steps, seed)
    liq = [_time(scaled_crash(base, s), repeats) | {"crash_scale": s} for s in CRASH_SCALES]
    series["liquidations"] = _summary(sorted(liq, key=lambda p: (p["liquidations"], p["crash_scale"])), "liquidations", 1.0)
    points = [p for s in series.values() for p in s["points"]]
    total = sum(p["seconds"] for p in points)
    c0, c_acc, c_step, c_liq = fit(points, "cpu_seconds")
    model = dict(intercept_s=c0, per_1k_accounts_s=c_acc * 1e3, per_1k_steps_s=c_step * 1e3, per_liquidation_ms=c_liq * 1e3)
    return dict(accounts=accounts, steps=steps, seed=seed, repeats=repeats, series=series, model=model,
                seconds=total, points=len(points), peak_rss_mb=max(p["peak_rss_mb"] for p in points), points_per_s=len(points) / total if total else float("nan"))


def describe(row: dict) -> str:
    """One clause per series in CPU time: `accounts x4 -> x2.1 (slope 0.54)`, then the fitted unit costs."""
    out = []
    for name, s in row["series"].items():
        a, b = s["points"][0], s["points"][-1]
        ratio = b[s["axis"]] / a[s["axis"]] if a[s["axis"]] else float("inf")
        slope = "n/a" if s["cpu_slope"] is None else f"{s['cpu_slope']:.2f}"
        out.append(f"{name} x{ratio:.0f} -> CPU x{b['cpu_seconds'] / a['cpu_seconds']:.1f} (slope {slope})")
    m = row["model"]
    out.append(f"{m['per_1k_accounts_s'] * 1e3:.1f} ms/1k acc, {m['per_1k_steps_s'] * 1e3:.0f} ms/1k steps, "
               f"{m['per_liquidation_ms'] * 1e3:.0f} us/liq")
    return "; ".join(out)


def fit(pts: list[dict], clock: str = "cpu_seconds") -> np.ndarray:
    """Least squares of (CPU) seconds ~ c0 + c_acc x accounts + c_step x steps + c_liq x liquidations over the
    points of all series (the liquidation series is what tells accounts from liquidations apart)."""
    x = np.array([[1.0, p["accounts"], p["steps"], p["liquidations"]] for p in pts])
    y = np.array([p[clock] for p in pts])
    return np.linalg.lstsq(x, y, rcond=None)[0]
