"""Aave v3.0 liquidation rules, hand-worked from LiquidationLogic / GenericLogic."""

import numpy as np
import pytest

from backtest.protocols.aave import v3 as aave_v3


def test_health_factor_of_a_two_collateral_account():
    # 10 ETH at $2,000 (LT 0.83) + 1 BTC at $40,000 (LT 0.78) vs 30,000 USDC of debt.
    # weighted LT = (20,000*0.83 + 40,000*0.78) / 60,000 = 47,800 / 60,000 = 0.796666.. -> 7966 bps (floored)
    # HF = 60,000 * 0.7966 / 30,000 = 1.5932
    coll = np.array([[20_000.0, 40_000.0, 0.0]])
    debt = np.array([[0.0, 0.0, 30_000.0]])
    lt = np.array([0.83, 0.78, 0.80])
    assert aave_v3.health_factor(coll, debt, lt)[0] == pytest.approx(1.5932, rel=1e-12)


def test_health_factor_is_infinite_without_debt():
    assert np.isinf(aave_v3.health_factor(np.array([[1.0, 0.0]]), np.zeros((1, 2)), np.array([0.8, 0.8]))[0])


def test_exact_account_data_matches_the_hand_worked_example():
    # Same account in base units: ETH 18 dec, BTC 8 dec, USDC 6 dec; prices with 8 decimals.
    total_coll, total_debt, avg_lt, hf = aave_v3.account_data_exact(
        collateral=[10 * 10**18, 1 * 10**8, 0], debt=[0, 0, 30_000 * 10**6],
        prices=[2000 * 10**8, 40_000 * 10**8, 1 * 10**8], decimals=[18, 8, 6], lt_bps=[8300, 7800, 8000])
    assert total_coll == 60_000 * 10**8
    assert total_debt == 30_000 * 10**8
    assert avg_lt == 7966
    assert hf == 1_593_200_000_000_000_000


@pytest.mark.parametrize("hf, expected", [(0.99, 0.5), (0.9500001, 0.5), (0.95, 1.0), (0.80, 1.0)])
def test_close_factor_is_half_above_hf_095_and_whole_at_or_below(hf, expected):
    assert aave_v3.close_factor(hf) == expected


def test_seize_pays_the_bonus_and_the_protocol_fee_comes_out_of_it():
    # Repay 1,000 USDC ($1) against ETH at $2,000 with a 5 % bonus and a 10 % protocol fee:
    # base = 0.5 ETH, taken = 0.525 ETH, bonus part = 0.025 ETH, fee = 0.0025 ETH.
    repaid, taken, fee = aave_v3.seize(1000.0, 1.0, 2000.0, 10.0, 0.05, 0.10)
    assert repaid == pytest.approx(1000.0)
    assert taken == pytest.approx(0.525)
    assert fee == pytest.approx(0.0025)


def test_seize_is_capped_by_the_collateral_and_then_repays_less():
    # Only 0.3 ETH left: all of it is taken, and the debt covered is 0.3*2000/1.05 = 571.428...
    repaid, taken, fee = aave_v3.seize(1000.0, 1.0, 2000.0, 0.3, 0.05, 0.0)
    assert taken == pytest.approx(0.3)
    assert repaid == pytest.approx(600.0 / 1.05)
    assert fee == 0.0


def test_exact_liquidation_applies_the_50_percent_cap_above_hf_095():
    # 1,000 USDC of debt, HF 0.98: at most 500 USDC may be repaid even if 800 are offered.
    debt, coll, fee = aave_v3.liquidation_exact(800 * 10**6, 1000 * 10**6, 98 * 10**16, 10**18, 2000 * 10**8,
                                                10**8, 18, 6, 10500, 1000)
    assert debt == 500 * 10**6
    # 500/2000 = 0.25 ETH, *1.05 = 0.2625 ETH; fee = 10 % of the 0.0125 ETH bonus = 0.00125 ETH
    assert coll + fee == 262_500_000_000_000_000
    assert fee == 1_250_000_000_000_000


def test_exact_liquidation_allows_the_whole_debt_below_hf_095():
    debt, coll, fee = aave_v3.liquidation_exact(800 * 10**6, 1000 * 10**6, 94 * 10**16, 10**18, 2000 * 10**8,
                                                10**8, 18, 6, 10500, 0)
    assert debt == 800 * 10**6
    assert coll == 420_000_000_000_000_000   # 0.4 ETH * 1.05
    assert fee == 0
