"""A parameter sweep on 1 worker and on 2: how well the sweep machinery scales out.

Runs backtest.sweep.run.run_sweep (local process pool) over a SYNTHETIC sample lake written by
backtest.sample.lake, with a grid of `sets` liquidation bonuses from 2 % to 5 % (plus the baseline:
sets + 1 tasks), once with 1 worker and once with 2; the baseline is the 1-worker run. Both must
give the same results table. The path is a STYLISED dip written here (ETH -12 % over a day in two
legs, 144 ten-minute steps), milder than the library's crash so that a 100k-account task costs
seconds, not a minute. Before either timed run, a sweep on a tiny lake loads and compiles the
engine, so neither run pays for that and forked workers inherit it warm. On a shared machine the
wall-time ratio also measures the neighbours, so the row also reports CPU seconds, load averages,
and `machine_speedup`: the ratio plain busy loops get from the same worker count just before.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

from backtest.bench.measure import measured

SCENARIO = """# STYLISED, written by backtest/bench/sweep.py for the sweep benchmark: not a historical path.
name = "bench-sweep-dip"
title = "STYLISED: ETH -12% in 24 h (sweep benchmark)"
kind = "stylised"
start = 2024-01-01T00:00:00Z
end = 2024-01-02T00:00:00Z
step_seconds = 600
anchor = "book"

[gas]
gwei = 40

[assets.WETH]
source = "stylised"
legs = [[4.0, -0.02], [6.0, -0.08], [4.0, 0.02], [6.0, -0.04], [4.0, 0.01]]

[assets.wstETH]
follows = "WETH"

[assets.WBTC]
source = "stylised"
legs = [[4.0, -0.02], [6.0, -0.06], [4.0, 0.02], [6.0, -0.03], [4.0, 0.01]]

[assets.CRV]
source = "stylised"
legs = [[4.0, -0.03], [6.0, -0.10], [4.0, 0.02], [6.0, -0.05], [4.0, 0.01]]
"""


def grid(sets: int) -> str:
    """`sets` liquidation bonuses evenly from 2 % to 5 %: the grid docs/performance.md reports (the
    sample's e-mode reserves keep their category's bonus, so a wider grid would also load)."""
    return "liquidation_bonus=" + ",".join(f"{0.02 + 0.03 * k / max(sets - 1, 1):.4f}" for k in range(sets))


def run_case(accounts: int, sets: int, seed: int = 0, workers: int = 2) -> dict:
    try:
        from backtest.sweep.run import run_sweep
    except ImportError:
        return dict(accounts=accounts, sets=sets, available=False)
    from backtest.sample.lake import write_sample_lake
    from backtest.scenarios import load_scenario
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        tmp = Path(tmp)
        (tmp / "scenario.toml").write_text(SCENARIO)
        scenario = load_scenario(tmp / "scenario.toml")
        write_sample_lake(tmp / "warm", seed=seed, n_accounts=300)
        run_sweep(scenario, tmp / "warm", tmp / "warm-out", grids=[grid(1)], workers=1, progress_stream=io.StringIO())
        write_sample_lake(tmp / "lake", seed=seed, n_accounts=accounts)
        capacity = parallel_capacity(workers)
        runs, load = {}, {}
        for n in (1, workers):
            load[n] = os.getloadavg()[0]
            with measured() as m:
                result = run_sweep(scenario, tmp / "lake", tmp / f"out{n}", grids=[grid(sets)], executor="local",
                                   workers=n, progress_stream=io.StringIO())
            runs[n] = (m, result)
    (one, r1), (two, r2) = runs[1], runs[workers]
    # On a shared machine the wall-time ratio also measures the neighbours: CPU seconds (this process
    # and its finished workers) and the load average at each start say how much of the cores we had.
    return dict(accounts=accounts, sets=sets, available=True, tasks=r1.tasks, workers=workers,
                lake_loads=r2.lake_loads, seconds=two.seconds, peak_rss_mb=two.peak_rss_mb, sets_per_s=sets / two.seconds,
                reference_seconds=one.seconds, reference_peak_rss_mb=one.peak_rss_mb,
                identical=r1.results.equals(r2.results), speedup=one.seconds / two.seconds,
                cpu_seconds=two.cpu_seconds, reference_cpu_seconds=one.cpu_seconds, load_average=load[workers],
                reference_load_average=load[1], machine_speedup=capacity)


def _burn(n: int) -> int:
    x = 0
    for i in range(n):
        x += i * i
    return x


def parallel_capacity(workers: int, n: int = 6_000_000) -> float:
    """What the machine gives right now: the speed-up of `workers` busy loops over one (the same
    loop in each process; 2.0 on two free cores, about 1.0 when neighbours hold one core)."""
    import multiprocessing

    from backtest.sweep.executors import start_method
    ctx = multiprocessing.get_context(start_method())                # as the sweep's pool starts
    with ctx.Pool(workers) as pool:
        pool.map(_burn, [1000] * workers)                        # processes up before the clock starts
        seconds = []
        for k in (1, workers):
            start = time.perf_counter()
            pool.map(_burn, [n] * k, chunksize=1)
            seconds.append(time.perf_counter() - start)
    return workers * seconds[0] / seconds[1]
