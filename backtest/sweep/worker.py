"""Run one task: derive its inputs from the worker's cached book, swap in its Monte Carlo path,
replay with feedback and (on the paths the sweep's counterfactual choice names) without, and
flatten the metrics into one row."""

from __future__ import annotations

import dataclasses
import gc
import os
import time

from backtest.inputs.book import ReplayInputs
from backtest.engine.replay import replay
from backtest.metrics import compute
from backtest.sweep.inputs import InputsCache
from backtest.sweep.tasks import SweepContext, Task


def flatten(metrics: dict, prefix: str = "") -> dict:
    """Nested metrics (per-asset drawdowns, volume per asset) become `name.ASSET[.field]` columns,
    lists one string."""
    row = {}
    for k, v in metrics.items():
        k = f"{prefix}{k}"
        if isinstance(v, dict):
            row.update(flatten(dict(sorted(v.items())), f"{k}."))
        elif isinstance(v, (list, tuple)):
            row[k] = ",".join(str(x) for x in v)
        else:
            row[k] = v
    return row


class Worker:
    """Holds the context and the inputs cache for the life of a worker (process or Ray actor).
    Given the sweep's own cache (already holding every set's book), it never reads the lake."""

    def __init__(self, context: SweepContext, cache: InputsCache | None = None):
        self.context = context
        self.cache = cache if cache is not None else InputsCache()
        self.inherited_loads = self.cache.lake_loads

    def inputs(self, task: Task) -> ReplayInputs:
        inputs = self.cache.inputs(task.config, self.context.scenario)
        model = self.context.model
        if model is None:
            return inputs
        n = len(inputs.times)
        exo = model.exogenous(task.path, inputs.book.price_assets, inputs.book.prices, n)
        return dataclasses.replace(inputs, exogenous=exo, era_prices=exo)   # a generated path is its own era

    def run(self, task: Task) -> dict:
        """The row of this task, plus who computed it (pid, lake loads so far) for the stats."""
        clock = [time.process_time()]

        def lap() -> float:
            clock.append(time.process_time())
            return clock[-1] - clock[-2]

        inputs = self.inputs(task)
        config = task.config
        cpu = {"inputs": lap()}
        outcome = replay(inputs, config)
        cpu["replay"] = lap()
        if not config.feedback:
            counterfactual = outcome                          # the run is its own counterfactual
        elif self.context.counterfactual.runs(task.path):
            counterfactual = replay(inputs, config, feedback=False)
        else:
            counterfactual = None                             # its columns null: not computed on this path
        cpu["counterfactual"] = lap()
        metrics = flatten(compute(inputs, outcome, counterfactual))
        cpu["metrics"] = lap()
        return {"key": task.key, "set_id": task.set_id, "path": task.path, "metrics": metrics,
                "worker": os.getpid(), "lake_loads": self.cache.lake_loads - self.inherited_loads,
                "cpu_seconds": cpu}      # where the task's CPU time went (stats only: not in the tables)


# The local process pool: one Worker per process. Forked workers inherit the parent's (adopt() before
# the pool starts); spawned ones get it from the pool's initializer.
_WORKER: Worker | None = None


def adopt(worker: Worker | None) -> None:
    global _WORKER
    _WORKER = worker


def init_process(context: SweepContext, cache: InputsCache | None = None) -> None:
    adopt(Worker(context, cache))
    gc.freeze()                         # as a forked worker does (executors.run_local)


def run_in_process(task: Task) -> dict:
    return _WORKER.run(task)
