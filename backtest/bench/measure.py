"""Wall time and peak resident memory of one piece of work, and running a case in a fresh process.

Peak RSS is the kernel's high-water mark (VmHWM). Writing "5" to /proc/self/clear_refs resets
it to the current RSS (Linux >= 4.0), so each measured phase gets its own peak, including the
inputs already in memory. Without /proc the process-wide ru_maxrss is reported instead.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_STATUS, _CLEAR = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def reset_peak() -> bool:
    try:
        _CLEAR.write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Phase:
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    cpu_seconds: float = 0.0     # all threads of this process, and its children that ended in the
                                 # block (a pool's workers): tells a busy machine from slow code


@contextmanager
def measured():
    """with measured() as m: ...  -> m.seconds, m.cpu_seconds, m.peak_rss_mb of the block."""
    m = Phase()
    reset_peak()
    start, cpu, kids = time.perf_counter(), time.process_time(), _children_cpu()
    try:
        yield m
    finally:
        m.seconds = time.perf_counter() - start
        m.cpu_seconds = time.process_time() - cpu + _children_cpu() - kids
        m.peak_rss_mb = peak_rss_mb()


def _children_cpu() -> float:
    """User + system CPU of this process's children that have ended and been waited for."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def _child(conn, func, args) -> None:
    try:
        conn.send((True, func(*args)))
    except BaseException as exc:                      # report it in the parent, whatever it was
        conn.send((False, f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def isolated(func, *args):
    """func(*args) in a fresh spawned process: its memory peak is its own, and it may start its
    own worker processes (a Pool worker, being a daemon, could not)."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, func, args))
    proc.start()
    child.close()
    try:
        ok, value = parent.recv()
    except EOFError:
        ok, value = False, f"the benchmark process died (exit code {proc.join() or proc.exitcode})"
    proc.join()
    if not ok:
        raise RuntimeError(value)
    return value
