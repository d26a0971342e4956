"""Replay DeFi lending liquidation cascades on price paths, position by position.

    import backtest as bt
    run = bt.replay()                 # also bt.sweep, bt.query, bt.health (backtest/api.py)

Light on import: the API and the engine load on first use, so `backtest --help` stays fast.
"""

from backtest.kernel_cache import fresh as _fresh

__version__ = "0.1.0"

_fresh()        # before any kernel loads: numba's cache of a module whose imports changed goes (kernel_cache.py)

_API = ("replay", "sweep", "health", "query", "Run", "SweepRun")


def __getattr__(name: str):
    if name in _API:
        from backtest import api
        return getattr(api, name)
    raise AttributeError(f"module 'backtest' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_API))
