"""Where tasks run: in this process, in a local process pool, or on Ray.

The sweep has already loaded every parameter set's book in the calling process (to check the sets
before any work starts); that cache is what the workers use. A local pool is forked after it is
built (Linux), so each worker starts at once, sharing the parent's arrays copy-on-write, and never
reads the lake; where fork is not the safe default (macOS, Windows) the pool is spawned and the
cache is pickled to each worker once; Ray actors get it from the object store. Tasks go out one
at a time to whichever worker is free, so the load balances itself and the progress bar moves
task by task. Results come back in completion order; the sweep sorts them, so the table never
depends on who ran what.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import socket
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable

from backtest.errors import InputError
from backtest.sweep.inputs import InputsCache
from backtest.sweep.tasks import SweepContext, Task
from backtest.sweep.worker import Worker, adopt, init_process, run_in_process

EXECUTORS = ("local", "ray")
OnResult = Callable[[dict], None]


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_serial(tasks: list[Task], context: SweepContext, on_result: OnResult, cache: InputsCache | None = None) -> None:
    worker = Worker(context, cache)
    for task in tasks:
        on_result(worker.run(task))


def start_method() -> str:
    """fork on Linux (workers inherit the loaded books); spawn elsewhere, where fork is unsafe or absent."""
    return "fork" if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods() \
        else "spawn"


def run_local(tasks: list[Task], context: SweepContext, workers: int, on_result: OnResult,
              cache: InputsCache | None = None) -> None:
    """A process pool of `workers`, each with one Worker holding the sweep's cache."""
    if workers <= 1 or len(tasks) <= 1:
        return run_serial(tasks, context, on_result, cache)
    method = start_method()
    if method == "fork":
        adopt(Worker(context, cache))   # before the pool forks: every worker inherits it
        init, initargs = gc.freeze, ()  # the inherited heap (books, kernels) is the worker's for life: no
                                        # collection need walk it (~0.04 -> ~0.02 CPU-s of GC a Monte Carlo path)
    else:
        init, initargs = init_process, (context, cache)
    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=multiprocessing.get_context(method),
                               initializer=init, initargs=initargs)
    try:
        futures = [pool.submit(run_in_process, t) for t in tasks]
        for fut in as_completed(futures):
            on_result(fut.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        adopt(None)


def reachable(address: str, timeout: float = 5.0) -> None:
    """A HOST:PORT that answers no TCP connect is one line now (Ray's own client retries for minutes);
    other forms (`auto`, `ray://...`) are left to Ray."""
    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise InputError(f"--address {address}: no Ray head answers there ({exc.strerror or exc})") from None


def run_ray(tasks: list[Task], context: SweepContext, workers: int | None, address: str | None,
            on_result: OnResult, cache: InputsCache | None = None) -> None:
    """One Ray actor per worker, each given the sweep's cache through the object store (so no
    node reads the lake). Joins a running Ray (in this process or at --address), else starts a
    local one and stops it at the end."""
    try:
        import ray
        from ray.exceptions import RayTaskError
        from ray.util import ActorPool
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'backtest[ray]'") from None
    started = False
    if not ray.is_initialized():
        if address:
            reachable(address)
        kwargs = {"address": address} if address else {"num_cpus": workers or default_workers()}
        ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        started = True
    actors = []
    try:
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        n = max(1, min(n, len(tasks)))
        remote_worker = ray.remote(num_cpus=1)(Worker)
        context_ref = ray.put(context)
        cache_ref = ray.put(cache) if cache is not None else None     # the books, from the object store
        actors = [remote_worker.remote(context_ref, cache_ref) for _ in range(n)]
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
            workers: int | None = None, address: str | None = None, cache: InputsCache | None = None) -> None:
    """Run `tasks`; `cache` (the sweep's, holding the books) is shared with the workers."""
    if executor not in EXECUTORS:
        raise InputError(f"unknown executor {executor!r} (known: {', '.join(EXECUTORS)})")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be >= 1 (got {workers})")
    if not tasks:
        return
    if executor == "ray":
        return run_ray(tasks, context, workers, address, on_result, cache)
    return run_local(tasks, context, workers or default_workers(), on_result, cache)
