"""Oracles.update reads the history incrementally and still gives the series models' bits.

The expected value at each update is what Oracles computed before it kept running sums:
oracle_models.osm / twap over the whole observed history, evaluated at `now`.
"""

import numpy as np
from hypothesis import given, settings, strategies as st

from backtest.config import OracleConfig
from tests.markets import oracle_models
from backtest.markets.oracle import Oracles


def series_value(kind, times, prices, now, hop, window):
    """The whole-history computation, one asset."""
    times, prices = np.array(times), np.array(prices)
    if kind == "osm":
        return oracle_models.osm(times, prices, hop, at=[now])[0]
    start = max(now - window, times[0])
    return oracle_models.twap(times, prices, now - start, at=[now])[0] if now > start else prices[-1]


@settings(max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["osm", "twap"]),
       hop=st.sampled_from([600.0, 3600.0]), window=st.sampled_from([60.0, 1800.0, 7200.0]),
       steps=st.integers(1, 300), dt=st.sampled_from([12.0, 60.0, 600.0]))
def test_each_update_equals_the_series_model_on_the_history_so_far(seed, kind, hop, window, steps, dt):
    rng = np.random.default_rng(seed)
    path = 2_000 * np.exp(np.cumsum(rng.normal(0, 0.01, (steps, 2)), axis=0))
    oracles = Oracles(["WETH", "WBTC"], OracleConfig(kind=kind, hop_seconds=hop, window_seconds=window), path[0])
    times, seen = [], []
    for k in range(steps):
        now = k * dt
        for _ in range(int(rng.integers(1, 3))):       # cascade rounds call update again within a step
            got = oracles.update(now, path[k] * rng.uniform(0.98, 1.02, 2)).copy()
            for a in range(2):
                if times:
                    want = series_value(kind, times, [p[a] for p in seen], now, hop, window)
                    if np.isfinite(want):
                        assert got[a] == want, (k, a)   # exact: the same arithmetic, not approx
        times.append(now)
        seen.append(path[k].copy())
        oracles.observe(now, path[k])


def test_an_osm_reports_the_hour_before_and_holds_its_first_price_until_then():
    # Prices 1, 2, 3, ... observed every 600 s; hop 3,600 s. At t = 7,800 s (hour 2) the OSM shows
    # the last price at or before 3,600 s: the 7th observation (t = 3,600), i.e. 7.
    oracles = Oracles(["WETH"], OracleConfig(kind="osm", hop_seconds=3600), np.array([1.0]))
    for k in range(13):
        oracles.observe(k * 600.0, np.array([k + 1.0]))
    assert oracles.update(7_800.0, np.array([99.0]))[0] == 7.0
    fresh = Oracles(["WETH"], OracleConfig(kind="osm", hop_seconds=3600), np.array([1.0]))
    fresh.observe(0.0, np.array([5.0]))
    assert fresh.update(600.0, np.array([99.0]))[0] == 1.0      # hour 0: no source yet, first price kept


def test_a_twap_averages_the_window_by_time():
    # Observations 10 at t=0, 20 at t=60, 40 at t=120; window 120 s at now = 150:
    # over [30, 150]: 10 for 30 s, 20 for 60 s, 40 for 30 s -> (300 + 1,200 + 1,200) / 120 = 22.5.
    oracles = Oracles(["WETH"], OracleConfig(kind="twap", window_seconds=120), np.array([10.0]))
    for t, p in ((0.0, 10.0), (60.0, 20.0), (120.0, 40.0)):
        oracles.observe(t, np.array([p]))
    assert oracles.update(150.0, np.array([99.0]))[0] == 22.5
