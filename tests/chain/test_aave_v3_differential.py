"""Engine vs deployed Aave v3 Pool (npm @aave/core-v3 1.19.3) on seeded random books.

Each case: one account supplies 1-4 collaterals and borrows 1-3 assets within its LTV, the
feeds move, then the Pool is asked (getUserAccountData) or acted on (liquidationCall). The
engine gets the same book and prices. Integer functions must agree exactly; float functions
within 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

from backtest.devnet.book import random_loan, shocked_prices, units
from backtest.devnet.builder import price_answer
from backtest.devnet.positions import MAX_UINT, account_data, approve_all, balances, open_position
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
