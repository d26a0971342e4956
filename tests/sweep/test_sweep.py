"""Sweeps end to end on a 2,000-account sample lake: the same table from any executor and worker
count, resume without rerunning, one lake read shared by the local workers, and parity with `backtest replay`."""

import io
import os

import pyarrow.parquet as pq
import pytest

from backtest.run import make_config, run
from backtest.errors import InputError
from backtest.metrics import EXECUTION_ONLY_KEYS
from backtest.sweep import PathsSpec, run_sweep
from backtest.sweep.worker import flatten

GRID = ["liquidation_threshold.CRV=0.30"]
PATHS = PathsSpec(model="gbm", paths=2, seed=11)        # 2 sets x 2 paths = 4 tasks


def _sweep(crash, lake, out, **kw):
    return run_sweep(crash, lake, out, grids=kw.pop("grids", GRID), paths=kw.pop("paths", PATHS),
                     progress_stream=io.StringIO(), **kw)


@pytest.fixture(scope="module")
def serial(sweep_lake, crash, tmp_path_factory):
    return _sweep(crash, sweep_lake, tmp_path_factory.mktemp("serial"), workers=1)


def test_one_row_per_parameter_set_and_path_with_every_metric(serial):
    t = serial.results
    assert t.num_rows == 4
    assert list(zip(t["set_id"].to_pylist(), t["path"].to_pylist())) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    # the sample's CRV reserves differ by protocol (aave-v2 0.61, v3 0.41): no single baseline value
    assert t["liquidation_threshold.CRV"].to_pylist() == [None, None, 0.30, 0.30]
    for metric in ("bad_debt_usd", "liquidations", "cascade_depth", "amplification", "max_drawdown_exogenous.CRV"):
        assert metric in t.column_names
    # paths are shared across sets (paired comparison): same exogenous drawdown for path 0 in both sets
    dd = t["max_drawdown_exogenous.CRV"].to_pylist()
    assert dd[0] == dd[2] and dd[1] == dd[3] and dd[0] != dd[1]


def test_var_and_lar_per_market_add_up_with_the_comparison(serial):
    risk = pq.read_table(serial.out / "risk.parquet").to_pandas()
    comp = serial.comparison.to_pandas().set_index("set_id")
    total = risk[risk["market_kind"] == "all"].set_index("set_id")
    # VaR and LaR of all markets are the comparison's p95 of bad debt and of collateral seized
    assert total["var_usd"].tolist() == pytest.approx(comp["bad_debt_usd_p95"].tolist())
    assert total["lar_usd"].tolist() == pytest.approx(comp["collateral_seized_usd_p95"].tolist())
    assert (total["var_usd"] - total["var_without_feedback_usd"]).tolist() == \
        pytest.approx(total["var_added_by_feedback_usd"].tolist())
    assert {"protocol", "collateral"} <= set(risk["market_kind"])
    # `none` (bad debt with no collateral to credit it to) has no liquidations: no LaR, not a LaR of 0
    seized = risk[risk["market"] != "none"]
    assert seized["lar_without_feedback_usd"].notna().all() and risk.loc[risk["market"] == "none", "lar_usd"].isna().all()
    # per path the markets add up to the total, so the per-protocol columns are a split of it
    t = serial.results.to_pandas()
    by_protocol = t[[c for c in t.columns if c.startswith("collateral_seized_usd_by_protocol.")]].sum(axis=1)
    assert by_protocol.tolist() == pytest.approx(t["collateral_seized_usd"].tolist())


def test_results_are_byte_identical_across_worker_counts(serial, sweep_lake, crash, tmp_path):
    pids = []
    pooled = _sweep(crash, sweep_lake, tmp_path / "pooled", workers=2, on_result=lambda r: pids.append(r["worker"]))
    assert pooled.ran == 4
    assert (tmp_path / "pooled" / "results.parquet").read_bytes() == (serial.out / "results.parquet").read_bytes()
    assert (tmp_path / "pooled" / "comparison.parquet").read_bytes() == \
        (serial.out / "comparison.parquet").read_bytes()
    # the tasks ran in other processes, yet the book was read once: by the sweep, shared with the workers
    assert os.getpid() not in pids
    assert serial.lake_loads == 1 and pooled.lake_loads == 1


def test_spawned_workers_get_the_books_from_the_sweep_not_the_lake(serial, sweep_lake, crash, tmp_path, monkeypatch):
    # where fork is not used (macOS, Windows) the cache is pickled to each spawned worker
    from backtest.sweep import executors
    monkeypatch.setattr(executors, "start_method", lambda: "spawn")
    spawned = _sweep(crash, sweep_lake, tmp_path / "spawned", workers=2)
    assert spawned.lake_loads == 1
    assert (tmp_path / "spawned" / "results.parquet").read_bytes() == (serial.out / "results.parquet").read_bytes()


def test_ray_executor_gives_the_same_bytes(serial, sweep_lake, crash, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = _sweep(crash, sweep_lake, tmp_path / "ray", executor="ray", workers=2)
    finally:
        ray.shutdown()
    assert on_ray.ran == 4 and on_ray.lake_loads == 1        # the actors get the books from the object store
    assert (tmp_path / "ray" / "results.parquet").read_bytes() == (serial.out / "results.parquet").read_bytes()


def test_an_interrupted_sweep_resumes_without_rerunning_finished_tasks(serial, sweep_lake, crash, tmp_path):
    out = tmp_path / "resumed"
    seen = []

    def stop_after_two(result):
        seen.append(result["key"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _sweep(crash, sweep_lake, out, workers=1, on_result=stop_after_two)
    assert len(list((out / "tasks").glob("*.json"))) == 2
    assert not (out / "results.parquet").exists()
    rerun = []
    resumed = _sweep(crash, sweep_lake, out, workers=1, on_result=lambda r: rerun.append(r["key"]))
    assert (resumed.ran, resumed.reused) == (2, 2)
    assert not set(rerun) & set(seen)
    assert (out / "results.parquet").read_bytes() == (serial.out / "results.parquet").read_bytes()
    again = _sweep(crash, sweep_lake, out, workers=1)
    assert (again.ran, again.reused) == (0, 4)


def test_historical_sweep_row_equals_backtest_replay_metrics(sweep_lake, crash, tmp_path):
    # the baseline of a sweep is exactly `backtest replay` with the same parameters; a grid point
    # equal to the baseline (0.005 is the default oracle deviation) has the same key and runs once
    result = _sweep(crash, sweep_lake, tmp_path, workers=1, paths=None, grids=["oracle.deviation=0.005,0.05"])
    assert (result.tasks, result.ran) == (2, 2)
    assert result.results["oracle.deviation"].to_pylist() == [0.005, 0.005, 0.05]
    row = {k: v[0] for k, v in result.results.to_pydict().items()}
    expected = flatten(run(make_config(crash, sweep_lake)).metrics)
    # a sweep makes no execution-only run: every other metric is the replay's
    assert not [k for k in EXECUTION_ONLY_KEYS if k in row] and all(k in expected for k in EXECUTION_ONLY_KEYS)
    expected = {k: v for k, v in expected.items() if k not in EXECUTION_ONLY_KEYS}
    assert {k: row[k] for k in expected} == expected
    # the sweep adds bad debt by main collateral; every sample borrower pledged something, so it adds up
    by_coll = sum(v for k, v in row.items() if k.startswith("bad_debt_usd_by_collateral."))
    assert row["bad_debt_usd"] > 0 and by_coll == pytest.approx(row["bad_debt_usd"], rel=1e-9)
    cmp = result.comparison.to_pydict()
    assert cmp["delta_bad_debt_usd_mean"][1] == 0.0 and cmp["delta_liquidations_mean"][1] == 0.0
    assert cmp["delta_liquidations_mean"][2] == result.results["liquidations"][2].as_py() - row["liquidations"]


def test_the_output_folder_records_what_was_asked(serial):
    text = (serial.out / "sweep.toml").read_text()
    assert 'grid = [\n    "liquidation_threshold.CRV=0.30",\n]' in text
    assert 'model = "gbm"' in text and "seed = 11" in text and "n = 2" in text
    assert pq.read_table(serial.out / "comparison.parquet").num_rows == 2


def test_an_unknown_parameter_fails_before_any_task_runs(sweep_lake, crash, tmp_path):
    with pytest.raises(InputError, match="unknown parameter 'liquidation_treshold'"):
        _sweep(crash, sweep_lake, tmp_path, grids=["liquidation_treshold=0.5"])
    assert not (tmp_path / "tasks").exists()


def test_pool_workers_freeze_the_heap_they_inherit_and_the_caller_does_not(monkeypatch):
    # a worker's inherited books and kernels are never garbage: gc.freeze keeps collections off them
    # in the worker; the calling process (a notebook) is left as it was
    import gc
    from backtest.sweep import executors, worker
    if executors.start_method() != "fork":
        pytest.skip("forked pools only (Linux)")
    monkeypatch.setattr(worker.Worker, "run", lambda self, task: {"frozen": gc.get_freeze_count(), "pid": os.getpid()})
    before, got = gc.get_freeze_count(), []
    executors.run_local([1, 2, 3], context=None, workers=2, on_result=got.append)
    assert len(got) == 3 and all(r["pid"] != os.getpid() for r in got)
    assert all(r["frozen"] > before for r in got)
    assert gc.get_freeze_count() == before
