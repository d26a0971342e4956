"""The README's main job, `backtest replay` on the sample: the compiled liquidation path against the
Python one, same process, same inputs.

The job is backtest.run.run on the stylised ETH crash over a SYNTHETIC sample lake written here by
backtest.sample.lake (seed 7 and 50,000 accounts are `backtest sample-data`'s defaults, the shipped
sample: 55,250 rows with Comet, Maker and e-mode): loading, the feedback replay, its no-feedback and
execution-only counterfactuals, the metrics. It runs once with `backtest.compiled.ON` (the numba
screens, backtest/agents/screen.py) and once with it off (every candidate through the Python search),
after a warm-up job on a small lake so that neither pays for imports or loading compiled code. Every
liquidations, steps and events table of the three replays, and their final books, must be the same
bytes.

Both run their three replays one after the other (BACKTEST_SERIAL), so every candidate is counted
and timed in this process; a third run times the job as `backtest replay` runs it, the two
counterfactuals in a forked child beside the feedback run (`side_job_seconds`; its CPU seconds
include the child's, its peak RSS is this process's only). Last, `python -m backtest replay` itself, in
fresh processes, against its start-up floor (`command_seconds`, `floor_seconds`: backtest/bench/command.py).

A *candidate* is one account below HF 1 whose round profit bound clears the cheapest liquidator's
bar: it must be priced, by the screen alone or by the search and its quotes. The Python path hands
each to `agents.liquidator.liquidate` (so its count is that path's calls: the same accounts in both
runs, since the tables are the same bytes); the compiled path judges them in one pass per round
(the prescreen, 4b17d0e) and calls `liquidate` only for those it cannot reject
(`candidates_prescreened` is the difference). The rate is candidates over the seconds spent in the
repaying protocols' round (`engine.mechanisms.Repaying.liquidate`: the bound, the prescreen,
liquidate, the trades), timed the same way in both runs; `liquidate_seconds` is the time inside
`liquidate` alone.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
from pathlib import Path

from backtest.bench.command import run_command
from backtest.bench.measure import measured
from backtest.bench.replay_case import parquet_bytes

SAMPLE_SEED = 7          # `backtest sample-data`'s default: the shipped sample


class _Timed:
    """A function or method, counted and timed."""

    def __init__(self, func):
        self.func, self.calls, self.seconds = func, 0, 0.0

    def __get__(self, obj, cls=None):          # as a method (Repaying.liquidate): bound to its instance
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args):
        start = time.perf_counter()
        try:
            return self.func(*args)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


def _job(lake: Path, fast: bool, serial: bool = True) -> tuple[dict, list[bytes]]:
    from backtest import compiled
    from backtest.engine import mechanisms as engine       # where the loop calls liquidate (Repaying)
    from backtest.run import DEFAULT_SCENARIO, make_config, run
    from backtest.scenarios.library import load_scenario
    timed = engine.liquidate = _Timed(engine.liquidate)
    rounds = engine.Repaying.liquidate = _Timed(engine.Repaying.liquidate)
    was = os.environ.pop("BACKTEST_SERIAL", None)
    if serial:
        os.environ["BACKTEST_SERIAL"] = "1"
    try:
        with compiled.python_path(not fast), measured() as m:
            scenario = load_scenario(DEFAULT_SCENARIO)
            result = run(make_config(scenario, lake), scenario)
    finally:
        engine.liquidate, engine.Repaying.liquidate = timed.func, rounds.func
        os.environ.pop("BACKTEST_SERIAL", None)
        if was is not None:
            os.environ["BACKTEST_SERIAL"] = was
    outcomes = (result.outcome, result.counterfactual, result.execution)
    tables = [parquet_bytes(t) for o in outcomes for t in (o.liquidations, o.steps, o.events) if t is not None]
    tables += [o.collateral.tobytes() + o.debt.tobytes() for o in outcomes]
    return dict(seconds=m.seconds, cpu_seconds=m.cpu_seconds, peak_rss_mb=m.peak_rss_mb, candidates=timed.calls,
                liquidate_seconds=timed.seconds, repaying_seconds=rounds.seconds, liquidations=sum(o.liquidations.num_rows for o in outcomes)), tables


def run_case(accounts: int = 50_000, seed: int = 0, command_runs: int = 3) -> dict:
    """`seed` (the bench's) is not used: the case is the shipped sample, seed SAMPLE_SEED. `command_runs`:
    pairs of the command as a user runs it and its start-up floor (backtest/bench/command.py)."""
    from backtest import compiled
    from backtest.sample.lake import write_sample_lake
    if not compiled.ON:
        return dict(accounts=accounts, available=False)
    with tempfile.TemporaryDirectory(prefix="bench-sample-") as tmp:
        tmp = Path(tmp)
        write_sample_lake(tmp / "warm", seed=SAMPLE_SEED, n_accounts=300)
        _job(tmp / "warm", True)
        _job(tmp / "warm", False)
        with measured() as gen:
            write_sample_lake(tmp / "lake", seed=SAMPLE_SEED, n_accounts=accounts)
        fast, fast_tables = _job(tmp / "lake", True)
        slow, slow_tables = _job(tmp / "lake", False)
        side, side_tables = _job(tmp / "lake", True, serial=False)
        command = run_command(tmp / "lake", command_runs)
    return dict(accounts=accounts, sample_seed=SAMPLE_SEED, available=True, lake_seconds=gen.seconds, **fast,
                candidates_per_s=slow["candidates"] / fast["repaying_seconds"],
                reference_seconds=slow["seconds"], reference_cpu_seconds=slow["cpu_seconds"],
                reference_peak_rss_mb=slow["peak_rss_mb"], reference_candidates=slow["candidates"],
                reference_liquidate_seconds=slow["liquidate_seconds"],
                reference_repaying_seconds=slow["repaying_seconds"],
                reference_candidates_per_s=slow["candidates"] / slow["repaying_seconds"],
                # the same tables and books; not the same candidate count: since 4b17d0e the compiled
                # prescreen (agents/screen.next_to_liquidate) answers most under-water rows before liquidate
                identical=fast_tables == slow_tables == side_tables,
                candidates_prescreened=slow["candidates"] - fast["candidates"],
                side_job_seconds=side["seconds"], side_job_cpu_seconds=side["cpu_seconds"],
                side_job_peak_rss_mb=side["peak_rss_mb"], **command,
                speedup=slow["seconds"] / fast["seconds"],
                liquidate_speedup=slow["liquidate_seconds"] / fast["liquidate_seconds"],
                repaying_speedup=slow["repaying_seconds"] / fast["repaying_seconds"])
