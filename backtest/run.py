"""One replay end to end: config -> inputs -> the feedback run and two counterfactuals (no feedback;
execution only: fills at impact, no price moves; backtest/engine/counterfactual.py) -> metrics.

Above both the engine and metrics (docs/architecture.md): the engine does not import what measures it."""

from __future__ import annotations

import gc
import os
import pickle
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from backtest.config import RunConfig
from backtest.errors import InputError
from backtest.overrides import apply_overrides
from backtest.scenarios.library import Scenario, load_scenario

if TYPE_CHECKING:
    from backtest.engine.record import Outcome
    from backtest.inputs.book import ReplayInputs
    from backtest.metrics import RunParts

# The engine, the inputs and the metrics are imported inside `run`, after the inputs' child is forked (it
# imports what it needs itself): the parent's ~0.3 s of imports then overlap the loading of the inputs.

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SCENARIO = "stylised-eth-crash"


def default_lake() -> Path:
    return Path(os.environ.get("BACKTEST_LAKE", REPO / "data" / "lake"))


@dataclass
class Run:
    config: RunConfig
    scenario: Scenario
    inputs: ReplayInputs
    outcome: Outcome
    counterfactual: Outcome     # no feedback
    metrics: dict
    execution: Outcome | None = None    # execution only (None with --no-feedback: nothing to split)


def make_config(scenario: Scenario, lake: Path, overrides=(), feedback: bool = True) -> RunConfig:
    """Scenario parameters first, then the command line's --set, so the user has the last word."""
    config = RunConfig(scenario=scenario.name, lake=str(lake), scenario_spec=scenario.raw)
    for key, value in scenario.parameters.items():
        try:
            config = apply_overrides(config, {key: value})
        except InputError as e:     # the file's [parameters] table, not the command line, set it: say so
            raise InputError(e.message.removeprefix("--set "), file=scenario.path or scenario.name,
                             column=f"parameters.{key}") from None
    config = apply_overrides(config, list(overrides))
    return config if feedback else replace(config, feedback=False, feedback_mode=None)


def run(config: RunConfig, scenario: Scenario | None = None, show_progress: bool = False) -> Run:
    scenario = scenario or load_scenario(config.scenario)
    with _heap_kept() as settled:
        loaded = _inputs_beside(config, scenario)
        import backtest.engine.replay  # noqa: F401  (the replays' imports, while the child loads)
        import backtest.metrics  # noqa: F401
        from backtest.inputs.book import load_inputs
        inputs = (loaded and loaded()) or load_inputs(config, scenario)
        settled()
        return _replays(config, scenario, inputs, show_progress)


def _replays(config: RunConfig, scenario: Scenario, inputs: ReplayInputs, show_progress: bool) -> Run:
    from backtest.engine.replay import replay
    from backtest.metrics import RunParts, compute
    if not config.feedback:
        outcome = replay(inputs, config, label="replay" if show_progress else None)
        return Run(config, scenario, inputs, outcome, outcome, compute(inputs, outcome, outcome))
    # The two counterfactuals need nothing from the feedback run: each in a forked child beside it, so the
    # three replays take ~ their sum / 2 on two cores (one child running both made the parent wait for the
    # longer half: no feedback + execution only > feedback).
    sides = [_forked(_shipped, job, inputs, config) for job in COUNTERFACTUALS]
    with _own_core(sides):
        outcome = replay(inputs, config, label="replay" if show_progress else None)
    known = [RunParts(inputs, outcome).ready(RunParts.FEEDBACK)]      # while the children finish
    for side, job in zip(sides, COUNTERFACTUALS):
        sent = side and side()
        known.append(sent[1].attach(inputs, _landed(sent[0], inputs)) if sent else
                     RunParts(inputs, job(inputs, config, show_progress)))
    counterfactual, execution = (k.outcome for k in known[1:])
    return Run(config, scenario, inputs, outcome, counterfactual,
               compute(inputs, outcome, counterfactual, execution, known), execution)


@contextmanager
def _heap_kept():
    """The collector paused while this process imports, sets numba up and takes the inputs (~0.15 CPU-s of
    collections, on the way to the first replay, over objects that all live on; the inputs' child inherits
    the pause); then, at `settled()`, what they made is frozen and the collector back: neither this process's
    collections nor the forked replays' walk it again (a child's walk would also copy the pages it touches).
    Unfrozen when the run ends (unless the caller had frozen objects itself), so nothing stays uncollected."""
    enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    gc.disable()

    def settled():
        gc.freeze()
        if enabled:
            gc.enable()
    try:
        yield settled
    finally:
        if not frozen:
            gc.unfreeze()
        if enabled:
            gc.enable()


def _inputs_beside(config: RunConfig, scenario: Scenario):
    """Start loading the inputs (book, venues, paths) in a forked child; returns a function that waits for
    them, after setting up, in this process, what the replays need and the child does not (numba's compiler
    and the engine's kernels, its imports): the child imports pandas and DuckDB, this process neither. The
    function returns None where no child or it failed: load_inputs then runs here, and raises any error
    there. Only in a process that has not loaded DuckDB (the command line's): DuckDB is not fork-safe once
    its threads run, and the child queries it (a child forked under pytest hung joining them)."""
    import sys
    side = None if "duckdb" in sys.modules else _forked(_load_inputs, config, scenario)
    if side is None:
        return None

    def result():
        import pandas  # noqa: F401  (pyarrow imports it at its first pa.array of a list: the replays' records)
        from backtest.compiled import warm
        warm()
        return side()
    return result


def _load_inputs(config: RunConfig, scenario: Scenario):
    """load_inputs with the venues' few swaps on the Python path, the same bits as the compiled one
    (tests/perf/test_compiled_swap.py): setting numba's compiler up here would cost more (~0.3 s)."""
    from backtest.compiled import python_path
    from backtest.inputs.book import load_inputs
    with python_path():
        return load_inputs(config, scenario)


def _without_feedback(inputs: ReplayInputs, config: RunConfig, show_progress: bool) -> Outcome:
    from backtest.engine.replay import replay
    return replay(inputs, config, feedback=False, label="without price impact" if show_progress else None)


def _execution_only(inputs: ReplayInputs, config: RunConfig, show_progress: bool) -> Outcome:
    """Fills at impact, no price moves (backtest/engine/counterfactual.py)."""
    from backtest.engine.counterfactual import execution_only
    from backtest.engine.replay import replay
    return replay(execution_only(inputs), config, label="execution only" if show_progress else None)


COUNTERFACTUALS = (_without_feedback, _execution_only)


class _Rows(NamedTuple):
    """An end state [N, R] as the rows that differ from the book's, bit for bit (most accounts are never
    touched): what a child sends of its collateral and debt, a few MB instead of ~35 through the pipe."""
    rows: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, end: np.ndarray, start: np.ndarray):
        same = end.shape == start.shape and end.dtype == start.dtype
        if not (same and end.flags.c_contiguous and start.flags.c_contiguous):
            return end
        bits = (end.view(np.uint8).reshape(len(end), -1) != start.view(np.uint8).reshape(len(start), -1)).any(axis=1)
        changed = np.flatnonzero(bits)
        return cls(changed, end[changed])

    def onto(self, start: np.ndarray) -> np.ndarray:
        out = start.copy()
        out[self.rows] = self.values
        return out


def _shipped(job, inputs: ReplayInputs, config: RunConfig) -> tuple[Outcome, RunParts]:
    """A counterfactual's outcome as a forked child sends it (`_landed` takes it back), with the parts of the
    metrics it gives worked out there."""
    from backtest.metrics import RunParts
    o = job(inputs, config, False)
    parts = RunParts(inputs, o).ready(RunParts.EXECUTION if job is _execution_only else RunParts.ALL)
    return replace(o, collateral=_Rows.of(o.collateral, inputs.book.collateral),
                   debt=_Rows.of(o.debt, inputs.book.debt)), parts


def _landed(o: Outcome, inputs: ReplayInputs) -> Outcome:
    book = inputs.book
    return replace(o, collateral=_onto(o.collateral, book.collateral), debt=_onto(o.debt, book.debt))


def _onto(sent, start: np.ndarray) -> np.ndarray:
    return sent.onto(start) if isinstance(sent, _Rows) else sent


@contextmanager
def _own_core(sides):
    """Where the children outnumber the other cores (two cores: the usual laptop, CI), they share the last
    core while the feedback run, the longest replay, keeps the rest; then they spread. Shared fairly, three
    processes slowed the feedback run to 2/3 and it ended alone, later than one child running both."""
    pids = [side.pid for side in sides if side is not None]
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) - 1 >= len(pids) or len(pids) < 2:
        yield
        return
    _pin(pids, cores[-1:])
    try:
        yield
    finally:
        _pin(pids, cores)


def _pin(pids, cores) -> None:
    for pid in pids:
        try:
            os.sched_setaffinity(pid, cores)
        except OSError:                      # it ended already
            pass


def _forked(func, *args):
    """func(*args) started now in a forked child (it shares the loaded inputs, copy-on-write); returns a
    function that waits for the result, which is None if the child failed (the caller then runs func
    itself, so an error is raised where it always was). None at once where no second core or no fork
    is at hand: not Linux, one CPU, a daemonic process (a pool worker), or BACKTEST_SERIAL set.
    Same inputs, same code: the outcomes are the bytes the serial run gives (tests/perf/test_parallel_run.py)."""
    import multiprocessing as mp
    if (os.environ.get("BACKTEST_SERIAL") or "fork" not in mp.get_all_start_methods() or mp.current_process().daemon
            or len(os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else ()) < 2):
        return None
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, func, args), daemon=True)
    child.start()
    send.close()

    def result():
        try:
            value = _received(receive)
        except EOFError:                     # the child died
            value = None
        child.join()
        return value
    result.pid = child.pid
    return result


def _child(send, func, args) -> None:
    try:
        value = func(*args)
    except BaseException:                    # the parent runs it again and raises it there
        value = None
    try:
        _sent(send, value)
    except BaseException:                    # cannot be pickled: the parent runs it again
        send.send((pickle.dumps(None), []))
    finally:
        send.close()


def _sent(send, value) -> None:
    """value through the pipe with its arrays' memory out of band (pickle protocol 5): written from the arrays
    themselves, read by `_received` straight into fresh arrays of its own (no views of a pipe buffer, no
    copy after)."""
    buffers = []
    data = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    views = [b.raw() for b in buffers]
    send.send((data, [v.nbytes for v in views]))
    for v in views:
        send.send_bytes(v)


def _received(receive):
    data, sizes = receive.recv()
    buffers = [np.empty(n, dtype=np.uint8) for n in sizes]
    for b in buffers:
        receive.recv_bytes_into(b)
    return pickle.loads(data, buffers=buffers)
