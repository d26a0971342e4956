"""Compound v2: shortfall, close factor, seize tokens via the exchange rate, 2.8 % to reserves."""

import pytest
from hypothesis import given, settings, strategies as st

from backtest.protocols.compound_v2 import exact as c2

E18 = 10**18


def test_exchange_rate_and_initial_rate():
    # (cash 1,000 + borrows 500 - reserves 100) / 50,000 cTokens = 0.028; no supply -> initial 0.02.
    assert c2.exchange_rate([1000.0, 0.0], 500.0, 100.0, [50_000.0, 0.0], 0.02).tolist() == \
        pytest.approx([0.028, 0.02])
    assert c2.exchange_rate_exact(1000, 500, 100, 50_000, 2 * 10**16) == 28 * 10**15


def test_shortfall_counts_collateral_at_its_factor():
    # 5,000 cETH x 0.02 = 100 ETH x 0.75 x $2,000 = $150,000 against $160,000 of USDC borrow.
    liquidity, shortfall = c2.account_liquidity([[5_000.0, 0.0]], [0.02, 1.0], [0.75, 0.0],
                                                [2_000.0, 1.0], [[0.0, 160_000.0]])
    assert liquidity.tolist() == [0.0] and shortfall.tolist() == pytest.approx([10_000.0])
    assert c2.liquidatable(shortfall).tolist() == [True]


def test_close_factor_limits_repay():
    assert c2.max_repay(160_000.0, 0.5) == 80_000.0


def test_seize_and_protocol_share():
    # 1,000 USDC repaid, ETH $2,000, exchange rate 0.02 ETH/cETH, incentive +8 %:
    # 1,000 x 1.08 / (2,000 x 0.02) = 27 cETH; 2.8 % = 0.756 cETH to reserves
    # (0.756 x 0.02 = 0.01512 ETH of underlying), 26.244 cETH to the liquidator.
    repaid, to_liq, to_protocol, reserves = c2.liquidate(1_000.0, 160_000.0, 0.5, 1.0, 2_000.0, 0.02,
                                                         0.08, 5_000.0)
    assert float(repaid) == 1_000.0
    assert float(to_liq) == pytest.approx(26.244)
    assert float(to_protocol) == pytest.approx(0.756)
    assert float(reserves) == pytest.approx(0.01512)


def test_seize_larger_than_balance_shrinks_the_repay():
    # Only 10 cETH: repay shrinks to 1,000 x 10 / 27 = 370.37 USDC.
    repaid, to_liq, to_protocol, _ = c2.liquidate(1_000.0, 160_000.0, 0.5, 1.0, 2_000.0, 0.02, 0.08, 10.0)
    assert float(repaid) == pytest.approx(370.37037037)
    assert float(to_liq + to_protocol) == pytest.approx(10.0)


def test_exact_seize_matches_the_hand_computation():
    # Oracle mantissas: USDC (6 dec) 1e36/1e6 = 1e30; ETH (18 dec) 2000e18.
    # cETH has 8 decimals: 0.02 ETH per cETH = 2e8 wei per cETH unit -> mantissa 2e26.
    # numerator = 1.08e18 x 1e30 / 1e18 = 1.08e30; denominator = 2000e18 x 2e26 / 1e18 = 4e29;
    # ratio = 1.08e30 x 1e18 / 4e29 = 2.7e18; seize = 2.7e18 x 1000e6 / 1e18 = 2.7e9 (27 cETH).
    seize = c2.seize_tokens_exact(1_000 * 10**6, 10**30, 2_000 * E18, 2 * 10**26, 108 * 10**16)
    assert seize == 2_700_000_000
    # 2.8 %: 2.7e9 x 2.8e16 / 1e18 = 75,600,000 cETH units; reserves 2e26 x 7.56e7 / 1e18 = 1.512e16 wei.
    assert c2.seize_split_exact(seize, 2 * 10**26) == (2_624_400_000, 75_600_000, 15_120_000_000_000_000)


def test_exact_liquidity_truncates_like_the_comptroller():
    # 5,000 cETH (5e11 units) x 0.02 x 0.75 x $2,000 = $150,000 (1.5e23); borrow 160,000 USDC (1.6e23).
    liq, shortfall = c2.account_liquidity_exact([5_000 * 10**8, 0], [2 * 10**26, E18], [75 * 10**16, 0],
                                                [2_000 * E18, 10**30], [0, 160_000 * 10**6])
    assert (liq, shortfall) == (0, 10_000 * E18)


@settings(max_examples=300, deadline=None)
@given(repay=st.integers(10**6, 10**13), p_coll=st.integers(10**18, 10**23),
       rate=st.integers(10**25, 10**27), incentive=st.integers(E18, 115 * 10**16))
def test_float_seize_agrees_with_exact(repay, p_coll, rate, incentive):
    exact = c2.seize_tokens_exact(repay, 10**30, p_coll, rate, incentive)
    # float in whole units: USDC, ETH price in $, exchange rate ETH per cETH = rate / 1e28
    f = c2.seize_tokens(repay / 1e6, 1.0, p_coll / 1e18, rate / 1e28, incentive / 1e18 - 1)
    # truncation of ratio loses < 1 part in 1e18 / ratio of the result, plus one cToken unit
    assert float(f) * 1e8 == pytest.approx(exact, rel=1e-9, abs=2)


@settings(max_examples=300)
@given(st.floats(1.0, 1e7), st.floats(0.01, 1e5), st.floats(0.01, 1e5), st.floats(0.0, 1e6),
       st.floats(0.05, 0.9), st.floats(0.0, 0.2), st.floats(0.01, 1.0))
def test_the_engine_terms_equal_the_comptroller_float_twin(debt, price_d, price_c, coll, close_factor, incentive, size):
    """compound_v2/terms.py (what the replay runs) is exact.py's float `liquidate` (what the property tests
    above hold to the mantissa maths) at an exchange rate of 1: same repay, seize and reserve share."""
    import numpy as np
    from backtest.protocols.compound_v2.terms import compound_v2_terms
    from backtest.protocols.rules import Params
    p = Params(bonus=np.array([0.0, incentive]), protocol_fee=np.array([0.0, c2.PROTOCOL_SEIZE_SHARE]),
               close_factor=np.array([close_factor, close_factor]))
    repay, seized, to_reserves = compound_v2_terms(0.9, 0, 1, np.array([0.0, coll]), np.array([debt, 0.0]),
                                                   np.array([price_d, price_c]), p, size)
    want = c2.liquidate(close_factor * debt * size, debt, close_factor, price_d, price_c, 1.0, incentive, coll)
    assert float(want[0]) == pytest.approx(repay, rel=1e-12, abs=1e-300)
    assert float(want[1] + want[2]) == pytest.approx(seized, rel=1e-12, abs=1e-300)
    assert float(want[2]) == pytest.approx(to_reserves, rel=1e-12, abs=1e-300)
