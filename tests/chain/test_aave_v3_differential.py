"""Engine vs deployed Aave v3 Pool (npm @aave/core-v3 1.19.3) on seeded random books.

Each case: one account supplies 1-4 collaterals and borrows 1-3 assets within its LTV, the
feeds move, then the Pool is asked (getUserAccountData) or acted on (liquidationCall). The
engine gets the same book and prices. Integer functions must agree exactly; float functions
within 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

from backtest.devnet.book import answers_for_health_factor, random_loan, shocked_prices
from backtest.devnet.builder import price_answer
from backtest.devnet.positions import MAX_UINT, account_data, approve_all, balances, liquidate, open_position
from backtest.protocols import aave_v3

CASES = 300
BORROWER_INDEX, LIQUIDATOR_INDEX = 2, 3
WAD = 10**18


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def _book_arrays(net, loan, answers):
    """Engine inputs over all assets in a fixed order: exact ints and float USD."""
    syms = sorted(net.assets)
    a = net.assets
    coll = [loan.collateral.get(s, 0) for s in syms]
    debt = [loan.debt.get(s, 0) for s in syms]
    prices = [answers[s] for s in syms]
    dec = [a[s].decimals for s in syms]
    lt = [a[s].params.liquidation_threshold for s in syms]
    coll_usd = np.array([[c / 10**d * p / 1e8 for c, d, p in zip(coll, dec, prices)]])
    debt_usd = np.array([[x / 10**d * p / 1e8 for x, d, p in zip(debt, dec, prices)]])
    return syms, coll, debt, prices, dec, lt, coll_usd, debt_usd, np.array(lt) / 10_000


def _open_and_shock(net, rng, market, account, sigma=0.25):
    """Open a random loan at the deployment prices, then move every feed; returns (loan, answers)."""
    base = {s: a.price_usd for s, a in net.assets.items()}
    loan = random_loan(rng, net.assets, base)
    open_position(net, market, account, loan.collateral, loan.debt)
    new = shocked_prices(rng, base, sigma)
    answers = {s: price_answer(p) for s, p in new.items()}
    net.set_prices(answers)
    return loan, answers


def test_health_factor_matches_getUserAccountData(net, record):
    chain = net.chain
    market = net.aave_v3
    borrower = chain.accounts[BORROWER_INDEX]
    approve_all(net, market, borrower)
    rng = np.random.default_rng(20261125)
    worst_float, below_one = 0.0, 0
    for case in range(CASES):
        snap = chain.snapshot()
        loan, answers = _open_and_shock(net, rng, market, borrower, sigma=0.35)
        onchain = account_data(net, market, borrower)
        syms, coll, debt, prices, dec, lt, coll_usd, debt_usd, lt_frac = _book_arrays(net, loan, answers)
        # zero interest rates: balances are exactly what was supplied and borrowed
        assert balances(net, market, borrower) == ({s: c for s, c in zip(syms, coll)}, {s: d for s, d in zip(syms, debt)})
        exact = aave_v3.account_data_exact(coll, debt, prices, dec, lt)
        assert exact == (onchain.total_collateral, onchain.total_debt, onchain.liquidation_threshold,
                         onchain.health_factor), f"case {case}: {loan} at {answers}"
        hf_float = float(aave_v3.health_factor(coll_usd, debt_usd, lt_frac)[0])
        worst_float = max(worst_float, _rel(hf_float, onchain.health_factor / WAD))
        below_one += onchain.health_factor < WAD
        chain.revert(snap)
    record("aave_v3_health_factor", cases=CASES, exact_mismatches=0, max_rel_diff_float=worst_float,
           accounts_below_hf_1=below_one)
    assert below_one > CASES // 10, "the price shocks should push a fair share of accounts under HF 1"
    assert worst_float <= 1e-9


def _fund_liquidator(net, market, liquidator):
    """Plenty of every asset, approved to the pool (inside the test's snapshot)."""
    net.chain.send_many([(t.functions.mint(liquidator, 10**40), None) for t in net.tokens.values()])
    approve_all(net, market, liquidator)


def _liquidatable_case(net, rng, market, borrower, hf_range):
    """Open a disjoint loan, move the feeds so its HF lands in hf_range; returns (loan, answers, hf_wad)."""
    base = {s: a.price_usd for s, a in net.assets.items()}
    loan = random_loan(rng, net.assets, base, disjoint=True)
    open_position(net, market, borrower, loan.collateral, loan.debt)
    shocked = {s: price_answer(p) for s, p in shocked_prices(rng, base, 0.2).items()}
    answers = answers_for_health_factor(loan, net.assets, shocked, float(rng.uniform(*hf_range)))
    net.set_prices(answers)
    return loan, answers


def _float_rel(value: float, exact: int, decimals: int) -> float:
    """Relative difference of a float amount (token units) to an exact one (base units)."""
    return abs(value - exact / 10**decimals) / max(exact / 10**decimals, 1e-300)


def test_liquidation_call_matches_liquidation_exact(net, record):
    """Debt repaid, collateral to the liquidator and the treasury's fee, for a real liquidationCall."""
    chain, market = net.chain, net.aave_v3
    borrower, liquidator = chain.accounts[BORROWER_INDEX], chain.accounts[LIQUIDATOR_INDEX]
    approve_all(net, market, borrower)
    _fund_liquidator(net, market, liquidator)
    rng = np.random.default_rng(7)
    worst = {"debt_repaid": 0.0, "collateral_seized": 0.0, "protocol_fee": 0.0}
    capped = full_close = 0
    worst_units = 0.0
    for case in range(CASES):
        snap = chain.snapshot()
        loan, answers = _liquidatable_case(net, rng, market, borrower, (0.55, 0.999))
        syms, coll, debt, prices, dec, lt, coll_usd, debt_usd, lt_frac = _book_arrays(net, loan, answers)
        hf_wad = aave_v3.account_data_exact(coll, debt, prices, dec, lt)[3]
        assert hf_wad < WAD, f"case {case}: the price move should make the account liquidatable"
        c_sym = str(rng.choice(sorted(loan.collateral)))
        d_sym = str(rng.choice(sorted(loan.debt)))
        c, d = net.assets[c_sym], net.assets[d_sym]
        debt_bal = loan.debt[d_sym]
        to_cover = MAX_UINT if rng.random() < 0.3 else int(debt_bal * rng.uniform(0.01, 1.2))
        expected = aave_v3.liquidation_exact(
            to_cover, debt_bal, hf_wad, loan.collateral[c_sym], answers[c_sym], answers[d_sym],
            c.decimals, d.decimals, c.params.liquidation_bonus, c.params.protocol_fee)
        got = liquidate(net, market, liquidator, borrower, c_sym, d_sym, to_cover, bool(rng.random() < 0.5))
        assert (got.debt_repaid, got.collateral_seized - got.protocol_fee, got.protocol_fee) == expected, \
            f"case {case}: {loan}, {answers}, {c_sym}<-{d_sym} cover {to_cover}"
        capped += got.collateral_seized == loan.collateral[c_sym]
        full_close += hf_wad <= aave_v3.CLOSE_FACTOR_HF_THRESHOLD

        # The float path the engine runs: HF -> close factor -> seize. The contract repays a whole
        # number of base units (percentMul rounds half up), so the float close-factor amount may
        # differ by half a unit; seize is then fed the same debt the contract worked from.
        hf = float(aave_v3.health_factor(coll_usd, debt_usd, lt_frac)[0])
        actual_float = min(to_cover, float(aave_v3.close_factor(hf)) * debt_bal)
        actual_exact = min(to_cover, aave_v3.percent_mul(debt_bal, aave_v3.DEFAULT_LIQUIDATION_CLOSE_FACTOR
                           if hf_wad > aave_v3.CLOSE_FACTOR_HF_THRESHOLD else aave_v3.MAX_LIQUIDATION_CLOSE_FACTOR))
        assert abs(actual_float - actual_exact) <= 0.5 + 1e-12 * actual_exact
        repaid, taken, fee = aave_v3.seize(actual_exact / 10**d.decimals, answers[d_sym] / 1e8, answers[c_sym] / 1e8,
                                           loan.collateral[c_sym] / 10**c.decimals,
                                           c.params.liquidation_bonus / 10_000 - 1, c.params.protocol_fee / 10_000)
        # Under 1e10 base units the contract's truncation to whole units exceeds 1e-10 relative:
        # there the difference is bounded in base units instead.
        for key, value, exact, decimals in (("debt_repaid", repaid, got.debt_repaid, d.decimals),
                                            ("collateral_seized", taken, got.collateral_seized, c.decimals),
                                            ("protocol_fee", fee, got.protocol_fee, c.decimals)):
            if exact >= 10**10:
                worst[key] = max(worst[key], _float_rel(float(value), exact, decimals))
            else:
                worst_units = max(worst_units, abs(float(value) * 10**decimals - exact))
        chain.revert(snap)
    record("aave_v3_liquidation", cases=CASES, exact_mismatches=0, collateral_capped=capped,
           hf_at_or_below_0_95=full_close, max_abs_diff_float_base_units_below_1e10=worst_units,
           **{f"max_rel_diff_float_{k}": v for k, v in worst.items()})
    assert capped >= 10 and full_close >= 30, "the cases should cover capped collateral and the 100 % close factor"
    assert max(worst.values()) <= 1e-9
    assert worst_units <= 3.0


def test_close_factor_is_half_above_hf_095_and_all_below(net, record):
    """Repay 'everything' (uint256.max) from accounts around HF 0.95: the Pool takes 50 % or 100 %."""
    chain, market = net.chain, net.aave_v3
    borrower, liquidator = chain.accounts[BORROWER_INDEX], chain.accounts[LIQUIDATOR_INDEX]
    approve_all(net, market, borrower)
    _fund_liquidator(net, market, liquidator)
    rng = np.random.default_rng(95)
    regimes = {aave_v3.DEFAULT_LIQUIDATION_CLOSE_FACTOR: 0, aave_v3.MAX_LIQUIDATION_CLOSE_FACTOR: 0}
    float_disagreements = 0
    for case in range(CASES):
        snap = chain.snapshot()
        loan, answers = _liquidatable_case(net, rng, market, borrower, (0.93, 0.97))
        syms, coll, debt, prices, dec, lt, coll_usd, debt_usd, lt_frac = _book_arrays(net, loan, answers)
        hf_wad = aave_v3.account_data_exact(coll, debt, prices, dec, lt)[3]
        d_sym = max(loan.debt, key=lambda s: loan.debt[s] * answers[s] / 10**net.assets[s].decimals)
        c_sym = max(loan.collateral, key=lambda s: loan.collateral[s] * answers[s] / 10**net.assets[s].decimals)
        got = liquidate(net, market, liquidator, borrower, c_sym, d_sym, MAX_UINT)
        close = (aave_v3.DEFAULT_LIQUIDATION_CLOSE_FACTOR if hf_wad > aave_v3.CLOSE_FACTOR_HF_THRESHOLD
                 else aave_v3.MAX_LIQUIDATION_CLOSE_FACTOR)
        if got.collateral_seized < loan.collateral[c_sym]:     # not limited by the collateral
            # e.g. 1,000 USDC of debt at HF 0.951: percentMul(1000e6, 5000) = 500e6 repaid
            assert got.debt_repaid == aave_v3.percent_mul(loan.debt[d_sym], close), f"case {case}"
            regimes[close] += 1
        hf_float = float(aave_v3.health_factor(coll_usd, debt_usd, lt_frac)[0])
        float_disagreements += float(aave_v3.close_factor(hf_float)) * 10_000 != close
        chain.revert(snap)
    record("aave_v3_close_factor", cases=CASES, repaid_half=regimes[5_000], repaid_all=regimes[10_000],
           float_close_factor_disagreements=float_disagreements)
    assert min(regimes.values()) >= CASES // 5, regimes
    assert float_disagreements == 0
