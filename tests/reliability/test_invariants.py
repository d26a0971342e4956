"""Invariants of the health factor, of one liquidation and of a whole replay (docs/reliability.md
derives each condition)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from backtest.inputs.book import load_inputs
from backtest.engine.replay import replay
from backtest.protocols.aave.v3 import terms as aave_v3_terms
from backtest.protocols.compound_v2.terms import compound_v2_terms
from backtest.protocols.rules import Params, health_factor, health_factor_one
from backtest.run import make_config
from backtest.metrics import compute
from backtest.scenarios.library import load_scenario
from tests.reliability.conftest import REPO

SCENARIO = REPO / "data" / "scenarios" / "stylised-eth-crash.toml"

usd = st.floats(1.0, 1e7, allow_nan=False)
lt_ = st.floats(0.3, 0.9)


def _hf(coll_usd, debt_usd, lt, floors):
    return health_factor(np.atleast_2d(coll_usd), np.atleast_2d(debt_usd), np.asarray(lt, float),
                         np.array([floors]))[0]


# ------------------------------------------------------------ health factor and prices
# Reserves 0..2 are collateral only, 3..4 debt only (an asset that is both moves both sides:
# see docs/reliability.md).

@st.composite
def accounts(draw):
    coll = np.array(draw(st.lists(usd, min_size=3, max_size=3)) + [0.0, 0.0])
    debt = np.array([0.0, 0.0, 0.0] + draw(st.lists(usd, min_size=2, max_size=2)))
    lt = np.array(draw(st.lists(lt_, min_size=3, max_size=3)) + [0.8, 0.8])
    return coll, debt, lt


@settings(max_examples=300)
@given(accounts(), st.integers(0, 2), st.floats(0.0, 0.999))
def test_a_collateral_price_fall_never_raises_the_plain_health_factor(acc, k, fall):
    coll, debt, lt = acc
    after = coll.copy()
    after[k] *= 1 - fall
    assert _hf(after, debt, lt, False) <= _hf(coll, debt, lt, False)


@settings(max_examples=300)
@given(accounts(), st.integers(3, 4), st.floats(0.0, 100.0), st.booleans())
def test_a_debt_price_rise_never_raises_the_health_factor(acc, k, rise, floors):
    coll, debt, lt = acc
    after = debt.copy()
    after[k] *= 1 + rise
    assert _hf(coll, after, lt, floors) <= _hf(coll, debt, lt, floors)


def test_aave_bps_floor_lets_a_collateral_fall_raise_the_health_factor():
    # A $10,000 at LT 0.80 and B $10,000.40 at LT 0.50, debt $12,000:
    #   avg LT = 13,000.20 / 20,000.40 = 0.6499925 -> floored to 6,499 bps
    #   HF = 20,000.40 * 0.6499 / 12,000 = 1.0831883
    # B falls 0.004 % to $10,000: avg LT = 13,000 / 20,000 = 0.65 exactly -> 6,500 bps
    #   HF = 20,000 * 0.65 / 12,000 = 1.0833333  (higher: GenericLogic floors the average LT)
    lt, debt = [0.80, 0.50], [12_000.0, 0.0]
    before = _hf([10_000.0, 10_000.4], debt, lt, True)
    after = _hf([10_000.0, 10_000.0], debt, lt, True)
    assert before == pytest.approx(20_000.4 * 0.6499 / 12_000, rel=1e-12)
    assert after == pytest.approx(13_000 / 12_000, rel=1e-12)
    assert after > before


@settings(max_examples=300)
@given(accounts(), st.integers(0, 2), st.floats(0.0, 0.999))
def test_a_collateral_price_fall_raises_the_aave_health_factor_by_at_most_one_bps_of_collateral(acc, k, fall):
    # floored HF <= exact HF <= floored HF + 1e-4 * collateral / debt, and the exact HF is monotone
    coll, debt, lt = acc
    after = coll.copy()
    after[k] *= 1 - fall
    slack = 1e-4 * coll.sum() / debt.sum()
    assert _hf(after, debt, lt, True) <= _hf(coll, debt, lt, True) + slack * (1 + 1e-9)


# ------------------------------------------------------------ one liquidation and the bonus
# Exact HF = W / D with W = sum(C_i * LT_i). Repaying r (USD) of debt and seizing r(1 + b) of
# collateral c: HF' = (W - r(1+b)LT_c) / (D - r), and HF' < HF  <=>  W < (1+b) LT_c D
#                                                            <=>  HF < LT_c (1 + b).

def _liquidate(terms, coll_usd, debt_usd, lt, bonus, d, c, size):
    price = np.ones(len(coll_usd))
    p = Params(np.asarray(bonus, float), np.zeros(len(coll_usd)), np.full(len(coll_usd), 0.5))
    hf = health_factor_one(coll_usd, debt_usd, lt, False)
    repay, taken, _ = terms(hf, d, c, coll_usd, debt_usd, price, p, size)
    coll2, debt2 = coll_usd.copy(), debt_usd.copy()
    coll2[c] -= taken
    debt2[d] -= repay
    return hf, health_factor_one(coll2, debt2, lt, False), repay


def test_a_liquidation_above_lt_times_one_plus_bonus_raises_the_health_factor():
    # $1,000 WETH at LT 0.80, bonus 5 %; $850 USDC debt: HF = 800 / 850 = 0.941 > 0.80 * 1.05 = 0.84
    # half of the close amount (HF < 0.95: close factor 1): repay 425, seize 446.25
    # HF' = (1,000 - 446.25) * 0.80 / (850 - 425) = 443 / 425 = 1.0424
    hf, after, repay = _liquidate(aave_v3_terms, np.array([1000.0, 0.0]), np.array([0.0, 850.0]),
                                  np.array([0.8, 0.8]), [0.05, 0.05], 1, 0, 0.5)
    assert repay == pytest.approx(425.0)
    assert hf == pytest.approx(800 / 850) and after == pytest.approx(443 / 425)
    assert after > hf


def test_a_liquidation_below_lt_times_one_plus_bonus_lowers_the_health_factor():
    # $1,000 WETH at LT 0.80, bonus 5 %; $1,000 USDC debt: HF = 0.80 < 0.84
    # repay 500, seize 525: HF' = 475 * 0.80 / 500 = 0.76
    hf, after, _ = _liquidate(aave_v3_terms, np.array([1000.0, 0.0]), np.array([0.0, 1000.0]),
                              np.array([0.8, 0.8]), [0.05, 0.05], 1, 0, 0.5)
    assert hf == pytest.approx(0.8) and after == pytest.approx(0.76)
    assert after < hf


@settings(max_examples=300)
@given(accounts(), st.integers(0, 2), st.integers(3, 4), st.floats(0.0, 0.2),
       st.sampled_from([1.0, 0.5, 0.25, 0.1]), st.sampled_from([aave_v3_terms, compound_v2_terms]))
def test_a_liquidation_lowers_the_health_factor_iff_hf_is_below_lt_times_one_plus_bonus(acc, c, d, b, size, terms):
    coll, debt, lt = acc
    bonus = np.full(5, b)
    assume(lt[c] * (1 + b) <= 1)                         # the markets table refuses the rest
    hf = health_factor_one(coll, debt, lt, False)
    assume(hf < 1)
    threshold = lt[c] * (1 + b)
    assume(abs(hf - threshold) > 1e-9 * threshold)       # away from the tie, where rounding decides
    before, after, repay = _liquidate(terms, coll, debt, lt, bonus, d, c, size)
    assume(repay > 0)
    assert np.isfinite(after)                            # two debt reserves: one call never clears both
    assert (after < before) == (before < threshold)


# ------------------------------------------------------------ a whole replay

@pytest.fixture(scope="module")
def scenario():
    return load_scenario(str(SCENARIO))


@pytest.fixture(scope="module")
def lake(base_lake):
    return base_lake


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([0.05, 0.3, 1.0]),
       bonus=st.sampled_from(["", "liquidation_bonus=0.1"]), close=st.sampled_from(["", "close_factor=1"]))
def test_a_replay_conserves_collateral_and_debt_and_liquidates_only_below_hf_one(lake, scenario, seed, scale,
                                                                                   bonus, close):
    sets = [f"pool_depth_scale={scale}", *[s for s in (bonus, close) if s]]
    if bonus:
        sets.append("liquidation_threshold=0.8")          # 0.8 * 1.1 = 0.88 <= 1, so the markets allow it
    config = make_config(scenario, lake, sets)
    inputs = load_inputs(config, scenario)
    book = inputs.book
    rng = np.random.default_rng(seed)                     # reshape the book: each account's collateral x U(0.7, 1.3)
    book = replace(book, collateral=book.collateral * rng.uniform(0.7, 1.3, size=(len(book.accounts), 1)))
    out = replay(replace(inputs, book=book), config)
    rows = out.liquidations.to_pandas()

    assert (rows["health_factor_before"] < 1).all()
    assert (out.collateral >= -1e-9 * book.collateral.max()).all() and (out.debt >= -1e-9 * book.debt.max()).all()
    # per (protocol, asset): a liquidation row names those; an e-mode reserve counts with its asset's own
    keys = list(dict.fromkeys(zip(book.reserve_protocol, book.assets)))
    reserve = {k: j for j, k in enumerate(keys)}
    key_of = np.array([reserve[k] for k in zip(book.reserve_protocol, book.assets)])
    seized = np.zeros(len(reserve))
    repaid = np.zeros(len(reserve))
    for (p, a), v in rows.groupby(["protocol", "collateral_asset"])["collateral_seized"].sum().items():
        seized[reserve[(p, a)]] += v
    for (p, a), v in rows.groupby(["protocol", "debt_asset"])["debt_repaid"].sum().items():
        repaid[reserve[(p, a)]] += v
    coll_out = np.bincount(key_of, book.collateral.sum(axis=0) - out.collateral.sum(axis=0), len(keys))
    debt_out = np.bincount(key_of, book.debt.sum(axis=0) - out.debt.sum(axis=0), len(keys))
    np.testing.assert_allclose(coll_out, seized, rtol=1e-9, atol=1e-6 * book.collateral.sum(axis=0).max())
    burns = np.array([p == "aave-v3.3" for p, _ in keys])   # v3.3 burns the deficit
    tol = 1e-6 * book.debt.sum(axis=0).max()
    np.testing.assert_allclose(debt_out[~burns], repaid[~burns], rtol=1e-9, atol=tol)
    assert (debt_out[burns] >= repaid[burns] - tol).all()

    # the bonus condition, row by row, where HF is exact (Compound v2: no bps floor, no burn)
    comp = rows[(rows["protocol"] == "compound-v2") & np.isfinite(rows["health_factor_after"])]
    column = {(p, a): j for j, (p, a) in enumerate(zip(book.reserve_protocol, book.assets))
              if p == "compound-v2"}                      # no e-mode: one column per asset
    j = [column[("compound-v2", a)] for a in comp["collateral_asset"]]
    threshold = book.liquidation_threshold[j] * (1 + book.liquidation_bonus[j])
    before, after = comp["health_factor_before"].to_numpy(), comp["health_factor_after"].to_numpy()
    clear = np.abs(before - threshold) > 1e-9
    assert ((after < before) == (before < threshold))[clear].all()


def _bad_debt(lake: Path, scale: float, feedback: bool = True, *more: str) -> float:
    scenario = load_scenario(str(SCENARIO))
    config = make_config(scenario, lake, [f"pool_depth_scale={scale}", *more])
    inputs = load_inputs(config, scenario)
    out = replay(inputs, config, feedback=feedback)
    return compute(inputs, out, out)["bad_debt_usd"]


def test_more_price_impact_can_lower_bad_debt(tmp_path):
    # Counterexample to "bad debt is non-decreasing in price impact": sample seed 7, 200 accounts,
    # pools at 3 % of the sample's depth. With the reference market's impact at 4x its calibration
    # $3,565 of bad debt is left, at 1x $3,782 (since arbitrage meets, 4ccbb91; before it seed 20 made
    # it, $3,000 against $4,700, and now gives $4,560 against $4,551; seeds 1-24 searched, 7 the only one
    # by more than $100). The mechanism, as worked out on the earlier seed: with more impact our flow pushes the oracle down sooner, so accounts are
    # liquidated earlier, while HF > LT(1+b) and a liquidation still raises HF; with less, the same
    # accounts cross HF 1 only after the next exogenous gap, at HF < LT(1+b), where the bonus eats the rest.
    from backtest.sample.lake import write_sample_lake
    write_sample_lake(tmp_path, seed=7, n_accounts=200)
    more, less = _bad_debt(tmp_path, 0.03, True, "impact.scale=4"), _bad_debt(tmp_path, 0.03, True, "impact.scale=1")
    assert less > more + 100


@pytest.mark.parametrize("scale", [0.01, 0.3, 3.0])
def test_without_feedback_bad_debt_does_not_depend_on_pool_depth(lake, scale):
    # The weaker statement that holds: the counterfactual fills at mid less the pool fee and never
    # moves a price, so depth cannot change what is liquidated, when, or at what oracle price.
    assert _bad_debt(lake, scale, feedback=False) == _bad_debt(lake, 1.0, feedback=False)
