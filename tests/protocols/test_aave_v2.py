"""Aave v2 liquidation rules: flat 50 % close factor, bonus applied before the price division."""

import pytest
from hypothesis import given, settings, strategies as st

from backtest.protocols.aave import v2 as aave_v2
from backtest.protocols.aave import v3 as aave_v3


def test_close_factor_is_half_whatever_the_health_factor():
    # v2 has no HF-dependent close factor: 1,000 USDC of debt -> at most 500 per call,
    # for an HF of 0.99 and of 0.5 alike.
    repaid, _ = aave_v2.liquidate(debt_to_cover=[1000.0, 1000.0], reserve_debt=[1000.0, 1000.0],
                                  debt_price=1.0, collateral_price=2000.0,
                                  collateral_balance=[10.0, 10.0], bonus=0.05)
    assert repaid.tolist() == [500.0, 500.0]


def test_seize_pays_the_bonus_in_collateral():
    # 500 USDC at $1 against ETH at $2,000 with a 5 % bonus: 500 x 1.05 / 2000 = 0.2625 ETH.
    repaid, taken = aave_v2.seize(500.0, 1.0, 2000.0, 10.0, 0.05)
    assert repaid == pytest.approx(500.0)
    assert taken == pytest.approx(0.2625)


def test_seize_capped_by_balance_repays_less():
    # Only 0.1 ETH left: it all goes, and repays 0.1 x 2000 / 1.05 = 190.476... USDC.
    repaid, taken = aave_v2.seize(500.0, 1.0, 2000.0, 0.1, 0.05)
    assert taken == pytest.approx(0.1)
    assert repaid == pytest.approx(190.47619047619048)


def test_liquidatable_below_one():
    assert aave_v2.liquidatable([0.999, 1.0, 1.2]).tolist() == [True, False, False]


def test_exact_usdc_against_weth_in_eth_base():
    # v2 prices are in ETH wei: USDC = 1/2000 ETH = 5e14 wei, WETH = 1e18.
    # User owes 1,000 USDC (1000e6); close factor -> 500e6.
    # maxCollateral = percentMul(5e14 * 500e6 * 1e18, 10500) / (1e18 * 1e6)
    #               = 2.625e41 / 1e24 = 2.625e17 wei = 0.2625 WETH.
    repaid, collateral = aave_v2.liquidation_exact(
        debt_to_cover=1000 * 10**6, user_reserve_debt=1000 * 10**6, collateral_balance=10**19,
        collateral_price=10**18, debt_price=5 * 10**14, collateral_decimals=18, debt_decimals=6,
        bonus_bps=10500)
    assert (repaid, collateral) == (500 * 10**6, 2625 * 10**14)


def test_exact_rounding_differs_from_v3_because_bonus_comes_first():
    # 20 debt units, debt price 1, collateral price 3, no decimals, +5 %:
    # v2: percentMul(1*20, 10500) = (210000 + 5000) // 10000 = 21; 21 // 3 = 7.
    # v3: 20 // 3 = 6; percentMul(6, 10500) = (63000 + 5000) // 10000 = 6.
    _, v2 = aave_v2.liquidation_exact(20, 40, 100, 3, 1, 0, 0, 10500)
    _, v3, _ = aave_v3.liquidation_exact(20, 40, 10**17, 100, 3, 1, 0, 0, 10500)
    assert (v2, v3) == (7, 6)


@settings(max_examples=300, deadline=None)
@given(debt=st.integers(10**6, 10**13), cover_frac=st.floats(0.01, 1.0),
       coll=st.integers(10**15, 10**22), coll_price=st.integers(10**16, 10**19),
       bonus_bps=st.integers(10_100, 11_500))
def test_float_agrees_with_exact(debt, cover_frac, coll, coll_price, bonus_bps):
    # USDC debt (6 decimals, price 5e14 wei) against an 18-decimal collateral.
    debt_price = 5 * 10**14
    cover = max(int(debt * cover_frac), 1)
    repaid_x, coll_x = aave_v2.liquidation_exact(cover, debt, coll, coll_price, debt_price, 18, 6, bonus_bps)
    repaid_f, coll_f = aave_v2.liquidate(cover / 1e6, debt / 1e6, debt_price / 1e18, coll_price / 1e18,
                                         coll / 1e18, bonus_bps / 1e4 - 1.0)
    assert float(repaid_f) * 1e6 == pytest.approx(repaid_x, rel=1e-9, abs=2)
    # Integer rounding of the repaid amount (half-up percentMul) moves the collateral by at
    # most one debt base unit's worth: 1e-6 USDC -> debt_price * 1e18 / 1e6 / coll_price wei.
    one_debt_unit_in_coll = debt_price * 10**12 / coll_price
    assert float(coll_f) * 1e18 == pytest.approx(coll_x, rel=1e-9, abs=2 + 2 * one_debt_unit_in_coll)
