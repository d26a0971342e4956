"""Where tasks run: in this process, in a local process pool, or on Ray.

Each worker builds one `Worker` (its lake read and cache) and then takes tasks one at a time, so
the lake is read once per worker while the progress bar still moves task by task. Results come
back in completion order; the sweep sorts them, so the table never depends on who ran what.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable

from backtest.errors import InputError
from backtest.sweep.tasks import SweepContext, Task
from backtest.sweep.worker import Worker, init_process, run_in_process

EXECUTORS = ("local", "ray")
OnResult = Callable[[dict], None]


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_serial(tasks: list[Task], context: SweepContext, on_result: OnResult) -> None:
    worker = Worker(context)
    for task in tasks:
        on_result(worker.run(task))


def run_local(tasks: list[Task], context: SweepContext, workers: int, on_result: OnResult) -> None:
    """A spawn-started pool (no forked DuckDB or thread state); one Worker per process."""
    if workers <= 1 or len(tasks) <= 1:
        return run_serial(tasks, context, on_result)
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx,
                               initializer=init_process, initargs=(context,))
    try:
        futures = [pool.submit(run_in_process, t) for t in tasks]
        for fut in as_completed(futures):
            on_result(fut.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_ray(tasks: list[Task], context: SweepContext, workers: int | None, address: str | None,
            on_result: OnResult) -> None:
    """One Ray actor per worker. Joins a running Ray (in this process or at --address), else
    starts a local one and stops it at the end."""
    try:
        import ray
        from ray.exceptions import RayTaskError
        from ray.util import ActorPool
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'backtest[ray]'") from None
    started = False
    if not ray.is_initialized():
        kwargs = {"address": address} if address else {"num_cpus": workers or default_workers()}
        ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        started = True
    actors = []
    try:
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        n = max(1, min(n, len(tasks)))
        remote_worker = ray.remote(num_cpus=1)(Worker)
        context_ref = ray.put(context)
        actors = [remote_worker.remote(context_ref) for _ in range(n)]
        pool = ActorPool(actors)
        for t in tasks:
            pool.submit(lambda actor, task: actor.run.remote(task), t)
        while pool.has_next():
            try:
                result = pool.get_next_unordered()
            except RayTaskError as exc:      # bad input inside a task: one line, as locally
                if isinstance(getattr(exc, "cause", None), InputError):
                    raise exc.cause from None
                raise
            on_result(result)
    finally:
        for a in actors:
            ray.kill(a)
        if started:
            ray.shutdown()


def execute(tasks: list[Task], context: SweepContext, on_result: OnResult, executor: str = "local",
            workers: int | None = None, address: str | None = None) -> None:
    if executor not in EXECUTORS:
        raise InputError(f"unknown executor {executor!r} (known: {', '.join(EXECUTORS)})")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be >= 1 (got {workers})")
    if not tasks:
        return
    if executor == "ray":
        return run_ray(tasks, context, workers, address, on_result)
    return run_local(tasks, context, workers or default_workers(), on_result)
