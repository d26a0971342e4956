"""Shared pieces of the differential tests: engine inputs from a book, liquidatable cases, float comparison."""

from __future__ import annotations

import numpy as np

from backtest.devnet.book import answers_for_health_factor, random_loan, shocked_prices
from backtest.devnet.builder import price_answer
from backtest.devnet.positions import approve_all, open_position
from backtest.protocols.rules import RULES, Params

WAD = 10**18


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def book_arrays(net, loan, answers):
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


def open_and_shock(net, rng, market, account, sigma=0.25):
    """Open a random loan at the deployment prices, then move every feed; returns (loan, answers)."""
    base = {s: a.price_usd for s, a in net.assets.items()}
    loan = random_loan(rng, net.assets, base)
    open_position(net, market, account, loan.collateral, loan.debt, mint=False)
    new = shocked_prices(rng, base, sigma)
    answers = {s: price_answer(p) for s, p in new.items()}
    net.set_prices(answers)
    return loan, answers


def fund(net, market, account):
    """Plenty of every asset, approved to the pool (inside the test's snapshot): cases need no mints."""
    net.chain.send_many([(t.functions.mint(account, 10**40), None) for t in net.tokens.values()])
    approve_all(net, market, account)


fund_liquidator = fund


def liquidatable_case(net, rng, market, borrower, hf_range):
    """Open a disjoint loan, move the feeds so its HF lands in hf_range; returns (loan, answers)."""
    base = {s: a.price_usd for s, a in net.assets.items()}
    loan = random_loan(rng, net.assets, base, disjoint=True)
    open_position(net, market, borrower, loan.collateral, loan.debt, mint=False)
    shocked = {s: price_answer(p) for s, p in shocked_prices(rng, base, 0.2).items()}
    answers = answers_for_health_factor(loan, net.assets, shocked, float(rng.uniform(*hf_range)))
    net.set_prices(answers)
    return loan, answers


def float_rel(value: float, exact: int, decimals: int) -> float:
    """Relative difference of a float amount (token units) to an exact one (base units)."""
    return abs(value - exact / 10**decimals) / max(exact / 10**decimals, 1e-300)


def engine_terms(protocol: str, hf: float, debt: float, debt_price: float, collateral: float, collateral_price: float,
                 bonus: float, protocol_fee: float, repay: float):
    """(repaid, collateral taken, protocol fee) from the very call the replay makes (agents/liquidator.py
    -> RULES[protocol].terms), on a two-reserve row (0: the debt, 1: the collateral; token units), asked
    to repay `repay`, given as its share of the protocol's close-factor cap at `hf`."""
    rules = RULES[protocol]
    params = Params(bonus=np.array([0.0, bonus]), protocol_fee=np.array([0.0, protocol_fee]),
                    close_factor=np.array([0.5, 0.5]))
    cap = float(rules.max_close(np.array([hf]), params.close_factor)[0, 0]) * debt
    return rules.terms(hf, 0, 1, np.array([0.0, collateral]), np.array([debt, 0.0]),
                       np.array([debt_price, collateral_price]), params, repay / cap)
