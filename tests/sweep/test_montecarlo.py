"""Monte Carlo paths: seeded per path, calibrated on a series, each model doing what it says."""

import math

import numpy as np
import pytest

from backtest.errors import InputError
from backtest.scenarios.montecarlo import (Calibration, PathModel, block_bootstrap, bridge, cholesky_psd, estimate,
                                           gbm, jump_diffusion, log_returns, path_rng)

VOL = np.array([0.02, 0.01])
CORR = np.array([[1.0, 0.6], [0.6, 1.0]])


def _calibration(returns, assets=("WETH", "CRV"), followers=()):
    return Calibration(assets=tuple(assets), returns=returns, step_seconds=600,
                       window=("2023-12-02T00:00:00Z", "2024-01-01T00:00:00Z"), followers=followers)


def test_path_i_depends_only_on_seed_and_i_not_on_what_else_was_drawn():
    cal = _calibration(np.random.default_rng(0).normal(0, 0.01, (300, 2)))
    model = PathModel("gbm", seed=42, calibration=cal)
    alone = model.multipliers(3, 50)
    in_a_loop = [model.multipliers(i, 50) for i in range(5)][3]
    assert np.array_equal(alone, in_a_loop)
    assert not np.array_equal(model.multipliers(2, 50), alone)
    assert not np.array_equal(PathModel("gbm", seed=43, calibration=cal).multipliers(3, 50), alone)


def test_path_rng_refuses_negative_seeds():
    with pytest.raises(InputError, match="seed"):
        path_rng(-1, 0)


def test_estimate_recovers_volatility_and_correlation_of_a_long_gbm():
    # 200,000 steps: the std error of a vol estimate is vol / sqrt(2n) = 0.16 %, of rho about 0.2 %
    m = gbm(path_rng(7, 0), 200_001, VOL, CORR)
    vol, corr = estimate(log_returns(m))
    assert vol == pytest.approx(VOL, rel=0.01)
    assert corr[0, 1] == pytest.approx(0.6, abs=0.01)


def test_gbm_is_a_martingale_mean_final_multiplier_is_one():
    # 4,000 paths of 100 steps, vol 2 % per step: final std ~ 0.2, std error of the mean ~ 0.2 / 63 = 0.003
    finals = np.array([gbm(path_rng(1, i), 101, VOL, CORR)[-1] for i in range(4000)])
    assert finals.mean(axis=0) == pytest.approx([1.0, 1.0], abs=0.012)


def test_cholesky_psd_reproduces_a_singular_correlation_matrix():
    # WETH and wstETH perfectly correlated: numpy.linalg.cholesky would fail here
    corr = np.array([[1.0, 1.0, 0.3], [1.0, 1.0, 0.3], [0.3, 0.3, 1.0]])
    low = cholesky_psd(corr)
    assert np.allclose(low @ low.T, corr, atol=1e-12)


def test_bridge_puts_the_pinned_asset_exactly_at_its_target_at_the_pin_time():
    # CRV (index 1) down 60 % at step 12 -> multiplier 0.4 there, whatever the draws
    for i in range(5):
        m = bridge(path_rng(3, i), 40, VOL, CORR, pin=1, target=0.4, pin_step=12)
        assert m[12, 1] == pytest.approx(0.4, rel=1e-12)
        assert m[0].tolist() == [1.0, 1.0]


def test_bridge_drags_a_perfectly_correlated_asset_of_equal_vol_to_the_same_place():
    # rho = 1 and equal vol: beta = 1 and both Brownian paths are the same, so X_0(T) = W(T) + (b - W(T)) = b
    vol, corr = np.array([0.01, 0.01]), np.ones((2, 2))
    m = bridge(path_rng(3, 0), 30, vol, corr, pin=1, target=0.5, pin_step=10)
    assert m[10, 0] == pytest.approx(0.5, rel=1e-12)


def test_bridge_time_outside_the_scenario_is_an_input_error():
    with pytest.raises(InputError, match="bridge time"):
        bridge(path_rng(0, 0), 10, VOL, CORR, pin=0, target=0.5, pin_step=10)


def test_bootstrap_increments_are_whole_rows_of_the_real_returns_in_blocks():
    returns = np.arange(20, dtype=float).reshape(10, 2) / 1000     # row r = (2r, 2r+1) / 1000
    m = block_bootstrap(path_rng(5, 0), 13, returns, block=4)
    inc = np.diff(np.log(m), axis=0)                                # 12 increments = 3 blocks of 4
    rows = np.rint(inc[:, 0] * 1000 / 2).astype(int)
    assert np.allclose(inc[:, 1], (2 * rows + 1) / 1000)           # both assets from the same row
    for b in range(3):                                              # each block is consecutive (circular)
        block = rows[4 * b: 4 * b + 4]
        assert all((block[j + 1] - block[j]) % 10 == 1 for j in range(3))


def test_jump_diffusion_without_diffusion_moves_only_by_whole_jumps_plus_the_compensator():
    # vol 0 except the driver (beta = vol / max vol), jump_std 0: each step's log move is
    # count * (-0.1) - 0.3 * (e^-0.1 - 1) for the driver; the compensator is +0.028549...
    vol, corr = np.array([0.0, 1e-300]), np.eye(2)
    m = jump_diffusion(path_rng(9, 0), 200, vol, corr, jumps_per_step=0.3, jump_mean=-0.1, jump_std=0.0)
    inc = np.diff(np.log(m[:, 1]))
    comp = 0.3 * (math.exp(-0.1) - 1.0)
    counts = (inc + comp) / -0.1
    assert np.allclose(counts, np.round(counts), atol=1e-9)
    assert np.round(counts).sum() > 20                                # ~0.3 * 199 = 60 jumps


def test_jump_diffusion_is_a_martingale():
    finals = np.array([jump_diffusion(path_rng(2, i), 49, VOL, CORR, 0.05, -0.1, 0.05)[-1] for i in range(4000)])
    assert finals.mean(axis=0) == pytest.approx([1.0, 1.0], abs=0.015)


def test_exogenous_anchors_on_book_prices_followers_copy_and_the_rest_stays_flat():
    cal = _calibration(np.random.default_rng(0).normal(0, 0.01, (300, 2)), followers=(("wstETH", "WETH"),))
    model = PathModel("gbm", seed=1, calibration=cal)
    assets, prices = ["CRV", "USDC", "WETH", "wstETH"], np.array([0.5, 1.0, 2000.0, 2300.0])
    exo = model.exogenous(0, assets, prices, 30)
    m = model.multipliers(0, 30)
    assert np.array_equal(exo[:, 0], 0.5 * m[:, 1])
    assert np.all(exo[:, 1] == 1.0)
    assert np.array_equal(exo[:, 2], 2000.0 * m[:, 0])
    assert np.array_equal(exo[:, 3], 2300.0 * m[:, 0])
    assert exo[0].tolist() == prices.tolist()


def test_a_bridge_on_an_asset_without_a_series_is_refused():
    cal = _calibration(np.zeros((5, 2)))
    with pytest.raises(InputError, match="bridge asset 'DAI'"):
        PathModel("bridge", seed=0, calibration=cal, bridge_asset="DAI")
