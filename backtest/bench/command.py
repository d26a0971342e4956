"""The README's main job as a user runs it, `python -m backtest replay` in a fresh process, against its
start-up floor: a fresh interpreter that imports the libraries the command imports and sets numba's compiler
up (`backtest.compiled.warm`, its first compiled call), then stops, having done no work.

Issue 19's item 2 asks the command >= 10x faster than at commit 9e45236, whose time on this 2-core machine
docs/performance.md records (10.5-11.2 s): <= ~1.1 s end to end. No change to the engine can remove the
floor, so `floor_share` (floor / command) says how much of the command is start-up, and `floor_seconds`
against ~1.1 s says whether the target is reachable at all with these libraries (measured: it is not).
Runs alternate, command then floor, so a busy machine slows both alike; the medians are reported."""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = "import numpy, pandas, pyarrow.parquet, pyarrow.dataset, duckdb; from backtest.compiled import warm; warm()"


def _timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the process and every child it waited for) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_command(lake: Path, runs: int = 3) -> dict:
    """`runs` alternating pairs after one of each thrown away (numba's cache written, files in the page cache)."""
    command, floor = [], []
    with tempfile.TemporaryDirectory(prefix="bench-command-") as tmp:
        for i in range(runs + 1):
            argv = [sys.executable, "-m", "backtest", "replay", "--lake", str(lake), "--out", f"{tmp}/run{i}"]
            timed = _timed(argv), _timed([sys.executable, "-c", FLOOR])
            if i:
                command.append(timed[0])
                floor.append(timed[1])
    seconds = statistics.median(w for w, _ in command)
    floor_seconds = statistics.median(w for w, _ in floor)
    return dict(command_seconds=seconds, command_cpu_seconds=statistics.median(c for _, c in command),
                floor_seconds=floor_seconds, floor_cpu_seconds=statistics.median(c for _, c in floor),
                floor_share=floor_seconds / seconds, command_runs=runs)
