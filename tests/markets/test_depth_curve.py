"""Depth curve: linear impact between the table's points, a constant-product tail past the last."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest.errors import InputError
from backtest.markets import depth_curve as dc

IMPACTS = [0.005, 0.01, 0.02, 0.05]
AMOUNTS = [100.0, 250.0, 600.0, 2_000.0]   # ETH sellable down to each impact
MID = 2_000.0
SLOPE = 0.03 / 1_400                       # last segment: (5 % - 2 %) / (2,000 - 600)
X = 2 * 0.95 / SLOPE                       # tail scale: 1.9 / 2.142857e-5 = 88,666.67


def test_impact_is_linear_between_points():
    # 50 ETH: half of the first point -> 0.25 %; 175: 0.5 % + 0.5 % x 75/150 = 0.75 %.
    assert dc.impact([50.0, 175.0, 600.0], IMPACTS, AMOUNTS).tolist() == pytest.approx([0.0025, 0.0075, 0.02])


def test_proceeds_integrate_the_marginal_price():
    # 100 ETH: 2,000 x 100 x (1 - 0.25 %) = 199,500.
    # 250 ETH: + 2,000 x 150 x (1 - 0.75 %) = 297,750 -> 497,250; average 1,989.
    sale = dc.sell([100.0, 250.0], MID, IMPACTS, AMOUNTS)
    assert sale.proceeds.tolist() == pytest.approx([199_500.0, 497_250.0])
    assert sale.average_price.tolist() == pytest.approx([1_995.0, 1_989.0])
    assert sale.marginal_price.tolist() == pytest.approx([1_990.0, 1_980.0])


def test_tail_continues_price_and_slope_and_stays_finite():
    # Just past 2,000 ETH the impact keeps the last segment's slope.
    eps = 1e-3
    assert float(dc.impact(2_000.0 + eps, IMPACTS, AMOUNTS)) - 0.05 == pytest.approx(SLOPE * eps, rel=1e-5)
    # At u = X past the last point: impact = 1 - 0.95 x (1/2)^2 = 76.25 %.
    assert float(dc.impact(2_000.0 + X, IMPACTS, AMOUNTS)) == pytest.approx(0.7625)
    # Proceeds to 2,000: 99.75 + 148.875 + 350 x 0.985 + 1,400 x 0.965 = 1,944.375 mids;
    # then + 0.95 x X x u / (X + u) = 0.475 X at u = X.
    assert float(dc.sell(2_000.0 + X, MID, IMPACTS, AMOUNTS).proceeds) == \
        pytest.approx(MID * (1_944.375 + 0.475 * X))
    # Selling a trillion ETH still yields less than the tail's limit, (1,944.375 + 0.95 X) mids.
    assert float(dc.sell(1e12, MID, IMPACTS, AMOUNTS).proceeds) < MID * (1_944.375 + 0.95 * X)


def test_amount_for_impact_inverts_impact():
    q = np.array([10.0, 400.0, 1_999.0, 5_000.0, 1e6])
    assert dc.amount_for_impact(dc.impact(q, IMPACTS, AMOUNTS), IMPACTS, AMOUNTS) == pytest.approx(q, rel=1e-9)
    assert dc.amount_for_impact(1.0, IMPACTS, AMOUNTS) == np.inf


@given(st.lists(st.floats(0, 1e7), min_size=2, max_size=20))
def test_more_sold_means_more_proceeds_at_a_worse_average(qs):
    q = np.sort(np.array(qs))
    sale = dc.sell(q, MID, IMPACTS, AMOUNTS)
    assert np.all(np.diff(sale.proceeds) >= -1e-6)
    assert np.all(np.diff(sale.average_price) <= 1e-9)
    assert np.all(sale.marginal_price <= sale.average_price + 1e-9)


def test_bad_tables_are_input_errors():
    with pytest.raises(InputError, match="strictly increasing"):
        dc.sell(1.0, MID, IMPACTS, [100.0, 90.0, 600.0, 2_000.0])
    with pytest.raises(InputError, match="fractions"):
        dc.sell(1.0, MID, [0.5, 1, 2, 5], AMOUNTS)


def test_curve_from_table_selects_and_sorts():
    import pandas as pd
    table = pd.DataFrame({"venue": ["binance"] * 4 + ["okx"], "asset": ["ETH"] * 5,
                          "impact": [0.02, 0.005, 0.05, 0.01, 0.02], "amount": [600, 100, 2_000, 250, 9]})
    impacts, amounts = dc.curve_from_table(table, "binance", "ETH")
    assert impacts.tolist() == IMPACTS and amounts.tolist() == AMOUNTS
    with pytest.raises(InputError, match="no depth rows"):
        dc.curve_from_table(table, "kraken", "ETH")
    with pytest.raises(InputError, match="lacks"):
        dc.curve_from_table(table.drop(columns="amount"), "binance", "ETH")


def test_curve_built_from_a_real_uniswap_pool_prices_sales_like_the_pool():
    # Uniswap ETH/DAI reserves at 00:00 UTC on 2021-05-19 (stablesims feeds). A constant-product
    # pool sells q at marginal impact i = 1 - (X / (X + q))^2, so its depth at i is
    # X (1 / sqrt(1 - i) - 1). Build the 0.5/1/2/5 % table from that and compare proceeds with
    # the pool's own (fee-free) getAmountOut: the linear interpolation must stay within 0.01 %
    # up to the last point, and the tail within 1 % out to 20 times the last point.
    import json
    from pathlib import Path
    from backtest.markets import uniswap_v2
    path = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "stablesims_feeds"
            / "eth_dai_liquidity" / "05-19-2021.json")
    if not path.exists():
        pytest.skip("real data not present")
    r = json.loads(path.read_text())[0]
    x, y = r["WETH"], r["DAI"]
    impacts = np.array([0.005, 0.01, 0.02, 0.05])
    amounts = x * (1 / np.sqrt(1 - impacts) - 1)
    for q, tol in [(amounts[0] / 2, 1e-4), (amounts[2] * 1.5, 1e-4), (amounts[3], 1e-4),
                   (amounts[3] * 2, 1e-2), (amounts[3] * 20, 1e-2)]:
        pool = uniswap_v2.amount_out(q, x, y, 0.0)
        assert float(dc.sell(q, y / x, impacts, amounts).proceeds) == pytest.approx(pool, rel=tol)


@settings(max_examples=200, deadline=None)
@given(points=st.lists(st.tuples(st.floats(1e-4, 0.9), st.floats(1e-3, 1e6)), min_size=1, max_size=6,
                       unique_by=(lambda p: p[0], lambda p: p[1])),
       rels=st.lists(st.floats(0.0, 3.0), min_size=1, max_size=8), knot=st.booleans())
def test_held_at_is_amount_for_impact_for_one_price_bit_for_bit(points, rels, knot):
    """held_at (a book's pull_to/pulled, scalar and jitable for arbitrage's meeting price) gives what the
    np.interp-based amount_for_impact gave for the same price, Python and compiled; on and between the knots,
    in the tail, and past a 100 % impact."""
    impacts, amounts = np.sort([p[0] for p in points]), np.sort([p[1] for p in points])
    a, i, _ = dc._cumulative_relative_proceeds(impacts, amounts)
    tail = tuple(float(t) for t in dc._tail(impacts, amounts))
    if knot:                                        # exactly on a knot, either side of the mid
        rels = rels + [1.0 - float(t) for t in impacts] + [1.0 + float(t) for t in impacts]
    compiled_held_at = _compiled_held_at()
    for rel in rels:
        if rel < 1.0:
            want = float(dc.amount_for_impact(1.0 - rel, impacts, amounts))
        elif rel > 1.0:
            want = -float(dc.amount_for_impact(min(rel - 1.0, 1.0 - 1e-12), impacts, amounts))
        else:
            want = 0.0
        got = dc.held_at(rel, i.tolist(), a.tolist(), *tail)
        assert repr(got) == repr(want)
        if compiled_held_at is not None:
            assert repr(compiled_held_at(rel, i, a, *tail)) == repr(want)


@functools.cache
def _compiled_held_at():
    try:
        import numba
    except ImportError:                             # pragma: no cover - where numba is absent
        return None
    return numba.njit(lambda rel, xp, fp, rel_n, x: dc.held_at(rel, xp, fp, rel_n, x))
