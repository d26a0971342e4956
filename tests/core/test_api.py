"""The public Python API (issue 20, item 8): `bt.replay()` gives the CLI's numbers, its tables are the
results folder's, and `import backtest` stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq

import backtest as bt
from backtest.cli import main


def test_replay_gives_the_clis_numbers(small_lake, tmp_path, capsys):
    assert main(["replay", "--lake", str(small_lake), "--out", str(tmp_path / "cli"), "--json",
                 "--set", "liquidation_threshold.CRV=0.35"]) == 0
    capsys.readouterr()
    run = bt.replay(lake=small_lake, set={"liquidation_threshold.CRV": 0.35})
    cli = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert run.metrics == cli and cli["liquidations"] > 0
    assert len(run.liquidations) == cli["liquidations"] and len(run.accounts) == cli["accounts"]
    # saved, the folder is the CLI's byte for byte
    saved = run.save(tmp_path / "api")
    for name in ("metrics.json", "config.toml"):
        assert (saved / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    for name in ("liquidations", "steps", "accounts"):
        api, cli_table = (pq.read_table(d / f"{name}.parquet").to_pandas() for d in (saved, tmp_path / "cli"))
        assert api.equals(cli_table), name                  # NaN-aware: the steps table has NaN cells
    assert run.steps["step"].nunique() == cli["steps"]            # one row per (step, asset)


def test_overrides_and_feedback_change_the_run(small_lake):
    base = bt.replay(lake=small_lake, feedback=False)
    assert base.config.feedback is False and base.metrics["amplification"] in (None, 1.0)
    other = bt.replay(lake=small_lake, set=["liquidation_threshold.CRV=0.35"], feedback=False)
    assert other.config.market_overrides == (("liquidation_threshold.CRV", 0.35),)


def test_report_writes_html(small_lake, tmp_path):
    html = bt.replay(lake=small_lake).report(tmp_path / "r.html")
    assert html == tmp_path / "r.html" and "<html" in html.read_text()[:2000].lower()
    assert (tmp_path / "r.md").exists()


def test_query_and_health_are_the_commands_tables(small_lake, tmp_path, capsys):
    df = bt.query("price_path", lake=small_lake, asset="WETH", start="2023-12-20", end="2023-12-21",
                  step_seconds=3600)
    assert len(df) == 25 and df["price_usd"].notna().all()
    health = bt.health(small_lake)
    assert main(["health", "--lake", str(small_lake), "--out", str(tmp_path / "h.parquet")]) == 0
    assert len(health) == pq.read_metadata(tmp_path / "h.parquet").num_rows


def test_sweep_compares_each_set_with_the_baseline(small_lake, tmp_path):
    result = bt.sweep(grid={"liquidation_bonus": [0.05, 0.1]}, lake=small_lake, out=tmp_path / "sw", workers=1)
    assert result.tasks == 3 and len(result.comparison) == 3 and len(result.results) == 3
    assert (tmp_path / "sw" / "comparison.parquet").exists() and "liquidation_bonus" in result.summary()


def test_import_backtest_stays_light_and_sweep_stays_callable():
    probe = ("import sys, backtest as bt; light = not any(m in sys.modules for m in ('numpy', 'pandas', 'duckdb')); "
             "import backtest.sweep.run; print(light, callable(bt.sweep), callable(bt.replay))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True", "True"]
