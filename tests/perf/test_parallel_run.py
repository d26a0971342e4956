"""The main job's two counterfactuals run in a forked child beside the feedback run: same bytes as
one after the other, and BACKTEST_SERIAL (or a daemonic process) keeps them in the parent."""

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
