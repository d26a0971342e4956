"""The prices a protocol sees, per asset: a Chainlink-style push feed (new answer on a deviation
or a heartbeat, so it lags the market), Maker's OSM (one hop late), or a TWAP of the market.

The OSM and TWAP follow tests/markets/oracle_models.py over the market prices observed at
the end of each step; the Chainlink rule is applied step by step (and between cascade rounds,
where a large enough move triggers a new round within the same step).
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from backtest.config import OracleConfig


def chainlink_update(answer: np.ndarray, updated_at: np.ndarray, market: np.ndarray, now: float,
                     deviation: float | np.ndarray, heartbeat: float | np.ndarray):
    """(new answer, new updated_at, mask of feeds that updated)."""
    moved = np.abs(market / answer - 1.0) >= deviation
    stale = (now - updated_at) >= heartbeat
    update = moved | stale
    return np.where(update, market, answer), np.where(update, now, updated_at), update


class Oracles:
    """One feed per asset, of the kind the run configures for it.

    OSM and TWAP read the observed history incrementally (a binary search for the OSM's source
    time, running sums for the TWAP's integral) with the arithmetic of
    tests/markets/oracle_models.py, so each update is O(log T), not O(T), and gives the
    series model's bits (tests/markets/test_oracle_incremental.py).
    """

    def __init__(self, assets: list[str], config: OracleConfig, first: np.ndarray):
        get = lambda name: [config.for_asset(a, name) for a in assets]  # noqa: E731
        self.kind = np.array(get("kind"))
        self.deviation = np.array(get("deviation"), dtype=float)
        self.heartbeat = np.array(get("heartbeat_seconds"), dtype=float)
        self.hop = np.array(get("hop_seconds"), dtype=float)
        self.window = np.array(get("window_seconds"), dtype=float)
        self.answer, self.updated_at = first.astype(float).copy(), np.zeros(len(assets))
        self.chainlink = self.kind == "chainlink"
        self.lagged = np.flatnonzero(~self.chainlink)
        self._lagged = self.lagged.tolist()                          # the assets that read the history
        self.history = PriceHistory(len(assets), self._lagged)

    def update(self, now: float, market: np.ndarray) -> np.ndarray:
        answer, updated_at, _ = chainlink_update(self.answer, self.updated_at, market, now, self.deviation,
                                                 self.heartbeat)
        self.answer = np.where(self.chainlink, answer, self.answer)
        self.updated_at = np.where(self.chainlink, updated_at, self.updated_at)
        if self._lagged and self.times:
            for a in self._lagged:
                value = self._osm(a, now) if self.kind[a] == "osm" else self._twap(a, now)
                if np.isfinite(value):
                    self.answer[a] = value
        return self.answer

    def _osm(self, a: int, now: float) -> float:
        return self.history.osm(a, now, float(self.hop[a]))

    def _twap(self, a: int, now: float) -> float:
        return self.history.twap(a, now, float(self.window[a]))

    def observe(self, now: float, market: np.ndarray) -> None:
        """The market price at the end of a step: what OSM and TWAP will later read (a Chainlink
        feed never does, so its asset keeps no history)."""
        self.history.observe(now, market)

    @property
    def times(self) -> list[float]:
        return self.history.times


class PriceHistory:
    """Observed prices of some series, read incrementally: a binary search for the OSM's source
    time, running sums for the TWAP's integral, with the arithmetic of
    tests/markets/oracle_models.py (so each read is O(log T) and gives the series model's bits;
    tests/markets/test_oracle_incremental.py). Only the series in `kept` are stored."""

    def __init__(self, n: int, kept):
        self._kept = [int(a) for a in kept]
        self.times: list[float] = []
        self.history: list[list[float]] = [[] for _ in range(n)]   # per kept series, the observed prices
        self._area: list[list[float]] = [[] for _ in range(n)]     # per kept series, the running integral

    def osm(self, a: int, now: float, hop: float) -> float:
        """oracle_models.osm(times, prices, hop, at=[now])[0]: the last price at or before the hour before."""
        k = bisect.bisect_right(self.times, (math.floor(now / hop) - 1.0) * hop) - 1
        return self.history[a][k] if k >= 0 else math.nan

    def twap(self, a: int, now: float, window: float) -> float:
        """oracle_models.twap over [max(now - window, first), now], or the last price if that is empty."""
        times, prices = self.times, self.history[a]
        start = max(now - window, times[0])
        if not now > start:
            return prices[-1]
        window = now - start
        since = now - window
        if since < times[0]:
            return math.nan
        return (self._integral(a, now) - self._integral(a, since)) / window

    def _integral(self, a: int, x: float) -> float:
        k = min(max(bisect.bisect_right(self.times, x) - 1, 0), len(self.times) - 1)
        return self._area[a][k] + self.history[a][k] * (x - self.times[k])

    def observe(self, now: float, values: np.ndarray) -> None:
        prices = values.tolist() if self._kept else []
        for a in self._kept:
            p, area = prices[a], self._area[a]
            # np.cumsum's running sum, one term at a time: area[k] = Σ_{j<k} p_j (t_{j+1} - t_j)
            area.append(area[-1] + self.history[a][-1] * (now - self.times[-1]) if area else 0.0)
            self.history[a].append(p)
        self.times.append(float(now))
