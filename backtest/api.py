"""The public Python API: what the CLI does, as functions that return data frames.

    import backtest as bt
    run = bt.replay()                                   # the sample lake, the stylised ETH crash
    run.metrics["bad_debt_usd"], run.liquidations.head()
    bt.replay(set={"liquidation_threshold.CRV": 0.35}).save("results/crv35")
    bt.sweep(grid={"liquidation_bonus": [0.05, 0.1]}).comparison

`backtest replay`, `sweep`, `health` and `query` call these same functions, so a script gets the
CLI's numbers (tests/core/test_api.py compares metrics.json). `import backtest` stays light: this
module is loaded on first use of `bt.replay` and friends, and the engine inside each call.
"""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from backtest.commands.common import DEFAULT_SCENARIO, default_lake

__all__ = ["Run", "SweepRun", "replay", "sweep", "health", "query"]


def _overrides(values) -> list[str]:
    """`set` as a dict {"oracle.deviation": 0.01} or as the CLI's ["oracle.deviation=0.01"]."""
    if values is None:
        return []
    if isinstance(values, dict):
        return [f"{k}={v}" for k, v in values.items()]
    if isinstance(values, str):
        return [values]
    return list(values)


def _grids(values) -> list[str]:
    """`grid` as {"liquidation_bonus": [0.05, 0.1]} or as the CLI's ["liquidation_bonus=0.05,0.1"]."""
    if isinstance(values, dict):
        return [f"{k}={','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}" for k, v in values.items()]
    return [values] if isinstance(values, str) else list(values or [])


def _scenario(scenario):
    """A Scenario as it is, else a name or .toml path loaded (default the stylised ETH crash)."""
    from backtest.scenarios.library import Scenario, load_scenario
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario or DEFAULT_SCENARIO)


@dataclass
class Run:
    """One replay: its config, its metrics (as metrics.json holds them) and its tables as DataFrames."""
    config: object                   # backtest.config.RunConfig
    scenario: object                 # backtest.scenarios.library.Scenario
    result: object = field(repr=False)   # backtest.run.Run: inputs, outcome, counterfactual
    metrics: dict = field(default_factory=dict)
    saved: Path | None = None        # the results folder, once saved

    @property
    def liquidations(self):
        return self.result.outcome.liquidations.to_pandas()

    @property
    def steps(self):
        return self.result.outcome.steps.to_pandas()

    @property
    def accounts(self):
        from backtest.results import accounts_table
        return accounts_table(self.result.inputs, self.result.outcome).to_pandas()

    def save(self, out=None) -> Path:
        """Write the results folder `backtest replay --out` writes (default results/SCENARIO-RUNID)."""
        from backtest.results import write_results
        out = Path(out) if out is not None else Path("results") / f"{self.scenario.name}-{self.config.run_id()}"
        self.saved = write_results(out, self.config, self.result.outcome, self.result.metrics, self.result.inputs)
        return self.saved

    def report(self, path=None, compare=()) -> Path:
        """The HTML report (and its Markdown summary beside it); saves the run first if needed."""
        from backtest.report import write_report
        folder = self.saved or self.save(Path(tempfile.mkdtemp(prefix="backtest-run-")) / "run")
        html, _ = write_report(folder, compare=[Path(c) for c in compare], out=path, lake=Path(self.config.lake))
        return html

    def summary(self) -> str:
        """The block `backtest replay` prints."""
        from backtest.results import summary
        return summary(self.config, self.metrics, self.scenario.title)


def replay(scenario=None, lake=None, set=None, feedback: bool = True, progress: bool = False) -> Run:  # noqa: A002
    """Replay a scenario (name or .toml path; default the stylised ETH crash) over a lake's book
    (default $BACKTEST_LAKE or data/lake), with `set` overrides as `--set` takes them."""
    from backtest.run import make_config, run
    crash = _scenario(scenario)
    config = make_config(crash, Path(lake) if lake is not None else default_lake(), _overrides(set),
                         feedback=feedback)
    result = run(config, crash, show_progress=progress)
    from backtest.results import _clean          # here: run() forks the book's loading before the heavy imports
    metrics = json.loads(json.dumps(_clean(result.metrics), sort_keys=True))      # as metrics.json holds them
    return Run(config, crash, result, metrics)


@dataclass
class SweepRun:
    """A sweep's folder and its two tables: one row per (set, path) and each set against the baseline."""
    out: Path
    results: object                  # DataFrame
    comparison: object               # DataFrame
    grid_keys: list
    tasks: int
    ran: int
    reused: int
    lake_loads: int
    table: object = field(repr=False, default=None)   # the comparison as pyarrow, for render()
    cpu_seconds: dict = field(default_factory=dict)    # CPU seconds per part of a task, summed over tasks run
    not_computed: list = field(default_factory=list)   # columns null on paths without the no-feedback run
    counterfactual: str | None = None                   # which paths had it, in words

    def summary(self) -> str:
        from backtest.sweep.compare import render
        return render(self.table, self.grid_keys)

    def report(self, path=None) -> Path:
        from backtest.report import write_report
        html, _ = write_report(self.out, out=path)
        return html


def sweep(scenario=None, grid=None, lake=None, set=None, paths: int | None = None, model: str = "gbm",  # noqa: A002
          seed: int = 0, model_options: dict | None = None, calibrate=None, out=None, executor: str = "local",
          workers: int | None = None, address: str | None = None, feedback: bool = True,
          progress: bool = False, counterfactual: str = "no-feedback", counterfactual_every: int = 1) -> SweepRun:
    """`backtest sweep`: each parameter set of `grid` (and each of `paths` Monte Carlo paths) replayed
    and compared with the baseline; resumable in `out` (default results/sweep-SCENARIO)."""
    from backtest.errors import InputError
    from backtest.sweep.run import PathsSpec, run_sweep
    from backtest.sweep.tasks import Counterfactual
    if workers is not None and workers < 1:
        raise InputError(f"workers must be >= 1 (got {workers})")
    which = Counterfactual(counterfactual, counterfactual_every)     # checked before anything is written
    crash = _scenario(scenario)
    folder = Path(out) if out is not None else Path("results") / f"sweep-{crash.name}"
    spec = None if paths is None else PathsSpec(model=model, paths=paths, seed=seed, calibrate=calibrate,
                                                options=dict(model_options or {}))
    result = run_sweep(crash, Path(lake) if lake is not None else default_lake(), folder, grids=_grids(grid),
                       overrides=_overrides(set), paths=spec, executor=executor, workers=workers, address=address,
                       feedback=feedback, progress_stream=None if progress else io.StringIO(), counterfactual=which)
    return SweepRun(folder, result.results.to_pandas(), result.comparison.to_pandas(), result.grid_keys,
                    result.tasks, result.ran, result.reused, result.lake_loads, result.comparison,
                    result.cpu_seconds, result.not_computed, result.counterfactual)


def query(name: str, lake=None, results=None, **params):
    """queries/NAME.sql with its $parameters as keywords -> a DataFrame (`backtest query`)."""
    from backtest.queries import run
    table = run(name, Path(lake) if lake is not None else default_lake(),
                Path(results) if results is not None else None, params)
    return table.to_pandas()


def health(lake=None):
    """Collateral, debt and health factor of every (account, snapshot) -> a DataFrame (`backtest health`)."""
    return query("health", lake=lake)
