"""Engine vs the real Morpho Blue (npm @morpho-org/morpho-blue 1.0.0, compiled with npm solc 0.8.19).

Each seeded case opens one market (random collateral/loan pair, LLTV, interest rate and fee),
a supplier, the borrower under test and a second borrower (so the market's totals are not the
borrower's own), lets interest accrue for up to two years (virtual shares then convert at a
non-trivial rate), freezes the rate, and moves the oracle. Integer functions
(`morpho_blue.exact`) must give the contract's integers; float functions (`morpho_blue.maths`)
agree within 1e-9 relative where amounts are at least 1e10 base units.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from eth_utils import keccak

from backtest.devnet.chain import Chain
from backtest.devnet.morpho import LLTVS, MAX_UINT, create_market, deploy_morpho, deploy_tokens, fund, oracle_price
from backtest.protocols.morpho_blue import MarketState, Position, exact, maths
from backtest.protocols.morpho_blue.params import MAX_FEE, ORACLE_PRICE_SCALE, WAD

CASES = 300
DECIMALS = {"WETH": 18, "WBTC": 8, "USDC": 6, "DAI": 18}
USD = {"WETH": 2_000.0, "WBTC": 30_000.0, "USDC": 1.0, "DAI": 1.0}
PAIRS = (("WETH", "USDC"), ("WBTC", "USDC"), ("WETH", "DAI"), ("WBTC", "WETH"), ("DAI", "USDC"))
LIQUIDATE_TOPIC = "0x" + keccak(text="Liquidate(bytes32,address,address,uint256,uint256,uint256,uint256,uint256)").hex()
SECONDS_PER_YEAR = 365 * 24 * 3600


@pytest.fixture(scope="module")
def blue(anvil):
    """Tokens, Morpho, one oracle per pair; rolled back when the module ends (the node is shared)."""
    chain = Chain(anvil.url)
    snap = chain.snapshot()
    tokens = deploy_tokens(chain, DECIMALS)
    mb = deploy_morpho(chain)
    supplier, borrower, other, liquidator = chain.accounts[4:8]
    fund(mb, tokens, [supplier, borrower, other, liquidator])
    try:
        yield mb, tokens, (supplier, borrower, other, liquidator)
    finally:
        chain.revert(snap)


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def open_case(blue, rng):
    """A market with one borrower at 50-100 % of max borrow, after random interest; rate then 0."""
    mb, tokens, (supplier, borrower, other, _liq) = blue
    chain = mb.chain
    coll, loan = PAIRS[rng.integers(len(PAIRS))]
    lltv = int(rng.choice(LLTVS))
    price0 = oracle_price(USD[coll] / USD[loan], DECIMALS[coll], DECIMALS[loan])
    market = create_market(mb, tokens[loan], tokens[coll], lltv, price0)
    rate = int(rng.uniform(0.0, 2.0) / SECONDS_PER_YEAR * WAD)         # 0-200 % a year, per second
    fee = int(rng.uniform(0, MAX_FEE)) if rng.random() < 0.6 else 0
    calls = [(mb.irm.functions.setRate(rate), None)]
    if fee:
        calls.append((mb.call("setFee", market, fee), None))
    chain.send_many(calls)
    collateral = int(10 ** rng.uniform(DECIMALS[coll] - 2, DECIMALS[coll] + 6))
    other_coll = int(10 ** rng.uniform(DECIMALS[coll], DECIMALS[coll] + 6))
    limit = exact.max_borrow(collateral, price0, lltv)
    debt = max(int(limit * rng.uniform(0.5, 0.999)), 1)
    other_debt = int(exact.max_borrow(other_coll, price0, lltv) * rng.uniform(0.0, 0.5)) + 1
    supplied = int((debt + other_debt) * rng.uniform(1.05, 3.0))
    chain.send_many([(mb.call("supply", market, supplied, 0, supplier, b""), supplier),
                     (mb.call("supplyCollateral", market, collateral, borrower, b""), borrower),
                     (mb.call("supplyCollateral", market, other_coll, other, b""), other)])
    chain.send_many([(mb.call("borrow", market, debt, 0, borrower, borrower), borrower),
                     (mb.call("borrow", market, other_debt, 0, other, other), other)])
    chain.mine(int(rng.integers(1, 2 * SECONDS_PER_YEAR)))
    before = mb.state(market)
    # accrue at `rate`, then freeze: the liquidation's own accrual adds nothing, so the state read
    # here is the state the contract works from
    chain.send_many([(mb.call("accrueInterest", market), None), (mb.irm.functions.setRate(0), None)])
    after = mb.state(market)
    expected, _interest, _fee_shares = exact.accrue_interest(before, rate, after.last_update - before.last_update)
    assert expected == after, f"accrual: {before} at {rate} -> {after}"
    return market, coll, loan, lltv, price0


def boundary_price(position: Position, state: MarketState, lltv: int) -> int:
    """Smallest oracle price at which the position is healthy (binary search over exact.is_healthy)."""
    lo, hi = 1, 10**60
    while lo < hi:
        mid = (lo + hi) // 2
        if exact.is_healthy(position, state, mid, lltv):
            hi = mid
        else:
            lo = mid + 1
    return lo


def test_market_id_and_health_match_the_contract(blue, record):
    mb, _tokens, (_s, borrower, _o, liquidator) = blue
    chain = mb.chain
    rng = np.random.default_rng(20261206)
    healthy = worst_float = 0.0
    for case in range(CASES):
        snap = chain.snapshot()
        market, coll, loan, lltv, _p0 = open_case(blue, rng)
        assert chain.call_many([mb.morpho.functions.idToMarketParams(market.id)])[0][4] == lltv, \
            f"case {case}: the contract has no market under our id {market.id}"
        state, pos = mb.state(market), mb.position(market, borrower)
        edge = boundary_price(pos, state, lltv)
        # half the cases within a few units of the exact boundary, half within +-30 %
        price = edge + int(rng.integers(-3, 4)) if rng.random() < 0.5 else int(edge * rng.uniform(0.7, 1.3))
        chain.send(market.oracle.functions.setPrice(price))
        ours = exact.is_healthy(pos, state, price, lltv)
        reason = chain.revert_reason(mb.call("liquidate", market, borrower, 1, 0, b""), liquidator)
        theirs = reason is not None and "position is healthy" in reason
        assert ours == theirs, f"case {case}: healthy {ours} vs contract ({reason}) at price {price}"
        assert (reason is None) == (not ours), f"case {case}: unexpected revert {reason}"
        healthy += ours
        borrowed = exact.borrowed(pos, state)
        hf = maths.health_factor(borrowed, pos.collateral, price / ORACLE_PRICE_SCALE, lltv / WAD)
        hf_exact = exact.max_borrow(pos.collateral, price, lltv) / borrowed
        if borrowed >= 10**10:
            worst_float = max(worst_float, rel(float(hf), hf_exact))
        chain.revert(snap)
    record("morpho_blue_health", cases=CASES, healthy=int(healthy), exact_mismatches=0,
           max_rel_diff_float=worst_float)
    assert 0.2 * CASES < healthy < 0.8 * CASES, "cases should fall on both sides of the boundary"
    assert worst_float <= 1e-9


def test_liquidate_matches_the_contract(blue, record):
    """seizedAssets or repaidShares given: amounts, bad debt and the market's totals after, exactly."""
    mb, _tokens, (_s, borrower, _o, liquidator) = blue
    chain = mb.chain
    rng = np.random.default_rng(7)
    counts = {"seize": 0, "repay_shares": 0, "bad_debt": 0, "reverted": 0}
    worst = {"repaid": 0.0, "seized": 0.0, "bad_debt": 0.0}
    for case in range(CASES):
        snap = chain.snapshot()
        market, coll, loan, lltv, price0 = open_case(blue, rng)
        state, pos = mb.state(market), mb.position(market, borrower)
        edge = boundary_price(pos, state, lltv)
        price = max(int(edge * rng.uniform(0.5, 0.9999)), 1)
        chain.send(market.oracle.functions.setPrice(price))
        if rng.random() < 0.5:
            kind = "seize"
            seized = pos.collateral if rng.random() < 0.4 else max(int(pos.collateral * rng.uniform(0.01, 1.0)), 1)
            args = dict(seized_assets=seized)
        else:
            kind = "repay_shares"
            share = pos.borrow_shares if rng.random() < 0.3 else max(int(pos.borrow_shares * rng.uniform(0.01, 1.0)), 1)
            args = dict(repaid_shares=share)
        call = mb.call("liquidate", market, borrower, args.get("seized_assets", 0), args.get("repaid_shares", 0), b"")
        try:
            want = exact.liquidate(state, pos, price, lltv, **args)
        except exact.Reverts as exc:
            assert chain.revert_reason(call, liquidator) is not None, f"case {case}: we revert ({exc}), the contract not"
            counts["reverted"] += 1
            chain.revert(snap)
            continue
        receipt = chain.send(call, liquidator)
        log = next(x for x in receipt["logs"] if x["topics"][0] == LIQUIDATE_TOPIC)
        data = bytes.fromhex(log["data"][2:])
        got = [int.from_bytes(data[i:i + 32], "big") for i in range(0, 160, 32)]
        assert got == [want.repaid_assets, want.repaid_shares, want.seized_assets, want.bad_debt_assets,
                       want.bad_debt_shares], f"case {case}: {kind} {args} on {state} {pos} at {price}"
        # lastUpdate moves with the call's own (zero-rate) accrual; every total must be equal
        assert replace(mb.state(market), last_update=0) == replace(want.market, last_update=0), \
            f"case {case}: market totals after"
        assert mb.position(market, borrower) == want.position, f"case {case}: position after"
        counts[kind] += 1
        counts["bad_debt"] += want.bad_debt_assets > 0
        # the float twin on the same book
        p = price / ORACLE_PRICE_SCALE
        borrowed = exact.borrowed(pos, state)
        # each side's truncation to whole base units bounds the agreement: compare where both are >= 1e10
        big = min(want.repaid_assets, want.seized_assets) >= 10**10
        if kind == "seize" and big:
            worst["repaid"] = max(worst["repaid"], rel(float(maths.repay_for_seize(want.seized_assets, p, lltv / WAD)),
                                                       want.repaid_assets))
        if kind == "repay_shares" and big:
            worst["seized"] = max(worst["seized"], rel(float(maths.seize_for_repay(
                exact.to_assets_down(want.repaid_shares, state.total_borrow_assets, state.total_borrow_shares),
                p, lltv / WAD)), want.seized_assets))
        if want.position.collateral == 0 and big and want.bad_debt_assets >= 10**10:
            f = maths.liquidate(borrowed, borrowed, pos.collateral, p, lltv / WAD)
            worst["bad_debt"] = max(worst["bad_debt"], rel(float(f.bad_debt[0] if f.bad_debt.ndim else f.bad_debt),
                                                           want.bad_debt_assets))
        chain.revert(snap)
    record("morpho_blue_liquidate", cases=CASES, exact_mismatches=0, **counts,
           **{f"max_rel_diff_float_{k}": v for k, v in worst.items()})
    assert counts["bad_debt"] > CASES // 10, "seizing all collateral of underwater positions should realise bad debt"
    assert counts["seize"] > CASES // 4 and counts["repay_shares"] > CASES // 5
    assert max(worst.values()) <= 1e-9
