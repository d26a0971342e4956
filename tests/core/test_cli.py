"""The `backtest` command end to end, and its one-line errors on bad input."""

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backtest.cli import main
from backtest.config import load_config


def test_replay_end_to_end_writes_the_results_folder(small_lake, tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "backtest", "replay", "--lake", str(small_lake), "--out", str(out),
                           "--set", "oracle.deviation=0.01"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "cascade depth" in done.stdout and "bad debt" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["accounts.parquet", "config.toml", "events.parquet",
                                                     "liquidations.parquet", "metrics.json", "steps.parquet"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["liquidations"] == pq.read_metadata(out / "liquidations.parquet").num_rows
    accounts = pq.read_table(out / "accounts.parquet").to_pandas()
    assert len(accounts) == metrics["accounts"]
    assert (accounts.health_factor_after < 1).sum() > 0 and (accounts.health_factor_before >= 1).all()
    config = load_config(out / "config.toml")
    assert config.oracle.deviation == 0.01 and config.scenario == "stylised-eth-crash"
    assert tomllib.loads((out / "config.toml").read_text())["scenario_spec"]["kind"] == "stylised"


def test_liquidations_by_hour_adds_up_to_the_run(small_lake, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["replay", "--lake", str(small_lake), "--out", str(out), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert main(["query", "liquidations_by_hour", "--results", str(out), "--lake", str(small_lake),
                 "--out", str(tmp_path / "h.parquet"), "--limit", "3"]) == 0
    assert pq.read_table(tmp_path / "h.parquet").column("liquidations").to_pylist() and \
        sum(pq.read_table(tmp_path / "h.parquet").column("liquidations").to_pylist()) == metrics["liquidations"]


def test_health_writes_a_row_per_account_and_snapshot(small_lake, tmp_path, capsys):
    assert main(["health", "--lake", str(small_lake), "--out", str(tmp_path / "health.parquet")]) == 0
    # 3,000 accounts over Aave and Compound v2, plus 4 % each for Comet and Maker, plus 2 % and 0.5 %
    # in e-mode on Aave v3 and v3.3: 3,000 + 120 + 120 + 60 + 15
    assert pq.read_metadata(tmp_path / "health.parquet").num_rows == 3315
    assert "riskiest first" in capsys.readouterr().out


def test_scenarios_lists_the_stylised_crash(capsys):
    assert main(["scenarios"]) == 0
    assert "stylised-eth-crash" in capsys.readouterr().out


def _rewrite(lake: Path, table: str, change) -> Path:
    path = next((lake / table).glob("*.parquet"))
    pq.write_table(change(pq.read_table(path)), path)
    return path


def _set(t: pa.Table, col: str, row: int, value) -> pa.Table:
    values = t[col].to_pylist()
    values[row] = value
    return t.set_column(t.schema.get_field_index(col), col, pa.array(values, t[col].type))


BROKEN = {
    "missing table": (lambda lake: shutil.rmtree(lake / "prices"), r"prices: lake table 'prices' has no Parquet files"),
    "missing column": (lambda lake: _rewrite(lake, "positions", lambda t: t.drop_columns(["debt"])),
                       r"positions\.parquet, column 'debt': missing required column"),
    "nan price": (lambda lake: _rewrite(lake, "prices", lambda t: _set(t, "price_usd", 6, float("nan"))),
                  r"prices\.parquet, column 'price_usd', row 7: must be a finite number"),
    "negative price": (lambda lake: _rewrite(lake, "prices", lambda t: _set(t, "price_usd", 0, -3.0)),
                       r"prices\.parquet, column 'price_usd', row 1: must be > 0"),
    "unknown asset": (lambda lake: _rewrite(lake, "positions", lambda t: _set(t, "asset", 4, "DOGE")),
                      r"positions\.parquet, column 'asset', row 5: asset 'DOGE' is not in the markets table"),
    "empty pool": (lambda lake: _rewrite(lake, "pools", lambda t: _set(t, "reserve0", 1, 0.0)),
                   r"pools\.parquet, column 'reserve0', row 2: a uniswap-v2 pool needs positive reserves"),
    "threshold above 1": (lambda lake: _rewrite(lake, "markets", lambda t: _set(t, "liquidation_threshold", 2, 1.2)),
                          r"markets\.parquet, column 'liquidation_threshold', row 3: must be <= 1"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_bad_lake_input_is_one_line_a_nonzero_exit_and_no_output(case, small_lake, tmp_path, capsys):
    lake = tmp_path / "lake"
    shutil.copytree(small_lake, lake)
    breaker, message = BROKEN[case]
    breaker(lake)
    out = tmp_path / "out"
    assert main(["replay", "--lake", str(lake), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("backtest replay: error: ")
    assert __import__("re").search(message, err), err
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_a_scenario_file_that_does_not_exist_is_named(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    assert main(["replay", str(missing), "--out", str(tmp_path / "out")]) == 2
    assert f"{missing}: scenario file not found" in capsys.readouterr().err


def test_a_scenario_naming_a_series_the_lake_lacks_says_how_to_get_it(small_lake, tmp_path, capsys):
    scenario = tmp_path / "s.toml"
    scenario.write_text('start = 2024-01-01T00:00:00Z\nend = 2024-01-01T06:00:00Z\nstep_seconds = 600\n'
                        'kind = "historical"\n[assets.WETH]\nsource = "lake"\nlake_asset = "ETH"\n'
                        'get = "backtest import-prices eth.csv --asset ETH"\n')
    assert main(["replay", str(scenario), "--lake", str(small_lake), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "column 'assets.WETH'" in err and "get it with: backtest import-prices eth.csv --asset ETH" in err
    assert not (tmp_path / "out").exists()


def test_an_unknown_parameter_lists_the_known_ones(small_lake, tmp_path, capsys):
    assert main(["replay", "--lake", str(small_lake), "--set", "liquidation_treshold=0.8",
                 "--out", str(tmp_path / "o")]) == 2
    assert "unknown parameter 'liquidation_treshold'" in capsys.readouterr().err
