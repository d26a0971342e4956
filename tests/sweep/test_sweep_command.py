"""`backtest sweep` on the command line: help with an example, one-line errors, a table printed."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "backtest", "sweep", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=300)


def test_help_shows_an_example():
    p = _cli("--help")
    assert p.returncode == 0
    assert "backtest sweep --grid liquidation_threshold.CRV=" in p.stdout and "--executor" in p.stdout


def test_a_bad_grid_is_one_line_and_a_non_zero_exit(sweep_lake):
    p = _cli("--lake", str(sweep_lake), "--grid", "liquidation_threshold.CRV=0.3,,0.4")
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "empty value" in p.stderr


def test_a_bad_calibration_window_is_a_usage_error_not_a_traceback(sweep_lake):
    p = _cli("--lake", str(sweep_lake), "--paths", "2", "--calibrate", "2022-11-30..2022-11-01")
    assert p.returncode == 2 and "END must be after START" in p.stderr and "Traceback" not in p.stderr


def test_bridge_model_without_its_target_is_an_input_error(sweep_lake):
    p = _cli("--lake", str(sweep_lake), "--paths", "2", "--model", "bridge")
    assert p.returncode == 2 and "--bridge ASSET:DRAWDOWN:HOURS" in p.stderr


def test_a_bridge_sweep_prints_the_comparison_and_writes_the_tables(sweep_lake, tmp_path):
    out = tmp_path / "sweep"
    p = _cli("--lake", str(sweep_lake), "--grid", "liquidation_bonus.CRV=0.12", "--paths", "2", "--model",
             "bridge", "--bridge", "CRV:0.6:6", "--seed", "5", "--workers", "1", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "baseline" in p.stdout and "4 tasks (4 run, 0 reused)" in p.stdout
    assert "book read 1 time(s)" in p.stdout      # one read for 4 tasks
    assert (out / "results.parquet").exists() and (out / "comparison.parquet").exists()
    import pyarrow.parquet as pq
    t = pq.read_table(out / "results.parquet")
    # every path has CRV 60 % down 6 h in, so every path's exogenous CRV drawdown is at least 60 %
    assert min(t["max_drawdown_exogenous.CRV"].to_pylist()) >= 0.6 - 1e-9


def test_json_output_is_the_comparison_table_and_a_rerun_reuses_every_task(sweep_lake, tmp_path):
    import json
    import pyarrow.parquet as pq
    out = tmp_path / "sweep"
    args = ("--lake", str(sweep_lake), "--grid", "liquidation_bonus.CRV=0.12", "--workers", "1", "--out", str(out))
    first = _cli(*args, "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["tasks"] == 2 and data["ran"] == 2
    assert data["comparison"] == json.loads(json.dumps(pq.read_table(out / "comparison.parquet").to_pylist(),
                                                       default=str))
    assert data["counterfactual"] == "no-feedback on every path" and data["not_computed"] == []
    again = json.loads(_cli(*args, "--json").stdout)
    assert again["reused"] == 2 and again["ran"] == 0
    # one path, `--counterfactual none`: the JSON names the columns left null
    none = json.loads(_cli(*args[:-2], "--out", str(tmp_path / "none"), "--counterfactual", "none", "--json").stdout)
    assert none["counterfactual"].startswith("none") and "amplification" in none["not_computed"]
    assert all(row["cascade_depth_mean"] is None for row in none["comparison"])
