"""The prices a protocol sees, per asset: a Chainlink-style push feed (new answer on a deviation
or a heartbeat, so it lags the market), Maker's OSM (one hop late), or a TWAP of the market.

The OSM and TWAP follow backtest/markets/oracle_models.py over the market prices observed at
the end of each step; the Chainlink rule is applied step by step (and between cascade rounds,
where a large enough move triggers a new round within the same step).
"""

from __future__ import annotations

import numpy as np

from backtest.config import OracleConfig
from backtest.markets import oracle_models


def chainlink_update(answer: np.ndarray, updated_at: np.ndarray, market: np.ndarray, now: float,
                     deviation: float | np.ndarray, heartbeat: float | np.ndarray):
    """(new answer, new updated_at, mask of feeds that updated)."""
    moved = np.abs(market / answer - 1.0) >= deviation
    stale = (now - updated_at) >= heartbeat
    update = moved | stale
    return np.where(update, market, answer), np.where(update, now, updated_at), update


class Oracles:
    """One feed per asset, of the kind the run configures for it."""

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
        self.times: list[float] = []
        self.history: list[np.ndarray] = []

    def update(self, now: float, market: np.ndarray) -> np.ndarray:
        answer, updated_at, _ = chainlink_update(self.answer, self.updated_at, market, now, self.deviation,
                                                 self.heartbeat)
        self.answer = np.where(self.chainlink, answer, self.answer)
        self.updated_at = np.where(self.chainlink, updated_at, self.updated_at)
        if self.lagged.size and self.times:
            times, prices = np.array(self.times), np.array(self.history)
            for a in self.lagged.tolist():
                if self.kind[a] == "osm":
                    value = oracle_models.osm(times, prices[:, a], self.hop[a], at=[now])[0]
                else:
                    start = max(now - self.window[a], times[0])
                    value = oracle_models.twap(times, prices[:, a], now - start, at=[now])[0] if now > start \
                        else prices[-1, a]
                if np.isfinite(value):
                    self.answer[a] = value
        return self.answer

    def observe(self, now: float, market: np.ndarray) -> None:
        """The market price at the end of a step: what OSM and TWAP will later read."""
        self.times.append(now)
        self.history.append(market.copy())
