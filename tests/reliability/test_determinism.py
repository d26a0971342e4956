"""Same inputs and seed -> the same bytes: whole results folders are hashed, file by file."""

from __future__ import annotations

import os
import subprocess
import sys

from backtest.cli import main
from tests.reliability.conftest import REPO, folder_hash, folder_listing

SCENARIO = str(REPO / "data" / "scenarios" / "stylised-eth-crash.toml")


def _replay(lake, out, *extra):
    assert main(["replay", SCENARIO, "--lake", str(lake), "--out", str(out), *extra]) == 0
    return folder_hash(out)


def test_two_replays_write_byte_identical_results_folders(base_lake, tmp_path, capsys):
    a = _replay(base_lake, tmp_path / "a", "--set", "pool_depth_scale=0.3")
    b = _replay(base_lake, tmp_path / "b", "--set", "pool_depth_scale=0.3")
    assert {"config.toml", "liquidations.parquet", "metrics.json", "steps.parquet"} <= set(folder_listing(tmp_path / "a"))
    assert folder_listing(tmp_path / "a") == folder_listing(tmp_path / "b")
    assert a == b
    # and the hash sees a change: another depth is another folder
    assert _replay(base_lake, tmp_path / "c", "--set", "pool_depth_scale=0.31") != a


SWEEP = ["--grid", "liquidation_bonus=0.06,0.07", "--paths", "3", "--model", "gbm", "--seed", "5"]


def _sweep(lake, out, workers, *extra):
    code = main(["sweep", SCENARIO, "--lake", str(lake), "--out", str(out), "--workers", str(workers), *SWEEP, *extra])
    assert code == 0
    return folder_hash(out)


def test_a_sweep_is_byte_identical_across_runs_and_worker_counts(base_lake, tmp_path, capsys):
    one = _sweep(base_lake, tmp_path / "w1", 1)
    again = _sweep(base_lake, tmp_path / "w1-again", 1)
    two = _sweep(base_lake, tmp_path / "w2", 2)
    listing = folder_listing(tmp_path / "w1")
    assert {"results.parquet", "comparison.parquet", "sweep.toml", "tasks"} <= set(listing)
    assert listing == folder_listing(tmp_path / "w2")
    assert one == again == two
    # and the hash sees the paths: another seed, other bytes
    assert _sweep(base_lake, tmp_path / "s6", 1, "--seed", "6") != one


def _in_process_of_its_own(argv, hash_seed, cwd):
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    subprocess.run([sys.executable, "-m", "backtest", *argv], check=True, capture_output=True, env=env, cwd=cwd,
                   timeout=300)


def test_replay_and_sweep_bytes_do_not_depend_on_the_string_hash_seed(base_lake, tmp_path):
    # set and dict-of-str iteration order changes with PYTHONHASHSEED: output must not follow it
    for seed in (1, 2):
        _in_process_of_its_own(["replay", SCENARIO, "--lake", str(base_lake), "--out", str(tmp_path / f"r{seed}"),
                                "--set", "pool_depth_scale=0.3"], seed, tmp_path)
        _in_process_of_its_own(["sweep", SCENARIO, "--lake", str(base_lake), "--out", str(tmp_path / f"s{seed}"),
                                "--workers", "2", *SWEEP], seed, tmp_path)
    assert folder_hash(tmp_path / "r1") == folder_hash(tmp_path / "r2")
    assert folder_hash(tmp_path / "s1") == folder_hash(tmp_path / "s2")
