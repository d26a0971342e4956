"""Each protocol's liquidation terms as the engine applies them, against the protocols' maths."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, strategies as st

from backtest.protocols.rules import RULES, Params
from backtest.protocols.aave import v33 as aave_v33

PRICE = np.array([1.0, 2000.0])          # reserve 0: USDC debt, reserve 1: WETH collateral
PARAMS = Params(bonus=np.array([0.045, 0.05]), protocol_fee=np.array([0.1, 0.1]), close_factor=np.array([0.5, 0.5]))


def terms(protocol, hf, coll_weth, debt_usdc, size=1.0, params=PARAMS):
    return RULES[protocol].terms(hf, 0, 1, np.array([0.0, coll_weth]), np.array([debt_usdc, 0.0]), PRICE, params, size)


def test_aave_v2_repays_half_even_deep_under_water():
    repay, taken, fee = terms("aave-v2", 0.5, 100.0, 100_000.0)
    assert repay == 50_000.0 and taken == pytest.approx(50_000 / 2000 * 1.05) and fee == 0.0


def test_aave_v3_repays_everything_below_hf_095_and_pays_a_fee_on_the_bonus():
    repay, taken, fee = terms("aave-v3", 0.94, 100.0, 100_000.0)
    assert repay == 100_000.0
    assert taken == pytest.approx(52.5)              # 50 ETH * 1.05
    assert fee == pytest.approx(2.5 * 0.1)           # 10 % of the 2.5 ETH bonus


def test_compound_v2_sends_2_8_percent_of_all_seized_collateral_to_reserves():
    params = Params(bonus=np.array([0.08, 0.08]), protocol_fee=np.array([0.028, 0.028]),
                    close_factor=np.array([0.5, 0.5]))
    repay, taken, fee = terms("compound-v2", 0.9, 100.0, 100_000.0, params=params)
    # repay 50,000 (close factor) -> 50,000 * 1.08 / 2,000 = 27 ETH seized, 0.756 ETH of it to reserves
    assert repay == 50_000.0 and taken == pytest.approx(27.0) and fee == pytest.approx(0.756)


def test_aave_v33_liquidates_a_small_position_in_full():
    # $1,500 of debt is under the $2,000 threshold: the whole reserve debt may go at HF 0.99
    repay, _, _ = terms("aave-v3.3", 0.99, 1.0, 1_500.0)
    assert repay == 1_500.0


@given(hf=st.floats(0.5, 0.999), coll=st.floats(0.01, 500.0), debt=st.floats(10.0, 800_000.0),
       size=st.sampled_from([1.0, 0.5, 0.25, 0.1]))
def test_aave_v33_scalar_terms_equal_the_protocol_functions(hf, coll, debt, size):
    repay, taken, fee = terms("aave-v3.3", hf, coll, debt, size)
    total = debt * PRICE[0]
    cap = aave_v33.max_repay(debt, PRICE[0], coll * PRICE[1], total, hf)
    allowed = aave_v33.allowed_repay(cap * size, debt, PRICE[0], coll, PRICE[1], total, hf, 0.05)
    ref = aave_v33.liquidate(allowed, debt, PRICE[0], coll, PRICE[1], total, coll * PRICE[1], hf, 0.05, 0.1)
    assert bool(ref.allowed)
    assert repay == pytest.approx(float(ref.debt_repaid), rel=1e-12, abs=1e-9)
    assert taken - fee == pytest.approx(float(ref.collateral_to_liquidator), rel=1e-12, abs=1e-12)
    assert fee == pytest.approx(float(ref.protocol_fee), rel=1e-12, abs=1e-12)


T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_a_governance_change_takes_effect_at_its_block(tmp_path):
    """An account safe under LT 0.83 becomes liquidatable when LT drops to 0.70 at block 1,000+300
    (one hour of 12 s blocks after the snapshot): its liquidation comes at that step, not before."""
    from backtest.run import make_config, run
    from backtest.lake import write_table
    from backtest.scenarios import load_scenario
    market = dict(protocol="aave-v3", asset="WETH", decimals=18, ltv=0.80, liquidation_threshold=0.83,
                  liquidation_bonus=0.05, close_factor=0.5, protocol_fee=0.0, valid_from_block=1)
    usdc = dict(market, asset="USDC", ltv=0.75, liquidation_threshold=0.78, liquidation_bonus=0.045)
    write_table(tmp_path, "markets", pa.Table.from_pylist(
        [market, usdc, dict(market, liquidation_threshold=0.70, ltv=0.65, valid_from_block=1300)]))
    write_table(tmp_path, "prices", pa.Table.from_pylist([
        dict(asset=a, timestamp=T0, price_usd=p, source="test", outlier=False) for a, p in (("WETH", 2000.0), ("USDC", 1.0))]))
    write_table(tmp_path, "positions", pa.Table.from_pylist([
        dict(protocol="aave-v3", account="0xa", asset=a, collateral=c, debt=d, block_number=1000, timestamp=T0)
        for a, c, d in (("WETH", 100.0, 0.0), ("USDC", 0.0, 150_000.0))]))   # HF 1.107 -> 0.933
    scenario = tmp_path / "flat.toml"
    scenario.write_text('kind = "stylised"\nanchor = "absolute"\nstart = 2024-01-01T00:00:00Z\n'
                        'end = 2024-01-01T03:00:00Z\nstep_seconds = 600\n[gas]\ngwei = 0\n')
    s = load_scenario(scenario)
    result = run(make_config(s, tmp_path), s)
    steps = result.outcome.liquidations["step"].to_pylist()
    assert steps and min(steps) == 6                 # 1 h = 300 blocks = step 6 of 10 minutes


def _health_factor_one_numpy(coll_usd, debt_usd, lt, floors):
    """health_factor_one as it was written with numpy's own sum, matmul and floor."""
    debt = float(debt_usd.sum())
    if debt <= 0:
        return float("inf")
    total, weighted = float(coll_usd.sum()), float(coll_usd @ lt)
    if not floors:
        return weighted / debt
    avg = weighted / total if total > 0 else 0.0
    return float(total * np.floor(avg * 10_000 + 1e-9) / 10_000 / debt)


@pytest.mark.parametrize("seed", range(6))
def test_health_factor_one_is_numpys_formula_bit_for_bit(seed):
    """Its plain-float sums and .dot stand in for numpy's sum and matmul: the same bits for every row
    length (numpy's pairwise sum changes shape at 8), zeros of both signs, NaN and inf, both LT rules."""
    from backtest.protocols.rules import health_factor_one
    rng = np.random.default_rng(seed)
    special = np.array([0.0, -0.0, np.nan, np.inf, 1e-300, 1e300])
    for _ in range(3000):
        n = int(rng.integers(1, 20))
        coll = rng.random(n) * 10.0 ** rng.uniform(-6, 9, n) * (rng.random(n) < 0.7)
        debt = rng.random(n) * 10.0 ** rng.uniform(-6, 9, n) * (rng.random(n) < 0.5)
        lt = rng.choice([0.0, 0.7, 0.8, 0.825, 0.93], n)
        if rng.random() < 0.2:                                  # a strided view, as a column of a table
            lt = np.repeat(lt, 2)[::2]
        if rng.random() < 0.1:
            coll[rng.integers(n)] = rng.choice(special)
        if rng.random() < 0.1:
            debt[rng.integers(n)] = rng.choice(special)
        for floors in (True, False):
            with np.errstate(invalid="ignore", over="ignore"):          # inf x 0 in the products, both ways
                got, want = health_factor_one(coll, debt, lt, floors), _health_factor_one_numpy(coll, debt, lt, floors)
            assert np.array([got]).tobytes() == np.array([want]).tobytes(), (coll, debt, lt, floors)
