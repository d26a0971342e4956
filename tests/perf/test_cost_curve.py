"""`backtest bench --only curve`: replay time against accounts, steps and liquidations (no timing asserted)."""

import json

import numpy as np

from backtest.bench import curve
from backtest.bench.book import bench_inputs
from backtest.cli import main


def test_each_series_moves_its_own_axis_and_reports_slope_and_marginal_cost():
    row = curve.run_case(1_000, 120, repeats=1)
    acc, steps, liq = (row["series"][k] for k in ("accounts", "steps", "liquidations"))
    assert [p["accounts"] for p in acc["points"]] == [1_000, 2_000, 4_000]
    assert {p["steps"] for p in acc["points"]} == {120}
    assert [p["steps"] for p in steps["points"]] == [120, 240, 480]
    assert {p["accounts"] for p in steps["points"]} == {1_000}
    # the liquidation series holds accounts and steps and moves only the crash: more crash, more liquidations
    assert {(p["accounts"], p["steps"]) for p in liq["points"]} == {(1_000, 120)}
    by_scale = {p["crash_scale"]: p["liquidations"] for p in liq["points"]}
    assert by_scale[2.0] > by_scale[0.5]
    for s in (acc, steps, liq):
        assert all(p["seconds"] > 0 and p["cpu_seconds"] > 0 for p in s["points"]) and s["cpu_slope"] is not None
        assert s["marginal_seconds"] is not None and s["cpu_marginal_seconds"] is not None
    assert set(row["model"]) == {"intercept_s", "per_1k_accounts_s", "per_1k_steps_s", "per_liquidation_ms"}
    assert row["points"] == 10 and "slope" in curve.describe(row)


def test_a_scaled_crash_scales_the_log_move_and_keeps_the_start():
    inputs = bench_inputs(200, 50, 0)
    half = curve.scaled_crash(inputs, 0.5)
    assert np.array_equal(half.exogenous[0], inputs.exogenous[0])
    np.testing.assert_allclose(np.log(half.exogenous / inputs.exogenous[0]),
                               0.5 * np.log(inputs.exogenous / inputs.exogenous[0]), atol=1e-12)


def test_the_bench_command_runs_the_curve_and_prints_it(capsys):
    from backtest.bench import run
    cases = run.plan(False, ["curve"])
    assert list(cases) == ["curve"] and cases["curve"][0]["accounts"] > 0
    report = {"results": [{"bench": "curve", "baseline": run.BASELINES["curve"], **curve.run_case(500, 60, repeats=1)}]}
    text = run.table(report)
    assert "curve" in text and "slope" in text
    json.dumps(report)                                   # the JSON report can hold it
    assert main(["bench", "--only", "curve", "--replay-size", "1by1"]) == 2    # sizes are checked as before
