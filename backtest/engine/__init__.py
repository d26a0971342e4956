"""The replay loop and its reference twin: start, watchlist, rounds, Comet/Maker hand-off, recording (loading is inputs/, the whole run run.py)."""

import backtest.blas  # noqa: F401,E402  - BLAS on one thread: the same bits on any core count
