"""Engine vs deployed Aave v3 Pool (npm @aave/core-v3 1.19.3) on seeded random books.

Each case: one account supplies 1-4 collaterals and borrows 1-3 assets within its LTV, the
feeds move, then the Pool is asked (getUserAccountData) or acted on (liquidationCall). The
engine gets the same book and prices. Integer functions must agree exactly; float functions
within 1e-9 relative.
"""

from __future__ import annotations

import numpy as np

from backtest.devnet.positions import MAX_UINT, account_data, balances, liquidate
from backtest.protocols.aave import v3 as aave_v3
from chain_helpers import WAD, fund, book_arrays, engine_terms, float_rel, fund_liquidator, liquidatable_case, open_and_shock, rel

CASES = 300
BORROWER_INDEX, LIQUIDATOR_INDEX = 2, 3


def test_health_factor_matches_getUserAccountData(net, record):
    chain = net.chain
    market = net.aave_v3
    borrower = chain.accounts[BORROWER_INDEX]
    fund(net, market, borrower)
    rng = np.random.default_rng(20261125)
    worst_float, below_one = 0.0, 0
    for case in range(CASES):
        snap = chain.snapshot()
        loan, answers = open_and_shock(net, rng, market, borrower, sigma=0.35)
        onchain = account_data(net, market, borrower)
        syms, coll, debt, prices, dec, lt, coll_usd, debt_usd, lt_frac = book_arrays(net, loan, answers)
        # zero interest rates: balances are exactly what was supplied and borrowed
        assert balances(net, market, borrower) == ({s: c for s, c in zip(syms, coll)}, {s: d for s, d in zip(syms, debt)})
        exact = aave_v3.account_data_exact(coll, debt, prices, dec, lt)
        assert exact == (onchain.total_collateral, onchain.total_debt, onchain.liquidation_threshold,
                         onchain.health_factor), f"case {case}: {loan} at {answers}"
        hf_float = float(aave_v3.health_factor(coll_usd, debt_usd, lt_frac)[0])
        worst_float = max(worst_float, rel(hf_float, onchain.health_factor / WAD))
        below_one += onchain.health_factor < WAD
        chain.revert(snap)
    record("aave_v3_health_factor", cases=CASES, exact_mismatches=0, max_rel_diff_float=worst_float,
           accounts_below_hf_1=below_one)
    assert below_one > CASES // 10, "the price shocks should push a fair share of accounts under HF 1"
    assert worst_float <= 1e-9


def test_liquidation_call_matches_liquidation_exact(net, record):
    """Debt repaid, collateral to the liquidator and the treasury's fee, for a real liquidationCall."""
    chain, market = net.chain, net.aave_v3
    borrower, liquidator = chain.accounts[BORROWER_INDEX], chain.accounts[LIQUIDATOR_INDEX]
    fund(net, market, borrower)
    fund_liquidator(net, market, liquidator)
    rng = np.random.default_rng(7)
    worst = {"debt_repaid": 0.0, "collateral_seized": 0.0, "protocol_fee": 0.0}
    capped = full_close = 0
    worst_units = 0.0
    for case in range(CASES):
        snap = chain.snapshot()
        loan, answers = liquidatable_case(net, rng, market, borrower, (0.55, 0.999))
        syms, coll, debt, prices, dec, lt, coll_usd, debt_usd, lt_frac = book_arrays(net, loan, answers)
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

        # The float path the engine runs: HF -> close factor -> RULES["aave-v3"].terms, the call the
        # liquidator makes. The contract repays a whole number of base units (percentMul rounds half
        # up), so the float close-factor amount may differ by half a unit; the terms are then asked
        # for the same debt the contract worked from.
        hf = float(aave_v3.health_factor(coll_usd, debt_usd, lt_frac)[0])
        actual_float = min(to_cover, float(aave_v3.close_factor(hf)) * debt_bal)
        actual_exact = min(to_cover, aave_v3.percent_mul(debt_bal, aave_v3.DEFAULT_LIQUIDATION_CLOSE_FACTOR
                           if hf_wad > aave_v3.CLOSE_FACTOR_HF_THRESHOLD else aave_v3.MAX_LIQUIDATION_CLOSE_FACTOR))
        assert abs(actual_float - actual_exact) <= 0.5 + 1e-12 * actual_exact
        repaid, taken, fee = engine_terms("aave-v3", hf, debt_bal / 10**d.decimals, answers[d_sym] / 1e8,
                                          loan.collateral[c_sym] / 10**c.decimals, answers[c_sym] / 1e8,
                                          c.params.liquidation_bonus / 10_000 - 1, c.params.protocol_fee / 10_000,
                                          actual_exact / 10**d.decimals)
        # Under 1e10 base units the contract's truncation to whole units exceeds 1e-10 relative:
        # there the difference is bounded in base units instead.
        for key, value, exact, decimals in (("debt_repaid", repaid, got.debt_repaid, d.decimals),
                                            ("collateral_seized", taken, got.collateral_seized, c.decimals),
                                            ("protocol_fee", fee, got.protocol_fee, c.decimals)):
            if exact >= 10**10:
                worst[key] = max(worst[key], float_rel(float(value), exact, decimals))
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
    fund(net, market, borrower)
    fund_liquidator(net, market, liquidator)
    rng = np.random.default_rng(95)
    regimes = {aave_v3.DEFAULT_LIQUIDATION_CLOSE_FACTOR: 0, aave_v3.MAX_LIQUIDATION_CLOSE_FACTOR: 0}
    float_disagreements = 0
    for case in range(CASES):
        snap = chain.snapshot()
        loan, answers = liquidatable_case(net, rng, market, borrower, (0.93, 0.97))
        syms, coll, debt, prices, dec, lt, coll_usd, debt_usd, lt_frac = book_arrays(net, loan, answers)
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
