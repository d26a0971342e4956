"""Engine vs deployed UniswapV2Pair (npm @uniswap/v2-core 1.0.1): getAmountOut/getAmountIn against real swaps.

The pair only checks the constant-product invariant with the 0.3 % fee (UniswapV2Pair.swap), so
the largest output it pays for an input is the exact answer: `out` must go through and `out + 1`
must revert with "UniswapV2: K"; likewise the smallest input for an output.
"""

from __future__ import annotations

import numpy as np

from backtest.devnet.uniswap import create_v2_pair
from backtest.markets import uniswap_v2

CASES = 300
TRADER_INDEX = 6
PAIRS = [("WETH", "WBTC"), ("WETH", "DAI"), ("WBTC", "DAI")]     # not seeded by seed_liquidity


def _log_uniform_int(rng, lo: float, hi: float) -> int:
    return int(10 ** rng.uniform(np.log10(lo), np.log10(hi)))


def test_get_amount_out_and_in_match_real_swaps(net, record):
    chain, uni = net.chain, net.uniswap
    trader = chain.accounts[TRADER_INDEX]
    by_address = {t.address: t for t in net.tokens.values()}
    rng = np.random.default_rng(2)
    worst_out = worst_in = 0.0
    checked = 0
    # empty pairs, created once; each case fills one with fresh reserves and is rolled back
    pairs = {ab: create_v2_pair(chain, uni, net.tokens[ab[0]], net.tokens[ab[1]]) for ab in PAIRS}
    token0 = dict(zip(PAIRS, chain.call_many([pairs[ab].functions.token0() for ab in PAIRS])))
    chain.send_many([(t.functions.mint(trader, 10**33), None) for t in net.tokens.values()])
    for case in range(CASES):
        snap = chain.snapshot()
        a, b = PAIRS[case % len(PAIRS)]
        pair = pairs[(a, b)]
        reserves = {net.tokens[a].address: _log_uniform_int(rng, 1e4, 1e30),
                    net.tokens[b].address: _log_uniform_int(rng, 1e4, 1e30)}
        sym_in, sym_out = (a, b) if rng.random() < 0.5 else (b, a)
        t_in, t_out = net.tokens[sym_in], net.tokens[sym_out]
        r_in, r_out = reserves[t_in.address], reserves[t_out.address]
        amount_in = max(1, int(r_in * 10 ** rng.uniform(-9, 1)))
        out = uniswap_v2.get_amount_out_exact(amount_in, r_in, r_out)
        if out == 0:          # the pair refuses a zero output; nothing to compare
            chain.revert(snap)
            continue
        zero_in = token0[(a, b)] == t_in.address
        outs = (lambda x: (0, x)) if zero_in else (lambda x: (x, 0))
        # one block: fill the pair (transfers + mint), then pay amount_in
        chain.send_many([(by_address[t].functions.transfer(pair.address, r), trader) for t, r in reserves.items()]
                        + [(pair.functions.mint(trader), trader),
                           (t_in.functions.transfer(pair.address, amount_in), trader)])
        reason = chain.revert_reason(pair.functions.swap(*outs(out + 1), trader, b""), trader)
        assert "UniswapV2: K" in (reason or ""), f"case {case}: out + 1 should break K, got {reason}"

        # getAmountIn: the smallest input that buys `want` (from the reserves after the swap above)
        r_in, r_out = r_in + amount_in, r_out - out
        want = max(1, int(r_out * rng.uniform(1e-9, 0.9)))
        need = uniswap_v2.get_amount_in_exact(want, r_in, r_out)
        before = chain.call_many([t_out.functions.balanceOf(trader)])[0]
        chain.send_many([(pair.functions.swap(*outs(out), trader, b""), trader),
                         (t_in.functions.transfer(pair.address, need - 1), trader)])
        assert chain.call_many([t_out.functions.balanceOf(trader)])[0] - before == out
        assert "UniswapV2: K" in (chain.revert_reason(pair.functions.swap(*outs(want), trader, b""), trader) or ""), \
            f"case {case}: one unit less than getAmountIn should not be enough"
        chain.send_many([(t_in.functions.transfer(pair.address, 1), trader),
                         (pair.functions.swap(*outs(want), trader, b""), trader)])
        checked += 1

        # float engine: within 1e-9 relative where the integer floor is below that (outputs >= 1e10 units)
        if out >= 10**10:
            worst_out = max(worst_out, abs(uniswap_v2.amount_out(float(amount_in), float(r_in - amount_in),
                                                                  float(r_out + out)) - out) / out)
        if need >= 10**10:
            worst_in = max(worst_in, abs(uniswap_v2.amount_in(float(want), float(r_in), float(r_out)) - need) / need)
        chain.revert(snap)
    record("uniswap_v2_swaps", cases=checked, exact_mismatches=0, max_rel_diff_float_amount_out=worst_out,
           max_rel_diff_float_amount_in=worst_in)
    assert checked >= 250
    assert max(worst_out, worst_in) <= 1e-9
