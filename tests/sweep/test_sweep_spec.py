"""`backtest sweep --spec NAME`: a checked-in sweep (data/sweeps) run as written, flags winning over it,
and the same bytes for any worker count (path i draws from (seed, i))."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "backtest", "sweep", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def lake(sample_lake):
    return sample_lake(300)


def test_the_eth_bridge_spec_runs_its_paths_and_flags_win(lake, tmp_path):
    one = _cli("--spec", "eth-crash-bridges", "--paths", "3", "--seed", "4", "--workers", "1", "--lake", str(lake),
               "--out", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr
    # where each task's CPU time went, per part (a stats line, not part of the tables)
    line = next(x for x in one.stdout.splitlines() if "CPU seconds per task run:" in x)
    assert [p.split()[0] for p in line.split(":", 1)[1].split(",")] == ["inputs", "replay", "counterfactual", "metrics"]
    asked = tomllib.loads((tmp_path / "one" / "sweep.toml").read_text())
    assert asked["scenario"] == "stylised-eth-crash"
    paths = asked["paths"]
    assert (paths["n"], paths["model"], paths["seed"]) == (3, "bridge", 4)            # --paths and --seed won
    assert (paths["bridge_asset"], paths["bridge_drawdown"], paths["bridge_hours"]) == ("WETH", 0.45, 24.0)
    t = pq.read_table(tmp_path / "one" / "results.parquet")
    assert t["path"].to_pylist() == [0, 1, 2]
    assert min(t["max_drawdown_exogenous.WETH"].to_pylist()) >= 0.45 - 1e-9           # every path a -45 % day
    two = _cli("--spec", "eth-crash-bridges", "--paths", "3", "--seed", "4", "--workers", "2", "--lake", str(lake),
               "--out", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr
    for name in ("results.parquet", "comparison.parquet", "risk.parquet"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name


def test_the_shipped_spec_asks_for_a_thousand_seeded_paths():
    from backtest.sweep.spec import load_spec
    spec = load_spec("eth-crash-bridges")
    assert (spec["paths"], spec["model"], spec["bridge"], spec["seed"]) == (1000, "bridge", "WETH:0.45:24", 0)


@pytest.mark.parametrize("body, where", [("pathz = 3\n", "column 'pathz'"), ("paths = '3'\n", "column 'paths'"),
                                         ("grid = [1]\n", "column 'grid'")])
def test_a_bad_spec_is_one_line_naming_file_and_key(tmp_path, body, where):
    spec = tmp_path / "bad.toml"
    spec.write_text(body)
    p = _cli("--spec", str(spec), "--out", str(tmp_path / "out"))
    assert p.returncode == 2 and str(spec) in p.stderr and where in p.stderr
    assert p.stderr.strip().count("\n") == 0 and not (tmp_path / "out").exists()
