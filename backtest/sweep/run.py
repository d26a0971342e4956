"""A sweep end to end: grid -> parameter sets -> tasks -> executor -> checkpoint -> tables.

The output folder holds `sweep.toml` (what was asked), `tasks/` (one file per finished task, for
resuming), `results.parquet` (one row per parameter set and path, every metric) and
`comparison.parquet` (one row per set, against the baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import tomli_w

from backtest.config import MARKET_PARAMS, RunConfig
from backtest.overrides import mechanism_value, table_value
from backtest.inputs.book import ReplayInputs
from backtest.run import make_config
from backtest.errors import InputError
from backtest.lake.io import atomic_path, write_parquet
from backtest.metrics import COUNTERFACTUAL_KEYS
from backtest.scenarios.library import Scenario
from backtest.scenarios.montecarlo import MODELS, PathModel, calibrate_from_lake, default_window
from backtest.sweep import checkpoint
from backtest.sweep.compare import compare
from backtest.sweep.risk import var_lar
from backtest.sweep.executors import execute, reachable
from backtest.sweep.grid import parse_grid
from backtest.sweep.inputs import InputsCache
from backtest.sweep.progress import Progress
from backtest.sweep.tasks import Counterfactual, SweepContext, build_tasks, param_sets


@dataclass(frozen=True)
class PathsSpec:
    """Monte Carlo paths instead of the scenario's own path (the window and step stay the scenario's)."""
    model: str
    paths: int
    seed: int = 0
    calibrate: tuple[datetime, datetime] | None = None   # default: see montecarlo.default_window
    options: dict = field(default_factory=dict)           # jumps_per_day, block_steps, bridge_asset, ...

    def __post_init__(self):
        if self.model not in MODELS:
            raise InputError(f"unknown --model {self.model!r} (known: {', '.join(MODELS)})")
        if self.paths < 1:
            raise InputError(f"--paths must be >= 1 (got {self.paths})")


@dataclass
class SweepResult:
    out: Path
    results: pa.Table
    comparison: pa.Table
    grid_keys: list[str]
    tasks: int
    ran: int
    reused: int
    lake_loads: int          # how often a book was read from the lake: by the sweep itself, plus by workers
    cpu_seconds: dict = field(default_factory=dict)   # per part of a task (inputs, replay, counterfactual,
                                                      # metrics): CPU seconds summed over the tasks run now
    not_computed: list = field(default_factory=list)  # columns null on the paths without the counterfactual
    counterfactual: str | None = None                   # which paths had it, in words (None: --no-feedback)


def effective_value(config: RunConfig, key: str, inputs: ReplayInputs):
    """The value a parameter actually had in a run (the baseline's column shows the markets value)."""
    head, _, rest = key.partition(".")
    if head in MARKET_PARAMS:
        book = inputs.book
        # the asset's own columns: an asset's --set leaves its e-mode columns (their category's values) alone
        plain = np.ones(len(book.assets), bool) if book.reserve_emode is None else book.reserve_emode == 0
        if rest:
            plain &= np.array(book.assets) == rest
        arr = getattr(book, head)[plain]
        return float(arr[0]) if len(arr) and np.all(arr == arr[0]) else None
    if head in ("comet", "maker", "flip") and rest:
        got = mechanism_value(config, key)
    else:
        got = config
        for part in key.split("."):
            got = getattr(got, part, None)
        if got is None:
            got = table_value(config, key)
    return ",".join(str(v) for v in got) if isinstance(got, (tuple, list)) else got


def _column(values: list, name: str = "") -> pa.Array:
    """float64 for numbers, int64 for counts, string for times (`*_at`); None stays null."""
    present = [v for v in values if v is not None]
    if name.endswith("_at") or any(isinstance(v, str) for v in present):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    if present and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in present):
        return pa.array(values, pa.int64())
    if present and all(isinstance(v, bool) for v in present):
        return pa.array(values, pa.bool_())
    return pa.array([None if v is None else float(v) for v in values], pa.float64())


def results_table(tasks, done: dict, grid_keys: list[str], grid_values: dict[int, dict]) -> pa.Table:
    tasks = sorted(tasks, key=lambda t: (t.set_id, t.path))
    metric_names = list(dict.fromkeys(m for t in tasks for m in done[t.key]["metrics"]))   # first seen, first
    cols = {"set_id": pa.array([t.set_id for t in tasks], pa.int32()),
            "path": pa.array([t.path for t in tasks], pa.int32())}
    for k in grid_keys:
        cols[k] = _column([grid_values[t.set_id][k] for t in tasks])
    for m in metric_names:
        cols[m] = _column([done[t.key]["metrics"].get(m) for t in tasks], m)
    return pa.table(cols)


def not_computed_columns(results: pa.Table, context: SweepContext) -> list[str]:
    """The columns the no-feedback run gives, when some path of this sweep did not make it."""
    if all(context.counterfactual.runs(p) for p in range(context.n_paths)):
        return []
    return [c for c in results.column_names if c in COUNTERFACTUAL_KEYS or c.split(".")[0] in COUNTERFACTUAL_KEYS]


def _spec_toml(scenario: Scenario, baseline: RunConfig, overrides, grids, paths: PathsSpec | None,
               model: PathModel | None, n_tasks: int, context: SweepContext) -> str:
    spec = {"scenario": scenario.name, "lake": baseline.lake, "feedback": baseline.feedback,
            "set": list(overrides), "grid": list(grids), "tasks": n_tasks}
    if baseline.feedback and not all(context.counterfactual.runs(p) for p in range(context.n_paths)):
        spec["counterfactual"] = context.counterfactual.describe(context.n_paths)
        spec["counterfactual_kind"] = context.counterfactual.kind      # for the report's rerun command
        spec["counterfactual_every"] = context.counterfactual.every
    if paths is not None:
        spec["paths"] = {"n": paths.paths, **model.describe(), **{k: v for k, v in paths.options.items()
                                                                if v is not None}}
    return tomli_w.dumps(spec)


def _model(paths: PathsSpec, scenario: Scenario, baseline: RunConfig, base: ReplayInputs) -> PathModel:
    if paths.calibrate is not None:
        start, end = paths.calibrate
    else:
        book_time = base.book.timestamp
        book_time = book_time if book_time.tzinfo else book_time.replace(tzinfo=timezone.utc)
        start, end = default_window(scenario, book_time)
    cal = calibrate_from_lake(Path(baseline.lake), scenario, base.book.price_assets, start, end)
    return PathModel(model=paths.model, seed=paths.seed, calibration=cal,
                     **{k: v for k, v in paths.options.items() if v is not None})


def run_sweep(scenario: Scenario, lake: Path, out: Path, grids=(), overrides=(), paths: PathsSpec | None = None,
              executor: str = "local", workers: int | None = None, address: str | None = None,
              feedback: bool = True, progress_stream=None, on_result=None,
              counterfactual: Counterfactual | None = None) -> SweepResult:
    """Run (or resume) a sweep into `out`; `on_result` sees each finished task (tests interrupt here).
    `counterfactual`: which paths also replay without feedback (default: every path)."""
    out = Path(out)
    if executor == "ray" and address:
        reachable(address)                     # before anything is loaded or written
    baseline = make_config(scenario, lake, overrides, feedback=feedback)
    keys, combos = parse_grid(list(grids))
    sets = param_sets(baseline, keys, combos)
    cache = InputsCache()                      # every set's book, checked before any work starts; the workers share it
    grid_values = {}
    for s in sets:
        inputs = cache.inputs(s.config, scenario)
        grid_values[s.set_id] = {k: effective_value(s.config, k, inputs) for k in keys}
    model = _model(paths, scenario, baseline, cache.base(baseline, scenario)) if paths else None
    context = SweepContext(scenario=scenario, model=model, n_paths=paths.paths if paths else 1,
                           counterfactual=counterfactual or Counterfactual())
    tasks = build_tasks(sets, context)
    unique = list({t.key: t for t in tasks}.values())
    with atomic_path(out / "sweep.toml") as tmp:
        tmp.write_text(_spec_toml(scenario, baseline, overrides, grids, paths, model, len(tasks), context))
    done = checkpoint.load_done(out, {t.key for t in unique})
    todo = [t for t in unique if t.key not in done]
    bar = Progress(len(unique), already=len(unique) - len(todo), stream=progress_stream)
    loads: dict[int, int] = {}
    cpu: dict[str, float] = {}

    def finished(result: dict) -> None:
        checkpoint.save(out, result)
        done[result["key"]] = result
        loads[result["worker"]] = max(loads.get(result["worker"], 0), result["lake_loads"])
        for part, seconds in result.get("cpu_seconds", {}).items():
            cpu[part] = cpu.get(part, 0.0) + seconds
        bar.update()
        if on_result is not None:
            on_result(result)

    own_loads = cache.lake_loads
    try:
        execute(todo, context, finished, executor=executor, workers=workers, address=address, cache=cache)
    finally:
        bar.close()
    results = results_table(tasks, done, keys, grid_values)
    not_computed = not_computed_columns(results, context) if baseline.feedback else []
    # the table says what it lacks: as nulls in those columns, and in its metadata
    note = {"backtest.counterfactual": context.counterfactual.describe(context.n_paths),
            "backtest.not_computed": ",".join(not_computed)} if not_computed else None
    comparison = compare(results, keys)
    write_parquet(results, out / "results.parquet", metadata=note)
    write_parquet(comparison, out / "comparison.parquet")
    write_parquet(var_lar(results), out / "risk.parquet")
    return SweepResult(out=out, results=results, comparison=comparison, grid_keys=keys, tasks=len(unique),
                       ran=len(todo), reused=len(unique) - len(todo), lake_loads=own_loads + sum(loads.values()),
                       cpu_seconds=cpu, not_computed=not_computed,
                       counterfactual=context.counterfactual.describe(context.n_paths) if baseline.feedback else None)


def parse_window(text: str) -> tuple[datetime, datetime]:
    """`2022-11-01..2022-11-30` (dates or ISO times, UTC)."""
    try:
        a, b = text.split("..")
        start, end = (datetime.fromisoformat(x.strip().replace("Z", "+00:00")) for x in (a, b))
    except ValueError:
        raise InputError(f"--calibrate {text!r}: expected START..END, e.g. 2022-11-01..2022-11-30") from None
    start, end = (t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in (start, end))
    if end <= start:
        raise InputError(f"--calibrate {text!r}: END must be after START")
    return start, end
