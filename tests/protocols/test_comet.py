"""Comet: liquidatable at liquidateCollateralFactor, absorb at liquidationFactor, store-front price."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest.protocols.comet import exact as comet

E8, E18 = 10**8, 10**18


def test_liquidatable_is_strict():
    # -1,800 USDC, 1 ETH, liquidateCF 0.90. At $2,000: -1,800 + 1,800 = 0 -> not liquidatable.
    # At $1,990: -1,800 + 1,791 = -9 -> liquidatable. A lender (+100) never is.
    out = comet.liquidatable([-1_800.0, -1_800.0, 100.0], 1.0, [[1.0], [1.0], [0.0]],
                             np.array([[2_000.0], [1_990.0], [1_990.0]]), [0.90])
    assert out.tolist() == [False, True, False]


def test_absorb_surplus_becomes_base_supply():
    # 1 ETH at $1,990 x liquidationFactor 0.95 = $1,890.50; -1,800 + 1,890.50 = +90.50 USDC supply.
    res = comet.absorb(-1_800.0, 1.0, [[1.0]], [1_990.0], [0.95])
    assert res.new_balance.item() == pytest.approx(90.5)
    assert res.base_paid_out.item() == pytest.approx(1_890.5)
    assert res.shortfall.item() == 0.0


def test_absorb_underwater_reserves_take_the_loss():
    # 1 ETH at $1,500 x 0.95 = $1,425 < 1,800: balance -> 0, reserves pay 1,800, shortfall 375.
    res = comet.absorb(-1_800.0, 1.0, [[1.0]], [1_500.0], [0.95])
    assert (res.new_balance.item(), res.base_paid_out.item()) == (0.0, 1_800.0)
    assert res.shortfall.item() == pytest.approx(375.0)


def test_quote_collateral_store_front_discount():
    # discount = storeFront 0.5 x (1 - 0.95) = 2.5 %: ETH at $2,000 sells at $1,950;
    # 1,000 USDC buys 1,000 / 1,950 = 0.5128205 ETH.
    assert float(comet.quote_collateral(1_000.0, 1.0, 2_000.0, 0.95, 0.5)) == pytest.approx(1_000 / 1_950)
    # Exact: 1e8 x 1000e6 x 1e18 // 1950e8 // 1e6 = 512820512820512820 wei.
    assert comet.quote_collateral_exact(1_000 * 10**6, E8, 10**6, 2_000 * E8, E18, 95 * 10**16,
                                        5 * 10**17) == 512_820_512_820_512_820


def test_buy_collateral_only_below_target_reserves():
    out, allowed = comet.buy_collateral([1_000.0, 1_000.0, 1_000.0], [5e6, 2e7, 5e6], 1e7,
                                        [10.0, 10.0, 0.1], 1.0, 2_000.0, 0.95, 0.5)
    # row 0 sells; row 1 reserves at/above target (NotForSale); row 2 not enough collateral held.
    assert allowed.tolist() == [True, False, False]
    assert out[1] == 0.0 and out[2] == 0.0
    with pytest.raises(ValueError, match="NotForSale"):
        comet.buy_collateral_exact(10**9, 0, 2 * 10**13, 10**13, 10**19, base_price=E8, base_scale=10**6,
                                   asset_price=2_000 * E8, asset_scale=E18, liquidation_factor=95 * 10**16,
                                   store_front_price_factor=5 * 10**17)


def test_absorb_exact():
    # 1 ETH at 1990e8, LF 0.95: value 1990e8 x 0.95 = 189,050,000,000 (USD 1e8);
    # in base: 189,050,000,000 x 1e6 / 1e8 = 1,890,500,000; new = -1,800,000,000 + that = 90,500,000.
    new, paid, usd = comet.absorb_exact(-1_800 * 10**6, E8, 10**6, [E18], [1_990 * E8], [E18], [95 * 10**16])
    assert (new, paid, usd) == (90_500_000, 1_890_500_000, 189_050_000_000)
    assert comet.liquidatable_exact(-1_800 * 10**6, E8, 10**6, [E18], [1_990 * E8], [E18], [90 * 10**16])
    assert not comet.liquidatable_exact(-1_800 * 10**6, E8, 10**6, [E18], [2_000 * E8], [E18], [90 * 10**16])


@settings(max_examples=300, deadline=None)
@given(balance=st.integers(-10**13, -10**6), coll=st.integers(10**15, 10**21),
       price=st.integers(100 * E8, 5_000 * E8), lf=st.integers(80 * 10**16, 98 * 10**16),
       sf=st.integers(0, E18), base_amount=st.integers(10**6, 10**12))
def test_float_agrees_with_exact(balance, coll, price, lf, sf, base_amount):
    new, paid, _ = comet.absorb_exact(balance, E8, 10**6, [coll], [price], [E18], [lf])
    res = comet.absorb(balance / 1e6, 1.0, [[coll / 1e18]], [price / 1e8], [lf / 1e18])
    assert res.new_balance.item() * 1e6 == pytest.approx(new, rel=1e-9, abs=2)
    assert res.base_paid_out.item() * 1e6 == pytest.approx(paid, rel=1e-9, abs=2)
    q = comet.quote_collateral_exact(base_amount, E8, 10**6, price, E18, lf, sf)
    qf = comet.quote_collateral(base_amount / 1e6, 1.0, price / 1e8, lf / 1e18, sf / 1e18)
    assert float(qf) * 1e18 == pytest.approx(q, rel=1e-9, abs=2)


def _bits(x) -> bytes:
    return np.float64(x).tobytes()


@settings(max_examples=2000, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 12), balance=st.sampled_from([-1_800.0, -0.0, 0.0, 250.0]),
       base_price=st.sampled_from([1.0, 0.9998, 0.0, float("nan")]), holes=st.booleans())
def test_absorb_one_is_absorb_bit_for_bit(seed, k, balance, base_price, holes):
    """One account's absorb in plain floats (Comet.liquidate): the collateral's sum as absorb's row sum (pairwise
    from 8 columns), a surplus or shortfall, a zero or NaN base price."""
    rng = np.random.default_rng(seed)
    coll = rng.lognormal(0, 3, k) * (rng.random(k) < 0.7)
    price, lf = rng.lognormal(3, 3, k), rng.uniform(0.8, 0.97, k)
    if holes:
        coll[rng.integers(k)], price[rng.integers(k)] = np.inf, np.nan
    with np.errstate(all="ignore"):
        want = comet.absorb([balance], base_price, coll[None, :], price, lf)
        new, paid = comet.absorb_one(balance, np.float64(base_price), coll, price, lf)
    assert type(new) is float and type(paid) is float
    assert (_bits(new), _bits(paid)) == (_bits(want.new_balance[0]), _bits(want.base_paid_out[0]))


AMOUNTS = st.one_of(st.floats(-1e12, 1e12), st.sampled_from([0.0, -0.0, float("nan"), float("inf"), -float("inf")]))


@settings(max_examples=3000, deadline=None)
@given(base_amount=AMOUNTS, base_price=AMOUNTS, asset_price=AMOUNTS,
       lf=st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0, float("nan")])),
       sff=st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.5, 1.0])))
def test_quote_collateral_one_is_quote_collateral_bit_for_bit(base_amount, base_price, asset_price, lf, sff):
    """One purchase's quote in plain floats (Comet.trade, every size each block): the floats of the numpy
    quote, signed zeros, NaN, infinities and a zero divisor (asset price 0, or a store-front discount of 1)."""
    with np.errstate(all="ignore"):
        want = comet.quote_collateral(base_amount, base_price, asset_price, lf, sff)
        got = comet.quote_collateral_one(base_amount, base_price, asset_price, lf, sff)
    assert type(got) is float
    assert _bits(got) == _bits(want) or (got != got and want != want)


def test_quote_collateral_one_divides_by_zero_as_numpy():
    with np.errstate(all="ignore"):
        for args in [(5.0, 1.0, 0.0, 0.95, 0.5), (-5.0, 1.0, -0.0, 0.95, 0.5), (0.0, 1.0, 0.0, 0.95, 0.5),
                     (5.0, 1.0, 2_000.0, 0.0, 1.0)]:
            want, got = comet.quote_collateral(*args), comet.quote_collateral_one(*args)
            assert _bits(got) == _bits(want) or (got != got and want != want)
