"""The main job's inputs load in a forked child while the parent sets numba up, and its two counterfactuals
run in forked children beside the feedback run: same bytes as one after the other, and BACKTEST_SERIAL (or a
daemonic process) keeps them in the parent."""

import os

import pytest

from backtest import run as run_module
from backtest.bench.replay_case import parquet_bytes
from backtest.run import DEFAULT_SCENARIO, make_config, run
from backtest.sample.lake import write_sample_lake
from backtest.scenarios.library import load_scenario

pytestmark = pytest.mark.skipif(run_module._forked(os.getpid) is None, reason="no fork or one CPU here")


def _bytes(result):
    outs = (result.outcome, result.counterfactual, result.execution)
    return [parquet_bytes(t) for o in outs for t in (o.liquidations, o.steps, o.events) if t is not None] + [
        o.collateral.tobytes() + o.debt.tobytes() for o in outs]


def test_the_forked_counterfactuals_are_the_serial_ones_byte_for_byte(tmp_path, monkeypatch):
    write_sample_lake(tmp_path / "lake", seed=7, n_accounts=1_500)
    scenario = load_scenario(DEFAULT_SCENARIO)
    config = make_config(scenario, tmp_path / "lake")
    side = run(config, scenario)
    monkeypatch.setenv("BACKTEST_SERIAL", "1")
    serial = run(config, scenario)
    assert side.counterfactual.liquidations.num_rows > 0
    assert _bytes(side) == _bytes(serial) and side.metrics == serial.metrics


def test_the_side_job_runs_in_another_process_unless_told_not_to(monkeypatch):
    assert run_module._forked(os.getpid)() != os.getpid()
    assert run_module._forked(int, "x")() is None                  # it failed there: the caller runs it here
    monkeypatch.setenv("BACKTEST_SERIAL", "1")
    assert run_module._forked(os.getpid) is None


def test_a_child_sends_the_rows_that_changed_and_they_land_bit_for_bit():
    import numpy as np
    start = np.arange(24, dtype=float).reshape(6, 4)
    end = start.copy()
    end[1, 2], end[4, 0], end[5, 3] = np.nan, -0.0, start[5, 3]          # -0.0 differs from 0.0 in its bits
    start[4, 0] = 0.0
    sent = run_module._Rows.of(end, start)
    assert sent.rows.tolist() == [1, 4]
    landed = sent.onto(start)
    assert landed.tobytes() == end.tobytes() and landed.flags.c_contiguous
    assert isinstance(run_module._Rows.of(np.asfortranarray(end), start), np.ndarray)   # sent whole


def test_on_two_cores_the_children_share_one_while_the_feedback_run_lasts():
    import time
    cores = sorted(os.sched_getaffinity(0))
    sides = [run_module._forked(time.sleep, 2.0) for _ in range(2)]
    with run_module._own_core(sides):
        during = [os.sched_getaffinity(s.pid) for s in sides]
    after = [os.sched_getaffinity(s.pid) for s in sides]
    for s in sides:
        s()
    assert during == [set(cores[-1:]) if len(cores) == 2 else set(cores)] * 2
    assert after == [set(cores)] * 2 and os.sched_getaffinity(0) == set(cores)


def test_the_command_line_replay_is_the_serial_one_byte_for_byte(tmp_path):
    """In a fresh process the inputs are loaded by a child too (not where DuckDB is loaded), and the parent's
    imports load neither DuckDB nor pandas (the child reads the lake)."""
    import subprocess
    import sys
    from pathlib import Path
    write_sample_lake(tmp_path / "lake", seed=3, n_accounts=600)
    repo = Path(run_module.__file__).resolve().parents[1]
    files = {}
    for mode in ("forked", "serial"):
        env = {**os.environ, "PYTHONPATH": str(repo), "BACKTEST_LAKE": str(tmp_path / "lake")}
        env.pop("BACKTEST_SERIAL", None)
        if mode == "serial":
            env["BACKTEST_SERIAL"] = "1"
        probe = ("import backtest.run as r, backtest.engine.replay, backtest.inputs.book, backtest.metrics, sys; "
                 "print(r._inputs_beside is not None and not {'duckdb', 'pandas'} & set(sys.modules))")
        subprocess.run([sys.executable, "-m", "backtest", "replay", "--json", "--out", str(tmp_path / mode)],
                       env=env, check=True, capture_output=True, cwd=repo)
        files[mode] = {p.name: p.read_bytes() for p in sorted((tmp_path / mode).iterdir())}
        assert subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                              cwd=repo).stdout.strip() == "True"
    assert files["forked"] == files["serial"] and "metrics.json" in files["forked"]


def _through_pipe(make):
    """make()'s value as `_forked`'s result brings it: written by _sent (here from a thread), read by _received."""
    import threading
    import multiprocessing as mp
    receive, send = mp.Pipe(duplex=False)
    writer = threading.Thread(target=lambda: run_module._sent(send, make()))
    writer.start()
    got = run_module._received(receive)
    writer.join()
    return got


def test_the_pipe_brings_arrays_back_in_buffers_of_their_own():
    """_sent/_received: arrays out of band, read into fresh, aligned, writable memory; the rest in the pickle."""
    import numpy as np
    value = {"big": np.arange(100_000, dtype=float).reshape(-1, 4), "empty": np.zeros((0, 3)),
             "strided": np.arange(12.0)[::3], "fortran": np.asfortranarray(np.ones((3, 2))),
             "text": np.array(["a", "bc"]), "none": None, "n": 7}
    got = _through_pipe(lambda: value)
    assert got.keys() == value.keys() and got["none"] is None and got["n"] == 7
    for k in ("big", "empty", "strided", "fortran", "text"):
        a, b = value[k], got[k]
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        assert b.flags.writeable and b.flags.aligned and not isinstance(b.base, bytes)
    assert got["fortran"].flags.f_contiguous


def test_the_inputs_child_loads_what_load_inputs_loads_bit_for_bit(tmp_path):
    """The child builds the venues on the Python path (no numba compiler to set up there): its inputs are what
    load_inputs gives on the compiled path, bit for bit (both through the pipe, so that pickle's bytes compare
    values, not which equal strings are one object nor the order a __setstate__ sets attributes in)."""
    import pickle
    from backtest.inputs.book import load_inputs
    from backtest.markets.venue_kinds import V3Pool
    write_sample_lake(tmp_path / "lake", seed=5, n_accounts=800)
    scenario = load_scenario(DEFAULT_SCENARIO)
    config = make_config(scenario, tmp_path / "lake")
    child = _through_pipe(lambda: run_module._load_inputs(config, scenario))
    here = _through_pipe(lambda: load_inputs(config, scenario))
    assert any(isinstance(v, V3Pool) for v in child.pools.venues)
    assert pickle.dumps(child) == pickle.dumps(here)


def test_a_run_leaves_the_collector_as_it_found_it():
    """_heap_kept pauses the collector for the setup, freezes what it made at `settled()` and turns the collector
    back on; at the end nothing stays frozen that it froze, and a caller's own freeze or pause is kept."""
    import gc
    try:
        for enabled, frozen_before in ((True, False), (False, False), (True, True)):
            (gc.enable if enabled else gc.disable)()
            if frozen_before:
                gc.freeze()
            with run_module._heap_kept() as settled:
                assert not gc.isenabled()
                made = [[i] for i in range(1000)]
                settled()
                assert gc.isenabled() == enabled and gc.get_freeze_count() >= len(made)
            assert gc.isenabled() == enabled and (gc.get_freeze_count() > 0) == frozen_before
            gc.unfreeze()
        with pytest.raises(ZeroDivisionError), run_module._heap_kept():
            1 / 0
        assert gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        gc.enable()
