"""`backtest sweep`: compare parameter sets over a scenario's path or over Monte Carlo paths."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from backtest.commands.common import DEFAULT_SCENARIO, EXECUTORS, LAKE_HELP, PATH_MODELS, default_lake
from backtest.errors import InputError

EPILOG = """examples:
  backtest sweep --grid liquidation_threshold.CRV=0.30,0.35,0.41
  backtest sweep stylised-eth-crash --grid liquidation_bonus=0.05,0.10 --grid oracle.deviation=0.005,0.02
  backtest sweep --grid liquidation_threshold.CRV=0.20:0.45:0.05 --paths 200 --model bootstrap --seed 7
  backtest sweep --grid pool_depth_scale=0.25,0.5,1 --paths 100 --model bridge --bridge CRV:0.6:12
  backtest sweep --grid close_factor=0.5,1 --executor ray --address ray://head:10001
  backtest sweep --spec eth-crash-bridges --paths 50 --workers 2   # data/sweeps/eth-crash-bridges.toml, 50 paths
  backtest sweep --spec eth-crash-bridges --counterfactual-every 10   # the no-feedback split on 1 path in 10

Output (--out, default results/sweep-SCENARIO): results.parquet (one row per parameter set and
path, every metric), comparison.parquet (each set against the baseline: mean, 95th percentile,
P(bad debt) and their changes), sweep.toml, and tasks/ (rerun the same command to resume).
"""


def _bridge(text: str) -> tuple[str, float, float]:
    try:
        asset, dd, hours = text.split(":")
        return asset, float(dd), float(hours)
    except ValueError:
        raise argparse.ArgumentTypeError("expected ASSET:DRAWDOWN:HOURS, e.g. CRV:0.6:12") from None


def _window(text: str):
    from backtest.sweep.run import parse_window
    try:
        return parse_window(text)
    except InputError as exc:           # argparse prints it as a usage error (exit 2)
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub) -> None:
    p = sub.add_parser("sweep", help="compare parameter sets over historical or Monte Carlo paths",
                       description="Replay a scenario once per parameter set (and per path), then compare "
                                   "each set with the current parameters.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", nargs="?", default=None,
                   help=f"scenario name in data/scenarios or a .toml path (default {DEFAULT_SCENARIO})")
    p.add_argument("--spec", default=None, metavar="NAME",
                   help="a sweep spec in data/sweeps (or a .toml path): its scenario, grid, --set and paths; "
                        "flags on the command line win, its grid and set add to theirs")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="values to sweep for one parameter (any `--set` key; START:STOP:STEP for a range); "
                        "several --grid make a cartesian product")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="change the baseline itself, as in `backtest replay --set`")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.add_argument("--no-feedback", action="store_true", help="liquidation sales do not move prices")
    p.add_argument("--counterfactual", choices=("no-feedback", "none"), default=None,
                   help="replay each path a second time without feedback (default no-feedback), or not (none: "
                        "~40%% less CPU a path; the *_without_feedback*, amplification, cascade_depth and "
                        "induced_* columns and the VaR/LaR split are then null)")
    p.add_argument("--counterfactual-every", type=int, default=None, metavar="K",
                   help="make the no-feedback run on every K-th path only (path %% K == 0); the other paths' "
                        "no-feedback columns are null and the split is taken over the paths that have it")
    mc = p.add_argument_group("Monte Carlo paths (instead of the scenario's own path)")
    mc.add_argument("--paths", type=int, default=None, metavar="N", help="number of paths per parameter set")
    mc.add_argument("--model", choices=PATH_MODELS, default=None, help="path model (default gbm)")
    mc.add_argument("--seed", type=int, default=None, help="path i is drawn from (seed, i) (default 0)")
    mc.add_argument("--calibrate", type=_window, default=None, metavar="START..END",
                    help="window of lake prices to estimate volatility and correlation from (default: the "
                         "scenario's window if historical, else the 30 days before the book)")
    mc.add_argument("--jumps-per-day", type=float, default=None, help="jump model: mean jumps per day (default 2)")
    mc.add_argument("--jump-mean", type=float, default=None,
                    help="jump model: mean log jump of the most volatile asset (default -0.10)")
    mc.add_argument("--jump-std", type=float, default=None, help="jump model: std of the log jump (default 0.05)")
    mc.add_argument("--block", type=int, default=None, metavar="STEPS",
                    help="bootstrap model: block length in scenario steps (default 12)")
    mc.add_argument("--bridge", type=_bridge, default=None, metavar="ASSET:DRAWDOWN:HOURS",
                    help="bridge model: ASSET is down DRAWDOWN (0.6 = -60%%) HOURS after the start")
    run = p.add_argument_group("where it runs")
    run.add_argument("--workers", type=int, default=None, help="parallel workers (default: all cores)")
    run.add_argument("--executor", choices=EXECUTORS, default="local",
                     help="local process pool or Ray (pip install 'backtest[ray]')")
    run.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default results/sweep-SCENARIO)")
    p.add_argument("--json", action="store_true", help="print the comparison table as JSON (for scripts)")
    p.set_defaults(func=main)


def _model_options(args) -> dict:
    options = {"jumps_per_day": args.jumps_per_day, "jump_mean": args.jump_mean, "jump_std": args.jump_std,
               "block_steps": args.block}
    if args.bridge is not None:
        options.update(bridge_asset=args.bridge[0], bridge_drawdown=args.bridge[1], bridge_hours=args.bridge[2])
    elif args.paths is not None and args.model == "bridge":
        raise InputError("--model bridge needs --bridge ASSET:DRAWDOWN:HOURS")
    return options


def apply_spec(args) -> None:
    """Fill what the command line left unset from `--spec` (then the defaults); grids and sets add up."""
    spec = {}
    if args.spec is not None:
        from backtest.sweep.spec import load_spec
        spec = load_spec(args.spec)
    if args.counterfactual == "none" and args.counterfactual_every is None:
        args.counterfactual_every = 1             # `--counterfactual none` wins over a spec's every-K
    for name, default in (("scenario", DEFAULT_SCENARIO), ("paths", None), ("model", "gbm"), ("seed", 0),
                          ("counterfactual", "no-feedback"), ("counterfactual_every", 1)):
        if getattr(args, name) is None:
            setattr(args, name, spec.get(name, default))
    if args.bridge is None and "bridge" in spec:
        try:
            args.bridge = _bridge(spec["bridge"])
        except argparse.ArgumentTypeError as exc:
            raise InputError(f"{args.spec}: bridge {spec['bridge']!r}: {exc}") from None
    args.grid = list(spec.get("grid", [])) + list(args.grid)
    args.overrides = list(spec.get("set", [])) + list(args.overrides)


def main(args) -> int:
    from backtest.api import sweep
    from backtest.scenarios.library import load_scenario
    apply_spec(args)
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be >= 1 (got {args.workers})")   # before anything is written
    scenario = load_scenario(args.scenario)
    out = args.out or Path("results") / f"sweep-{scenario.name}"
    result = sweep(scenario, args.grid, args.lake or default_lake(),
                   args.overrides, paths=args.paths, model=args.model, seed=args.seed,
                   model_options=_model_options(args), calibrate=args.calibrate, out=out, executor=args.executor,
                   workers=args.workers, address=args.address, feedback=not args.no_feedback, progress=True,
                   counterfactual=args.counterfactual, counterfactual_every=args.counterfactual_every)
    if args.json:
        print(json.dumps({"results": str(out / "results.parquet"), "comparison_file": str(out / "comparison.parquet"),
                          "tasks": result.tasks, "ran": result.ran, "reused": result.reused,
                          "counterfactual": result.counterfactual, "not_computed": result.not_computed,
                          "comparison": result.table.to_pylist()}, indent=2, sort_keys=True, default=str))
        return 0
    what = f"{args.paths} {args.model} paths" if args.paths else "the scenario's path"
    print(f"{scenario.title}: {result.tasks} tasks ({result.ran} run, {result.reused} reused), {what}; "
          f"book read {result.lake_loads} time(s)")
    if result.ran:
        per = ", ".join(f"{part} {seconds / result.ran:.2f}" for part, seconds in result.cpu_seconds.items())
        print(f"  CPU seconds per task run: {per}")
    if result.not_computed:
        print(f"  counterfactual: {result.counterfactual}; null where not made: "
              f"{', '.join(c for c in result.not_computed if '.' not in c)} and their per-market columns")
    print(result.summary())
    print(f"  results  {out}/results.parquet, {out}/comparison.parquet, {out}/risk.parquet (VaR, LaR per market)")
    return 0
