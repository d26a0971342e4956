"""Engine vs deployed Aave v2 LendingPool (npm @aave/protocol-v2 1.0.1), same books as the v3 tests.

v2 keeps a flat 50 % close factor and no protocol fee, and rounds the bonus before dividing
by the collateral price (backtest/protocols/aave/v2.py): these cases show the engine's v2
rules, not its v3 ones, are what the v2 contract does.
"""

from __future__ import annotations

import numpy as np

from backtest.devnet.positions import MAX_UINT, account_data, liquidate
from backtest.protocols.aave import v2 as aave_v2
from chain_helpers import WAD, fund, book_arrays, engine_terms, float_rel, fund_liquidator, liquidatable_case, open_and_shock, rel

CASES = 300
BORROWER_INDEX, LIQUIDATOR_INDEX = 4, 5


def test_health_factor_matches_v2_getUserAccountData(net, record):
    chain, market = net.chain, net.aave_v2
    borrower = chain.accounts[BORROWER_INDEX]
    fund(net, market, borrower)
    rng = np.random.default_rng(2020)
    worst_float = 0.0
    for case in range(CASES):
        snap = chain.snapshot()
        loan, answers = open_and_shock(net, rng, market, borrower, sigma=0.35)
        onchain = account_data(net, market, borrower)
        syms, coll, debt, prices, dec, lt, coll_usd, debt_usd, lt_frac = book_arrays(net, loan, answers)
        exact = aave_v2.account_data_exact(coll, debt, prices, dec, lt)
        assert exact == (onchain.total_collateral, onchain.total_debt, onchain.liquidation_threshold,
                         onchain.health_factor), f"case {case}: {loan} at {answers}"
        hf_float = float(aave_v2.health_factor(coll_usd, debt_usd, lt_frac)[0])
        worst_float = max(worst_float, rel(hf_float, onchain.health_factor / WAD))
        chain.revert(snap)
    record("aave_v2_health_factor", cases=CASES, exact_mismatches=0, max_rel_diff_float=worst_float)
    assert worst_float <= 1e-9


def test_v2_liquidation_call_matches_liquidation_exact(net, record):
    chain, market = net.chain, net.aave_v2
    borrower, liquidator = chain.accounts[BORROWER_INDEX], chain.accounts[LIQUIDATOR_INDEX]
    fund(net, market, borrower)
    fund_liquidator(net, market, liquidator)
    rng = np.random.default_rng(22)
    worst = {"debt_repaid": 0.0, "collateral_seized": 0.0}
    worst_units, capped, half_of_debt = 0.0, 0, 0
    for case in range(CASES):
        snap = chain.snapshot()
        # v2 has one close factor whatever the HF, so cases span HF 0.55 to 1
        loan, answers = liquidatable_case(net, rng, market, borrower, (0.55, 0.999))
        c_sym = str(rng.choice(sorted(loan.collateral)))
        d_sym = str(rng.choice(sorted(loan.debt)))
        c, d = net.assets[c_sym], net.assets[d_sym]
        debt_bal = loan.debt[d_sym]
        to_cover = MAX_UINT if rng.random() < 0.3 else int(debt_bal * rng.uniform(0.01, 1.2))
        expected = aave_v2.liquidation_exact(to_cover, debt_bal, loan.collateral[c_sym], answers[c_sym],
                                             answers[d_sym], c.decimals, d.decimals, c.params.liquidation_bonus)
        got = liquidate(net, market, liquidator, borrower, c_sym, d_sym, to_cover, bool(rng.random() < 0.5))
        assert got.protocol_fee == 0, "v2 has no liquidation protocol fee"
        assert (got.debt_repaid, got.collateral_seized) == expected, \
            f"case {case}: {loan}, {answers}, {c_sym}<-{d_sym} cover {to_cover}"
        capped += got.collateral_seized == loan.collateral[c_sym]
        # 1,000 units of debt: percentMul(1000, 5000) = 500 at most, at any HF below 1
        half_of_debt += got.debt_repaid == aave_v2.percent_mul(debt_bal, aave_v2.LIQUIDATION_CLOSE_FACTOR_PERCENT)

        # float: close factor on the same whole-unit debt the contract used, then the engine's own call
        # (RULES["aave-v2"].terms, as the liquidator makes it) asked for that debt; v2's close factor
        # is the same at any HF below 1, so the HF passed is any such one
        actual = min(to_cover, aave_v2.percent_mul(debt_bal, aave_v2.LIQUIDATION_CLOSE_FACTOR_PERCENT))
        actual_float = min(to_cover, float(aave_v2.max_repay(debt_bal)))
        assert abs(actual_float - actual) <= 0.5 + 1e-12 * actual
        repaid, taken, fee = engine_terms("aave-v2", 0.9, debt_bal / 10**d.decimals, answers[d_sym] / 1e8,
                                          loan.collateral[c_sym] / 10**c.decimals, answers[c_sym] / 1e8,
                                          c.params.liquidation_bonus / 10_000 - 1, 0.0, actual / 10**d.decimals)
        assert fee == 0.0
        for key, value, exact, decimals in (("debt_repaid", repaid, got.debt_repaid, d.decimals),
                                            ("collateral_seized", taken, got.collateral_seized, c.decimals)):
            if exact >= 10**10:
                worst[key] = max(worst[key], float_rel(float(value), exact, decimals))
            else:
                worst_units = max(worst_units, abs(float(value) * 10**decimals - exact))
        chain.revert(snap)
    record("aave_v2_liquidation", cases=CASES, exact_mismatches=0, collateral_capped=capped,
           repaid_half_of_reserve_debt=half_of_debt, max_abs_diff_float_base_units_below_1e10=worst_units,
           **{f"max_rel_diff_float_{k}": v for k, v in worst.items()})
    assert capped >= 10 and half_of_debt >= 30
    assert max(worst.values()) <= 1e-9
    assert worst_units <= 3.0
