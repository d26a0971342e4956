"""One folder per protocol: its exact maths, the float terms the engine runs, its mechanism (docs/architecture.md)."""

import backtest.blas  # noqa: F401,E402  - BLAS on one thread: the same bits on any core count
