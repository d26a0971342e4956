"""What a protocol's oracle reports, given the market price series: pure series-in, series-out.

* Chainlink-style push feed: a new answer when the market has moved by at least the
  deviation threshold from the last answer, or when the heartbeat has elapsed since it
  (the OCR aggregator's trigger rule; thresholds are per feed, e.g. ETH/USD 0.5 % and 3600 s,
  stETH/ETH 0.5 % and 86400 s). Updates can only happen at the input's sample times, so
  the lag is at most one sample coarser than on chain.
* Maker OSM (makerdao/osm src/osm.sol): poked once per `hop` (3600 s), aligned to multiples
  of hop; `poke` makes the queued value current and queues the source's price. So the price
  current during hour h is the one observed at the start of hour h-1; `osm_next` is the
  queued one (readable with `peep`, what keepers watch).
* AMM TWAP: time-weighted mean of the pool price over a trailing window, holding each
  observation until the next. Uniswap v2 accumulates the price (arithmetic mean); v3
  accumulates the tick, so its TWAP is the geometric mean of the price (`geometric=True`;
  the tick's rounding to 1 bp is not modelled).

Times are seconds (int or float, increasing); prices float64.
"""

from __future__ import annotations

import numpy as np

from backtest.errors import InputError


def _check(times, prices):
    times, prices = np.asarray(times, dtype=float), np.asarray(prices, dtype=float)
    if times.ndim != 1 or times.shape[0] != prices.shape[0]:
        raise InputError("times and prices must have the same length")
    if np.any(np.diff(times) < 0):
        raise InputError("times must be sorted", column="timestamp",
                         row=int(np.flatnonzero(np.diff(times) < 0)[0]) + 2)
    return times, prices


def chainlink_updates(times, prices, deviation: float, heartbeat: float):
    """(answer at each time, mask of the times a new round was written).

    The first sample always writes a round. `deviation` 0.005 = 0.5 %, `heartbeat` seconds.
    """
    times, prices = _check(times, prices)
    n = len(times)
    answer = np.empty(n)
    updated = np.zeros(n, dtype=bool)
    if n == 0:
        return answer, updated
    t_list, p_list = times.tolist(), prices.tolist()
    last_p, last_t = p_list[0], t_list[0]
    answer[0], updated[0] = last_p, True
    for k in range(1, n):
        p, t = p_list[k], t_list[k]
        if abs(p / last_p - 1.0) >= deviation or t - last_t >= heartbeat:
            last_p, last_t = p, t
            updated[k] = True
        answer[k] = last_p
    return answer, updated


def _price_at(times, prices, at):
    """Last observed price at or before each `at`; NaN before the first observation."""
    idx = np.searchsorted(times, at, side="right") - 1
    return np.where(idx >= 0, prices[np.maximum(idx, 0)], np.nan)


def osm(times, prices, hop: float = 3600.0, at=None) -> np.ndarray:
    """OSM's current price at `at` (default: the input times): the source at the hour before."""
    times, prices = _check(times, prices)
    at = times if at is None else np.asarray(at, dtype=float)
    src_time = (np.floor(at / hop) - 1.0) * hop
    return _price_at(times, prices, src_time)


def osm_next(times, prices, hop: float = 3600.0, at=None) -> np.ndarray:
    """The queued price (OSM.peep): what becomes current at the next hour boundary."""
    times, prices = _check(times, prices)
    at = times if at is None else np.asarray(at, dtype=float)
    return _price_at(times, prices, np.floor(at / hop) * hop)


def twap(times, prices, window: float, at=None, geometric: bool = False) -> np.ndarray:
    """Time-weighted mean over [t - window, t]; NaN where the window starts before the data."""
    times, prices = _check(times, prices)
    at = times if at is None else np.asarray(at, dtype=float)
    if window <= 0:
        raise InputError("twap window must be positive")
    values = np.log(prices) if geometric else prices
    # cumulative integral of the step function at each observation time
    cum = np.r_[0.0, np.cumsum(values[:-1] * np.diff(times))]

    def integral(x):
        k = np.clip(np.searchsorted(times, x, side="right") - 1, 0, len(times) - 1)
        return cum[k] + values[k] * (x - times[k])

    start = at - window
    mean = (integral(at) - integral(start)) / window
    mean = np.where(start >= times[0], mean, np.nan)
    return np.exp(mean) if geometric else mean
