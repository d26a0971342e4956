"""The estimators recover parameters they were given, on synthetic series generated here with a seed."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.calibration import fits


def test_daily_stats_recovers_volume_and_volatility_and_skips_incomplete_days():
    rng = np.random.default_rng(7)
    days, sigma = 600, 0.03
    closes = 100 * np.exp(np.cumsum(rng.normal(0, sigma, days)))
    hours = np.arange(days * 24)
    close = np.repeat(closes, 24)                       # flat within the day: the day's close is its last bar
    volume = np.full(hours.size, 1e6 / 24) * rng.uniform(0.5, 1.5, days).repeat(24)
    keep = np.ones(hours.size, bool)
    keep[100 * 24 + 5] = False                          # one missing hour: day 100 must be left out
    s = fits.daily_stats(hours[keep] * 3600, close[keep], volume[keep])
    assert s.days == days - 1
    assert s.volatility == pytest.approx(sigma, rel=0.08)
    assert s.volume_usd == pytest.approx(1e6, rel=0.06)
    # the returns across the missing day are not one two-day return: no return spans day 99 -> 101
    full = fits.daily_stats(hours * 3600, close, volume)
    assert full.days == days


def _synthetic(seed=3, n=30_000, y=2.0, theta=0.4, h=900.0, volume=1e9, sigma=0.05, noise=4e-4):
    """Minute log prices moved by exogenous signed flow through the model, plus a noise walk."""
    rng = np.random.default_rng(seed)
    flow = np.where(rng.random(n) < 0.15, rng.choice([-1.0, 1.0], n) * rng.lognormal(14.5, 1.2, n), 0.0)
    dt = np.full(n, 60.0)
    x = fits.impact_regressors(flow, dt, volume_usd=volume, volatility=sigma, half_life_s=h)
    d = 2.0 ** (-60.0 / h)
    temp = np.zeros(n)
    for t in range(n):
        temp[t] = (temp[t - 1] * d if t else 0.0) + (1 - theta) * y * x[t]
    log_price = np.cumsum(theta * y * x + rng.normal(0, noise, n)) + temp
    return log_price, flow, dt, np.arange(n) // 1440


def test_fit_impact_recovers_y_theta_and_half_life():
    log_price, flow, dt, day = _synthetic()
    fit = fits.fit_impact(log_price, flow, dt, volume_usd=1e9, volatility=0.05, day=day, bootstrap=5)
    assert fit.y == pytest.approx(2.0, rel=0.1)
    assert fit.permanent_share == pytest.approx(0.4, abs=0.08)
    assert fit.half_life_seconds == pytest.approx(900.0, rel=0.3)
    assert fit.r2_curve > 0.9


def test_fit_impact_tells_a_permanent_impact_from_a_transient_one():
    low = fits.fit_impact(*_synthetic(theta=0.0, h=600.0)[:3], volume_usd=1e9, volatility=0.05,
                          day=_synthetic()[3], bootstrap=0)
    high = fits.fit_impact(*_synthetic(theta=0.9, h=600.0)[:3], volume_usd=1e9, volatility=0.05,
                           day=_synthetic()[3], bootstrap=0)
    assert low.permanent_share < 0.15 < 0.75 < high.permanent_share


def test_marginal_impact_of_a_split_order_equals_the_whole_order():
    # With no decay between them, two halves move the price as much as the whole (sqrt of the total).
    whole = fits.impact_regressors(np.array([-4e6]), np.array([1.0]), volume_usd=1e9, volatility=0.05,
                                   half_life_s=1e12)
    halves = fits.impact_regressors(np.array([-2e6, -2e6]), np.array([1.0, 1.0]), volume_usd=1e9,
                                    volatility=0.05, half_life_s=1e12)
    assert halves.sum() == pytest.approx(whole.sum(), rel=1e-9)
    assert whole[0] == pytest.approx(-0.05 * np.sqrt(4e6 / 1e9))
    assert abs(halves[1]) < abs(halves[0])              # concave: the second half moves it less


def test_constant_product_depth_moves_the_pool_price_by_the_target():
    x, y, fee = 20_000.0, 60e6, 0.003
    usd = fits.constant_product_depth_usd(x, y, 0.02, fee)
    dx = usd / (y / x)
    x2 = x + dx * (1 - fee)
    assert (y * x / x2) / x2 / (y / x) == pytest.approx(0.98, rel=1e-12)


def test_sqrt_law_size_inverts_the_law():
    q = fits.sqrt_law_size_usd(0.02, y=2.0, volatility=0.04, volume_usd=1e9)
    assert 2.0 * 0.04 * np.sqrt(q / 1e9) == pytest.approx(-np.log(0.98))


@pytest.mark.parametrize("y, theta, h", [(3.0, 0.25, 700.0), (1.0, 0.0, 120.0), (2.0, 1.0, 900.0)])
def test_fit_decay_recovers_an_exact_curve(y, theta, h):
    k = np.array(fits.HORIZONS, float) * 60
    got = fits.fit_decay(k, fits.decay_curve(k, y, theta, h))
    assert got[0] == pytest.approx(y, rel=1e-6) and got[1] == pytest.approx(theta, abs=1e-6)
    if theta < 1:                                   # a fully permanent impact has no half-life to find
        assert got[2] == pytest.approx(h, rel=1e-4)
