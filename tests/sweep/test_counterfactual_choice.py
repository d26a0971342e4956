"""The no-feedback counterfactual as a choice (`--counterfactual none`, `--counterfactual-every K`):
where it was not made its columns are null (never 0), the other columns are the full sweep's, the
split is taken over the paths that have it, and the bytes do not depend on workers or executor."""

import io
import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from backtest.cli import main
from backtest.errors import InputError
from backtest.metrics import COUNTERFACTUAL_KEYS
from backtest.sweep import PathsSpec, run_sweep
from backtest.sweep.compare import p95
from backtest.sweep.tasks import Counterfactual

GRID = ["liquidation_threshold.CRV=0.30"]
PATHS = PathsSpec(model="gbm", paths=3, seed=11)        # 2 sets x 3 paths; every 2nd: paths 0 and 2


def _sweep(crash, lake, out, **kw):
    return run_sweep(crash, lake, out, grids=GRID, paths=PATHS, progress_stream=io.StringIO(), **kw)


def _from_counterfactual(column: str) -> bool:
    return column.split(".")[0] in COUNTERFACTUAL_KEYS


@pytest.fixture(scope="module")
def full(sweep_lake, crash, tmp_path_factory):
    return _sweep(crash, sweep_lake, tmp_path_factory.mktemp("full"), workers=1)


@pytest.fixture(scope="module")
def every2(sweep_lake, crash, tmp_path_factory):
    return _sweep(crash, sweep_lake, tmp_path_factory.mktemp("every2"), workers=1,
                  counterfactual=Counterfactual("no-feedback", every=2))


def test_skipped_paths_have_null_counterfactual_columns_and_the_full_sweeps_other_values(full, every2):
    f, e = full.results.to_pylist(), every2.results.to_pylist()
    assert every2.results.column_names == full.results.column_names
    cf_columns = [c for c in full.results.column_names if _from_counterfactual(c)]
    assert {"amplification", "cascade_depth", "bad_debt_usd_without_feedback",
            "bad_debt_usd_without_feedback_by_protocol.aave-v3"} <= set(cf_columns)
    for a, b in zip(f, e):
        assert (a["set_id"], a["path"]) == (b["set_id"], b["path"])
        if b["path"] == 1:                                 # not made: null, where the full sweep had a number
            assert all(b[c] is None for c in cf_columns)
            assert a["bad_debt_usd_without_feedback"] is not None and a["cascade_depth"] is not None
            assert {c: v for c, v in a.items() if c not in cf_columns} == \
                   {c: v for c, v in b.items() if c not in cf_columns}
        else:
            assert a == b
    # the table says what it lacks
    meta = pq.read_schema(every2.out / "results.parquet").metadata
    assert meta[b"backtest.not_computed"].decode().split(",") == every2.not_computed == cf_columns
    assert b"2 of 3" in meta[b"backtest.counterfactual"]
    assert pq.read_schema(full.out / "results.parquet").metadata is None and full.not_computed == []
    assert 'counterfactual = "no-feedback on 1 path in 2' in (every2.out / "sweep.toml").read_text()


def test_the_split_and_cascade_depth_come_from_the_paths_that_have_them(full, every2):
    t = full.results.to_pandas()
    base = t[t["set_id"] == 0]
    made = base[base["path"] != 1]
    risk = pq.read_table(every2.out / "risk.parquet").to_pandas()
    total = risk[(risk["set_id"] == 0) & (risk["market"] == "all")].iloc[0]
    assert total["paths"] == 3 and total["paths_without_feedback"] == 2
    assert total["var_usd"] == pytest.approx(p95(base["bad_debt_usd"].to_numpy()))        # all 3 paths
    assert total["var_without_feedback_usd"] == pytest.approx(p95(made["bad_debt_usd_without_feedback"].to_numpy()))
    lar0 = made["collateral_seized_usd_without_feedback"].to_numpy()
    assert total["lar_without_feedback_usd"] == pytest.approx(p95(lar0))
    assert total["lar_without_feedback_usd"] != pytest.approx(p95(base["collateral_seized_usd_without_feedback"]
                                                                  .to_numpy()))      # not over all 3
    assert total["lar_added_by_feedback_usd"] == pytest.approx(total["lar_usd"] - total["lar_without_feedback_usd"])
    comp = every2.comparison.to_pandas().set_index("set_id")
    assert comp["counterfactual_paths"].tolist() == [2, 2]
    assert comp.loc[0, "cascade_depth_mean"] == pytest.approx(made["cascade_depth"].mean())
    assert comp.loc[0, "bad_debt_usd_mean"] == pytest.approx(base["bad_debt_usd"].mean())
    assert "counterfactual_paths" not in full.comparison.column_names


def test_made_paths_reuse_a_full_sweeps_checkpoints(full, sweep_lake, crash, tmp_path):
    import shutil
    out = tmp_path / "resumed"
    shutil.copytree(full.out, out)
    again = _sweep(crash, sweep_lake, out, workers=1, counterfactual=Counterfactual("no-feedback", every=2))
    assert (again.ran, again.reused) == (2, 4)                # only path 1 of each set reruns, without it


def test_every_k_gives_the_same_bytes_on_two_workers_and_on_ray(every2, sweep_lake, crash, tmp_path):
    two = _sweep(crash, sweep_lake, tmp_path / "two", workers=2, counterfactual=Counterfactual("no-feedback", every=2))
    assert two.ran == 6
    for name in ("results", "comparison", "risk"):
        assert (tmp_path / "two" / f"{name}.parquet").read_bytes() == (every2.out / f"{name}.parquet").read_bytes()
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        _sweep(crash, sweep_lake, tmp_path / "ray", executor="ray", workers=2,
               counterfactual=Counterfactual("no-feedback", every=2))
    finally:
        ray.shutdown()
    for name in ("results", "comparison", "risk"):
        assert (tmp_path / "ray" / f"{name}.parquet").read_bytes() == (every2.out / f"{name}.parquet").read_bytes()


def test_none_leaves_every_split_null_not_zero(full, sweep_lake, crash, tmp_path):
    none = _sweep(crash, sweep_lake, tmp_path / "none", workers=1, counterfactual=Counterfactual("none"))
    t = none.results
    for c in none.not_computed:
        assert t[c].null_count == t.num_rows, c
    assert t["bad_debt_usd"].to_pylist() == full.results["bad_debt_usd"].to_pylist()
    risk = pq.read_table(tmp_path / "none" / "risk.parquet").to_pandas()
    assert risk["var_usd"].notna().all() and risk["var_without_feedback_usd"].isna().all()
    assert risk["lar_added_by_feedback_usd"].isna().all() and risk["paths_without_feedback"].isna().all()
    comp = none.comparison.to_pylist()
    assert all(r["cascade_depth_mean"] is None and r["delta_cascade_depth_p95"] is None for r in comp)
    assert all(r["counterfactual_paths"] == 0 for r in comp)
    assert not any(isinstance(r["bad_debt_usd_mean"], float) and math.isnan(r["bad_debt_usd_mean"]) for r in comp)


def test_a_counterfactual_choice_that_makes_no_sense_is_refused():
    with pytest.raises(InputError, match="counterfactual-every"):
        Counterfactual("none", every=3)
    with pytest.raises(InputError, match=">= 1"):
        Counterfactual("no-feedback", every=0)
    with pytest.raises(InputError, match="unknown counterfactual"):
        Counterfactual("execution-only")
    assert [Counterfactual("no-feedback", 3).runs(p) for p in range(7)] == [True, False, False, True, False, False, True]


def test_the_command_refuses_none_with_every_in_one_line(sweep_lake, tmp_path, capsys):
    code = main(["sweep", "--lake", str(sweep_lake), "--paths", "2", "--counterfactual", "none",
                 "--counterfactual-every", "2", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code != 0 and err.strip().count("\n") == 0 and "counterfactual-every" in err
    assert not (tmp_path / "x").exists()


def test_a_spec_can_choose_the_counterfactual(tmp_path):
    from backtest.sweep.spec import load_spec
    spec = tmp_path / "s.toml"
    spec.write_text('scenario = "stylised-eth-crash"\ncounterfactual = "none"\n')
    assert load_spec(str(spec))["counterfactual"] == "none"
    spec.write_text('counterfactual_every = "10"\n')
    with pytest.raises(InputError, match="must be int"):
        load_spec(str(spec))


def test_without_the_counterfactual_the_row_is_the_same_but_for_its_keys(sweep_lake, crash):
    # metrics.compute with None: the keys are all there, None; the rest equals the run with it
    from backtest.engine.replay import replay
    from backtest.metrics import compute
    from backtest.run import make_config
    from backtest.inputs.book import load_inputs
    config = make_config(crash, sweep_lake)
    inputs = load_inputs(config, crash)
    outcome = replay(inputs, config)
    with_it = compute(inputs, outcome, replay(inputs, config, feedback=False))
    without = compute(inputs, outcome, None)
    assert list(without) == list(with_it)
    for k in COUNTERFACTUAL_KEYS:
        v = without[k]
        assert (all(x is None for x in v.values()) and set(v) == set(with_it[k])) if isinstance(v, dict) else v is None
    rest = [k for k in with_it if k not in COUNTERFACTUAL_KEYS]
    assert {k: without[k] for k in rest} == {k: with_it[k] for k in rest}
    assert with_it["bad_debt_usd_without_feedback"] > 0 and np.isfinite(with_it["amplification"])


def _rerun_args(out):
    """The report's rerun command for the sweep in `out`, parsed as `backtest sweep` would parse it."""
    import shlex
    from backtest.cli import build_parser
    from backtest.commands.sweep import apply_spec
    from backtest.report.sweep import sweep_command
    line = sweep_command((out / "sweep.toml").read_text(), out)
    words = shlex.split(line)
    assert words[:2] == ["backtest", "sweep"]
    args = build_parser().parse_args(words[1:])
    apply_spec(args)
    return args


def test_the_reports_rerun_command_asks_for_the_same_paths_and_counterfactual(every2):
    args = _rerun_args(every2.out)
    assert (args.paths, args.model, args.seed) == (PATHS.paths, PATHS.model, PATHS.seed)
    assert (args.counterfactual, args.counterfactual_every) == ("no-feedback", 2)
    import tomllib
    window = tomllib.loads((every2.out / "sweep.toml").read_text())["paths"]["window"]
    from backtest.sweep.run import parse_window
    assert tuple(args.calibrate) == parse_window("..".join(window)) and args.grid == GRID


def test_the_rerun_command_names_a_bridge_and_no_counterfactual(tmp_path):
    (tmp_path / "sweep.toml").write_text(
        'scenario = "stylised-eth-crash"\nfeedback = true\ncounterfactual_kind = "none"\ncounterfactual_every = 1\n'
        '[paths]\nn = 40\nmodel = "bridge"\nseed = 7\nbridge_asset = "WETH"\nbridge_drawdown = 0.45\n'
        'bridge_hours = 24.0\n')
    args = _rerun_args(tmp_path)
    assert (args.paths, args.model, args.seed, args.bridge) == (40, "bridge", 7, ("WETH", 0.45, 24.0))
    assert args.counterfactual == "none" and args.calibrate is None
