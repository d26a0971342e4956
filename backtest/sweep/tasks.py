"""The task list of a sweep: one task per (parameter set, path), each with a content key.

The key hashes everything that decides the task's result (the full run config, the scenario as
loaded, the path model and index), so a checkpoint file can only ever be reused by the same task.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from backtest.config import RunConfig
from backtest.overrides import apply_overrides
from backtest.errors import InputError
from backtest.scenarios.library import Scenario
from backtest.scenarios.montecarlo import PathModel
from backtest.sweep.grid import as_overrides

# Bump when a task's row changes shape (new metrics): older checkpoint files are then not reused.
ROW_FORMAT = 3


@dataclass(frozen=True)
class ParamSet:
    set_id: int                      # 0 is the baseline: the current parameters
    overrides: tuple[str, ...]       # the grid's `--set` strings on top of the baseline
    config: RunConfig


@dataclass(frozen=True)
class Task:
    key: str
    set_id: int
    path: int
    config: RunConfig


COUNTERFACTUALS = ("no-feedback", "none")


@dataclass(frozen=True)
class Counterfactual:
    """Which paths also replay without feedback (the second replay, ~40 % of a path's CPU).

    Only the `*_without_feedback*` columns, `amplification`, `cascade_depth`, `induced_*` and the
    VaR/LaR split need it. `no-feedback` every `every`-th path (path % every == 0: path 0 always);
    `none` on no path. Where it did not run those columns are null, never 0."""
    kind: str = "no-feedback"
    every: int = 1

    def __post_init__(self):
        if self.kind not in COUNTERFACTUALS:
            raise InputError(f"unknown counterfactual {self.kind!r} (known: {', '.join(COUNTERFACTUALS)})")
        if self.every < 1:
            raise InputError(f"--counterfactual-every must be >= 1 (got {self.every})")
        if self.kind == "none" and self.every != 1:
            raise InputError("--counterfactual-every needs --counterfactual no-feedback, not none")

    def runs(self, path: int) -> bool:
        return self.kind != "none" and path % self.every == 0

    def describe(self, n_paths: int) -> str:
        """In words, for sweep.toml, the results' metadata and the command's summary."""
        if self.kind == "none":
            return "none: no path replayed without feedback"
        ran = sum(1 for p in range(n_paths) if self.runs(p))
        if ran == n_paths:
            return "no-feedback on every path"
        return f"no-feedback on 1 path in {self.every} ({ran} of {n_paths}: path % {self.every} == 0)"


@dataclass(frozen=True)
class SweepContext:
    """What every worker needs once: the scenario, the path model (None: the scenario's path) and
    which paths get the no-feedback counterfactual."""
    scenario: Scenario
    model: PathModel | None = None
    n_paths: int = 1
    counterfactual: Counterfactual = Counterfactual()


def param_sets(baseline: RunConfig, keys: list[str], combos: list[tuple[str, ...]]) -> list[ParamSet]:
    sets = [ParamSet(0, (), baseline)]
    for i, values in enumerate(combos, start=1):
        ov = tuple(as_overrides(keys, values))
        sets.append(ParamSet(i, ov, apply_overrides(baseline, list(ov))))
    return sets


def _lake_identity(lake: str) -> list:
    """The lake's files with sizes and times: a changed lake gives new keys (the tasks rerun)."""
    out = []
    for root, _, files in sorted(os.walk(lake)):
        for f in sorted(files):
            if f.endswith(".parquet") and not f.startswith("."):
                st = os.stat(os.path.join(root, f))
                out.append([os.path.relpath(os.path.join(root, f), lake), st.st_size, st.st_mtime_ns])
    return out


def task_key(config: RunConfig, context: SweepContext, path: int, lake_identity: list) -> str:
    spec = {"format": ROW_FORMAT, "config": config.to_toml(), "scenario": json.dumps(context.scenario.raw, sort_keys=True, default=str),
            "paths": context.model.describe() if context.model else "scenario", "path": path, "lake": lake_identity}
    if not context.counterfactual.runs(path):
        spec["counterfactual"] = False   # only then: a path that runs it keeps the key (and the checkpoint) of a full sweep
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:20]


def build_tasks(sets: list[ParamSet], context: SweepContext) -> list[Task]:
    """Set-major order; a grid point equal to the baseline shares its key and runs once."""
    ident = _lake_identity(sets[0].config.lake)
    return [Task(task_key(s.config, context, p, ident), s.set_id, p, s.config)
            for s in sets for p in range(context.n_paths)]
