"""Parameter sweeps: many replays of one scenario, over a grid of parameters and over historical
or Monte Carlo paths, locally or on Ray (see docs/sweeps.md)."""

from backtest.sweep.run import PathsSpec, SweepResult, run_sweep

__all__ = ["PathsSpec", "SweepResult", "run_sweep"]
