"""Parameter sweeps: many replays of one scenario, over a grid of parameters and over historical
or Monte Carlo paths, locally or on Ray (see docs/sweeps.md)."""

import sys
import types

from backtest.sweep.run import PathsSpec, SweepResult, run_sweep


class _Package(types.ModuleType):
    """Importing this package sets `backtest.sweep` to it, over the API's `bt.sweep` function
    (backtest/__init__.py): so the package itself calls that function."""

    def __call__(self, *args, **kwargs):
        from backtest.api import sweep
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _Package

__all__ = ["PathsSpec", "SweepResult", "run_sweep"]
