"""Chainlink-style push oracle: a new answer when the market moved past the deviation threshold
or the heartbeat expired, so the on-chain price lags the market (OCR aggregator rules)."""

from __future__ import annotations

import numpy as np


def chainlink_update(answer: np.ndarray, updated_at: np.ndarray, market: np.ndarray, now: float,
                     deviation: float | np.ndarray, heartbeat: float | np.ndarray):
    """(new answer, new updated_at, mask of feeds that updated)."""
    moved = np.abs(market / answer - 1.0) >= deviation
    stale = (now - updated_at) >= heartbeat
    update = moved | stale
    return np.where(update, market, answer), np.where(update, now, updated_at), update
