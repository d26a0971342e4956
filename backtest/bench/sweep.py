"""A parameter sweep on 1 worker and on 2: how well the sweep machinery scales out.

Runs backtest.sweep.run.run_sweep (local process pool) over a SYNTHETIC sample lake written by
backtest.sample, with a liquidation-bonus grid of `sets` values, once with 1 worker and once
with 2; the baseline is the 1-worker run. Both must give the same results table.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from backtest.bench.measure import measured


def run_case(accounts: int, sets: int, seed: int = 0, workers: int = 2) -> dict:
    try:
        from backtest.sweep.run import run_sweep
    except ImportError:
        return dict(accounts=accounts, sets=sets, available=False)
    from backtest.sample import write_sample_lake
    from backtest.scenarios import load_scenario
    scenario = load_scenario("stylised-eth-crash")
    grid = "liquidation_bonus=" + ",".join(f"{0.04 + 0.06 * k / max(sets - 1, 1):.4f}" for k in range(sets))
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        lake = Path(tmp) / "lake"
        write_sample_lake(lake, seed=seed, n_accounts=accounts)
        runs = {}
        for n in (1, workers):
            with measured() as m:
                result = run_sweep(scenario, lake, Path(tmp) / f"out{n}", grids=[grid], executor="local",
                                   workers=n, progress_stream=io.StringIO())
            runs[n] = (m, result)
    (one, r1), (two, r2) = runs[1], runs[workers]
    return dict(accounts=accounts, sets=sets, available=True, tasks=r1.tasks, workers=workers,
                seconds=two.seconds, peak_rss_mb=two.peak_rss_mb, sets_per_s=sets / two.seconds,
                reference_seconds=one.seconds, reference_peak_rss_mb=one.peak_rss_mb,
                identical=r1.results.equals(r2.results), speedup=one.seconds / two.seconds)
