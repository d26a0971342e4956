"""The one switch between the compiled (numba) hot paths and the Python reference they must equal.

`ON` is True where numba is installed, unless BACKTEST_PYTHON_PATH is set (to time or check the
reference from the command line). Off, every screen, bound and swap runs as the Python code it
was compiled from or replaced: same liquidations, same bytes (tests/perf/test_screen.py,
test_compiled_swap.py; `backtest bench --only sample` times one against the other). `python_path()`
turns it off for a block (tests, the bench)."""

from __future__ import annotations

import os
from contextlib import contextmanager

try:
    import numba  # noqa: F401
    ON = not os.environ.get("BACKTEST_PYTHON_PATH")
except ImportError:                     # pragma: no cover - exercised where numba is absent
    ON = False


@contextmanager
def python_path(python: bool = True):
    """with python_path(): ... runs the Python reference path (python=False: the compiled one, if any)."""
    global ON
    was = ON
    ON = was and not python
    try:
        yield
    finally:
        ON = was


def warm() -> None:
    """Set numba's compiler up now (its first compiled call registers every typing and lowering, and its
    BLAS check imports scipy.linalg: ~0.5 s) so a caller can do it while another process works: `backtest
    replay` while a forked child loads the book (backtest/run.py). Nothing where the compiled path is off."""
    if ON:
        _first(0)


if ON:
    @numba.njit(cache=True)
    def _first(x):
        return x
