"""Morpho Blue maths without a chain: the market id, the incentive factor, float vs exact twins.

The contract itself is compared in tests/chain/test_morpho_blue_differential.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest.protocols.morpho_blue import MarketParams, MarketState, Position, exact, maths
from backtest.protocols.morpho_blue.params import ORACLE_PRICE_SCALE, WAD


def test_market_id_of_a_mainnet_market():
    """wstETH/USDC 86 % on Ethereum: the id Morpho's own blue-sdk README fetches by
    (0xb323...86cc), from its five parameters (tokens, oracle and AdaptiveCurveIrm addresses)."""
    params = MarketParams("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "0x7f39C581F595B53c5cb19bD0b3f8dA6c935E2Ca0",
                          "0x48F7E36EB6B826B2dF4B2E630B62Cd25e89E40e2", "0x870aC11D48B15DB9a138Cf899d20F13F79Ba00BC",
                          86 * 10**16)
    assert params.id == "0xb323495f7e4148be5643a4ea4a8221eef163e4bccfdedc2a6f4696baacbc86cc"


@pytest.mark.parametrize("lltv, factor", [(0.385, 1.15), (0.625, 1.1267605633802817), (0.86, 1.0438413361169102),
                                          (0.945, 1.0167768174885612), (0.98, 1.0060362173038229)])
def test_incentive_factor(lltv, factor):
    """min(1.15, 1/(0.3 lltv + 0.7)): the cap binds below LLTV 0.565."""
    assert maths.incentive_factor(lltv) == pytest.approx(factor, rel=1e-15)
    assert exact.liquidation_incentive_factor(round(lltv * 1000) * 10**15) / WAD == pytest.approx(factor, rel=1e-15)


def _market(borrow_assets, borrow_shares_per_asset=10**6):
    return MarketState(total_supply_assets=3 * borrow_assets, total_supply_shares=3 * borrow_assets * 10**6,
                       total_borrow_assets=borrow_assets, total_borrow_shares=borrow_assets * borrow_shares_per_asset)


@settings(max_examples=300, deadline=None)
@given(st.integers(10**12, 10**30), st.floats(0.3, 0.99), st.floats(0.5, 2.0), st.floats(0.2, 0.99),
       st.sampled_from([385, 625, 770, 860, 915, 945, 965, 980]))
def test_float_twin_follows_exact(collateral, price_units, growth, used, lltv_permille):
    """Health factor, seize-for-repay and the bad debt of a full seizure, float vs integers."""
    lltv = lltv_permille * 10**15
    price = int(price_units * ORACLE_PRICE_SCALE)
    debt = int(exact.max_borrow(collateral, price, lltv) * used) + 1
    market = _market(10**31, 10**6)
    shares = exact.to_shares_up(debt, market.total_borrow_assets, market.total_borrow_shares)
    market = MarketState(market.total_supply_assets, market.total_supply_shares,
                         int(market.total_borrow_assets * growth), market.total_borrow_shares)   # interest
    pos = Position(0, shares, collateral)
    borrowed = exact.borrowed(pos, market)
    assert float(maths.borrowed_assets(shares, market.total_borrow_assets, market.total_borrow_shares)) == \
        pytest.approx(borrowed, rel=1e-12, abs=1)
    hf = maths.health_factor(borrowed, collateral, price / ORACLE_PRICE_SCALE, lltv / WAD)
    assert float(hf) == pytest.approx(exact.max_borrow(collateral, price, lltv) / borrowed, rel=1e-9)
    assert bool(hf < 1) == (not exact.is_healthy(pos, market, price, lltv)) or abs(float(hf) - 1) < 1e-9
    if exact.is_healthy(pos, market, price, lltv):
        with pytest.raises(exact.Reverts, match="healthy"):
            exact.liquidate(market, pos, price, lltv, seized_assets=collateral)
        return
    try:
        out = exact.liquidate(market, pos, price, lltv, seized_assets=collateral)
    except exact.Reverts:          # taking everything would repay more shares than the borrower has
        return
    f = maths.liquidate(borrowed, borrowed, collateral, price / ORACLE_PRICE_SCALE, lltv / WAD)
    assert float(f.seized) == float(collateral)
    assert float(f.repaid) == pytest.approx(out.repaid_assets, rel=1e-9)
    assert float(f.bad_debt) == pytest.approx(out.bad_debt_assets, rel=1e-9, abs=2)


def test_bad_debt_is_socialised_to_suppliers():
    """Seizing the last collateral writes the rest off: totalSupplyAssets falls by exactly that, so
    every supply share is worth less, and the borrower has no shares left."""
    market = MarketState(total_supply_assets=10**12, total_supply_shares=10**18,
                         total_borrow_assets=5 * 10**11, total_borrow_shares=5 * 10**17)
    pos = Position(0, 10**17, 10**18)                       # debt 1e11, collateral 1e18 units
    price = 5 * 10**28                                       # 1e18 units are worth 5e10 (< debt)
    out = exact.liquidate(market, pos, price, 86 * 10**16, seized_assets=pos.collateral)
    assert out.position == Position(0, 0, 0)
    assert out.bad_debt_shares == 10**17 - out.repaid_shares > 0
    assert out.market.total_supply_assets == market.total_supply_assets - out.bad_debt_assets
    assert out.market.total_borrow_assets == market.total_borrow_assets - out.repaid_assets - out.bad_debt_assets
    assert out.repaid_assets + out.bad_debt_assets == pytest.approx(10**11, abs=2)
    share_value_before = exact.to_assets_down(10**12, market.total_supply_assets, market.total_supply_shares)
    share_value_after = exact.to_assets_down(10**12, out.market.total_supply_assets, out.market.total_supply_shares)
    assert share_value_after < share_value_before


def test_liquidate_needs_exactly_one_amount():
    market, pos = _market(10**12), Position(0, 10**17, 1)
    with pytest.raises(exact.Reverts, match="inconsistent"):
        exact.liquidate(market, pos, 1, 86 * 10**16, seized_assets=1, repaid_shares=1)
    with pytest.raises(exact.Reverts, match="inconsistent"):
        exact.liquidate(market, pos, 1, 86 * 10**16)


def test_accrue_interest_fee_shares():
    """10 % a year for a year with a 10 % fee: interest by the 3-term Taylor series, fee paid in shares."""
    market = MarketState(10**12, 10**18, 5 * 10**11, 5 * 10**17, last_update=0, fee=10**17)
    rate = WAD // 10 // (365 * 86400)
    after, interest, fee_shares = exact.accrue_interest(market, rate, 365 * 86400)
    assert interest == pytest.approx(5e11 * (np.exp(0.1) - 1), rel=1e-4)       # Taylor to x^3/6
    assert after.total_supply_assets == market.total_supply_assets + interest
    fee_value = exact.to_assets_down(fee_shares, after.total_supply_assets, after.total_supply_shares)
    assert fee_value == pytest.approx(interest // 10, abs=2)
