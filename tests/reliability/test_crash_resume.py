"""A sweep killed with SIGKILL at random points resumes to the bytes of a sweep that never
stopped, and a reader never sees a partial Parquet file (only `*.parquet` that read whole)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from tests.reliability.conftest import REPO

SCENARIO = str(REPO / "data" / "scenarios" / "stylised-eth-crash.toml")
# 4 parameter sets x 4 paths = 16 tasks, ~5 s with one worker on a quiet machine
ARGS = ["--grid", "liquidation_bonus=0.06,0.07,0.08", "--paths", "4", "--seed", "11", "--workers", "1"]


def _command(lake: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "backtest", "sweep", SCENARIO, "--lake", str(lake), "--out", str(out), *ARGS]


def _visible(folder: Path) -> dict[str, bytes]:
    """What a reader sees: every file whose name does not start with '.' (temp files do)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def _assert_nothing_partial(folder: Path) -> None:
    for p in folder.rglob("*.parquet"):
        if not p.name.startswith("."):
            pq.read_table(p)                       # raises on a truncated file
    for p in (folder / "tasks").glob("*.json") if (folder / "tasks").exists() else []:
        json.loads(p.read_text())


def test_a_sweep_killed_at_random_points_resumes_to_the_same_bytes(base_lake, tmp_path):
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    whole = tmp_path / "whole"
    t0 = time.monotonic()
    subprocess.run(_command(base_lake, whole), check=True, capture_output=True, cwd=tmp_path, env=env, timeout=300)
    full_run = time.monotonic() - t0

    # three random kill points (seeded: a failure replays the same points), as fractions of a full run;
    # each rerun skips finished tasks, so later points land later in the sweep
    rng = np.random.default_rng(2026)
    delays = [rng.uniform(lo, hi) * full_run for lo, hi in ((0.1, 0.3), (0.25, 0.45), (0.25, 0.45))]
    out = tmp_path / "killed"
    kills = 0
    for delay in delays:
        proc = subprocess.Popen(_command(base_lake, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=tmp_path, env=env, start_new_session=True)
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)    # our own process group only
            kills += 1
        proc.wait(timeout=60)
        if out.exists():
            _assert_nothing_partial(out)
    done = len(list((out / "tasks").glob("*.json"))) if (out / "tasks").exists() else 0
    print(f"{kills} SIGKILLs, {done} of 16 tasks finished before the resume; full run {full_run:.1f} s")
    assert kills >= 2

    subprocess.run(_command(base_lake, out), check=True, capture_output=True, cwd=tmp_path, env=env, timeout=300)
    _assert_nothing_partial(out)
    assert _visible(out) == _visible(whole)


def test_a_replay_killed_at_random_points_leaves_no_results_or_a_whole_folder(base_lake, tmp_path):
    """The results folder is swapped in whole: after a SIGKILL it is absent or complete and equal to
    an uninterrupted run's, never a folder with some files missing or cut."""
    def command(out):
        return [sys.executable, "-m", "backtest", "replay", SCENARIO, "--lake", str(base_lake), "--out", str(out)]

    t0 = time.monotonic()
    subprocess.run(command(tmp_path / "whole"), check=True, capture_output=True, cwd=tmp_path, timeout=300)
    full = time.monotonic() - t0
    whole = _visible(tmp_path / "whole")
    rng = np.random.default_rng(7)
    outcomes = []
    fracs = [rng.uniform(lo, hi) for lo, hi in ((0.2, 0.45), (0.45, 0.7), (0.7, 0.85), (0.85, 1.0))]
    for i, frac in enumerate(fracs):
        out = tmp_path / f"killed-{i}"
        proc = subprocess.Popen(command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
                                start_new_session=True)
        time.sleep(frac * full)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        if out.exists():
            assert _visible(out) == whole
        outcomes.append(out.exists())
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    print(f"replay: folder present (and whole) after each kill: {outcomes}; temp folders left: {left}")
    assert not all(outcomes)                        # at least one kill landed before the swap
