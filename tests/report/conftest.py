"""Two real replays on the small synthetic lake: the baseline and a thinner-pool variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtest.cli import main


@pytest.fixture(scope="session")
def baseline(small_lake, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "baseline"
    assert main(["replay", "--lake", str(small_lake), "--out", str(out), "--json"]) == 0
    return out


@pytest.fixture(scope="session")
def thin_pools(small_lake, tmp_path_factory) -> Path:
    """Pools at a tenth of their depth: the same crash cascades deeper (a visible comparison)."""
    out = tmp_path_factory.mktemp("runs") / "thin-pools"
    assert main(["replay", "--lake", str(small_lake), "--out", str(out), "--json",
                 "--set", "pool_depth_scale=0.1"]) == 0
    return out


@pytest.fixture(scope="session")
def baseline_report(baseline, tmp_path_factory) -> Path:
    """The baseline's report, rendered once for the tests that only read it."""
    out = tmp_path_factory.mktemp("reports") / "baseline.html"
    assert main(["report", str(baseline), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def compare_report(baseline, thin_pools, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reports") / "compare.html"
    assert main(["report", str(baseline), "--compare", str(thin_pools), "--out", str(out)]) == 0
    return out


@pytest.fixture
def sweep_folder(tmp_path) -> Path:
    """A sweep folder as `backtest sweep` writes it (its own comparison code), from hand-set metrics:
    baseline (set 0) at LT 0.45 / depth 1, off the 2 x 2 grid, two paths each (replaying them would take
    a minute; tests/sweep runs the real thing)."""
    import pyarrow as pa
    import tomli_w
    from backtest.lake.io import write_parquet
    from backtest.sweep.compare import compare
    from backtest.sweep.risk import var_lar
    grid = [(0.45, 1.0), (0.35, 0.25), (0.35, 1.0), (0.41, 0.25), (0.41, 1.0)]
    bad = {0: (100.0, 300.0), 1: (900.0, 1100.0), 2: (50.0, 150.0), 3: (700.0, 900.0), 4: (100.0, 300.0)}
    rows = [{"set_id": sid, "path": p, "liquidation_threshold.CRV": lt, "pool_depth_scale": depth,
             "bad_debt_usd": bad[sid][p], "liquidations": 10 * (sid + 1), "cascade_depth": sid % 3,
             "collateral_seized_usd": 1000.0 * (sid + 1)}
            for sid, (lt, depth) in enumerate(grid) for p in (0, 1)]
    results = pa.Table.from_pylist(rows).cast(pa.schema([
        ("set_id", pa.int32()), ("path", pa.int32()), ("liquidation_threshold.CRV", pa.float64()),
        ("pool_depth_scale", pa.float64()), ("bad_debt_usd", pa.float64()), ("liquidations", pa.int64()),
        ("cascade_depth", pa.int64()), ("collateral_seized_usd", pa.float64())]))
    out = tmp_path / "sw"
    write_parquet(results, out / "results.parquet")
    write_parquet(compare(results, ["liquidation_threshold.CRV", "pool_depth_scale"]), out / "comparison.parquet")
    write_parquet(var_lar(results), out / "risk.parquet")
    (out / "sweep.toml").write_text(tomli_w.dumps({
        "scenario": "stylised-eth-crash", "lake": "lake", "feedback": True, "set": [],
        "grid": ["liquidation_threshold.CRV=0.35,0.41", "pool_depth_scale=0.25,1"], "tasks": 5}))
    return out
