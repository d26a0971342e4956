"""Uniswap v2 reserves, Uniswap v3 price/tick/liquidity/ticks and Chainlink rounds rebuilt from ingested
logs equal the contracts' getReserves, slot0, liquidity, ticks and latestRoundData at several blocks."""

from __future__ import annotations

import math

import numpy as np

from backtest.devnet.uniswap import add_v2_liquidity, create_v3_pool, v2_swap, v3_approve, v3_mint, v3_swap
from backtest.cli import main as cli
from backtest.devnet.artifacts import uniswap_v2
from backtest.ingest.pipeline import ingest
from backtest.ingest.rpc import RpcClient
from backtest.ingest.tables import chain_query, connect_chain
from backtest.lake.io import read_table

ARTIFACT_V2 = uniswap_v2("UniswapV2Pair")
SPACING = 60      # fee 3000 (UniswapV3Factory constructor: feeAmountTickSpacing[3000] = 60)


def v3_pool(net, trader):
    """The devnet's WETH/USDC 0.3% pool if it seeds one, else a new one at about 2,000 USDC per WETH."""
    weth, usdc = net.tokens["WETH"], net.tokens["USDC"]
    pool = net.uniswap.v3_pools.get(("WETH", "USDC", 3000))
    if pool is None:
        weth_is_0 = int(weth.address, 16) < int(usdc.address, 16)
        raw = 2_000 * 10**6 / 10**18 if weth_is_0 else 10**18 / (2_000 * 10**6)   # token1 per token0, raw
        pool = create_v3_pool(net.chain, net.uniswap, weth, usdc, 3000, int(math.sqrt(raw) * 2**96))
    v3_approve(net.chain, net.uniswap, [weth, usdc], trader)
    return pool


def drive_markets(net, rng, steps=120):
    chain, lp, trader = net.chain, net.chain.accounts[1], net.chain.accounts[2]
    for s, t in net.tokens.items():
        chain.send(t.functions.mint(trader, 10**12 * 10**net.assets[s].decimals))
    pool = v3_pool(net, trader)
    tick0 = pool.functions.slot0().call()[1] // SPACING * SPACING
    ranges, blocks, done = [], [], {}
    pairs = list(net.uniswap.v2_pairs.items())
    for i in range(steps):
        op = str(rng.choice(["v2_swap", "v2_add", "v2_burn", "v3_mint", "v3_burn", "v3_swap", "feed"],
                        p=[0.2, 0.08, 0.07, 0.2, 0.1, 0.25, 0.1]))
        (a, b), pair = pairs[int(rng.integers(len(pairs)))]
        if op == "v2_swap":
            t_in = net.tokens[a] if rng.random() < 0.5 else net.tokens[b]
            r0, r1, _ = pair.functions.getReserves().call()
            zero_in = pair.functions.token0().call() == t_in.address
            r_in, r_out = (r0, r1) if zero_in else (r1, r0)
            amount_in = int(r_in * rng.uniform(0.001, 0.05))
            out = amount_in * 997 * r_out // (r_in * 1000 + amount_in * 997)   # UniswapV2Library.getAmountOut
            v2_swap(chain, pair, t_in, amount_in, out, trader)
        elif op == "v2_add":
            r0, r1, _ = pair.functions.getReserves().call()
            t0, t1 = pair.functions.token0().call(), pair.functions.token1().call()
            f = rng.uniform(0.01, 0.1)
            by_addr = {t.address: t for t in net.tokens.values()}
            add_v2_liquidity(chain, pair, by_addr, {t0: int(r0 * f), t1: int(r1 * f)}, trader)
        elif op == "v2_burn":
            lp_tokens = pair.functions.balanceOf(lp).call()
            chain.send_many([(pair.functions.transfer(pair.address, int(lp_tokens * rng.uniform(0.01, 0.1))), lp),
                             (pair.functions.burn(lp), lp)])
        elif op == "v3_mint":
            lo = tick0 + SPACING * int(rng.integers(-40, 20))
            hi = lo + SPACING * int(rng.integers(1, 40))
            amount = int(10 ** rng.uniform(12, 16))
            v3_mint(chain, net.uniswap, pool, lo, hi, amount, trader)
            ranges.append([lo, hi, amount])
        elif op == "v3_burn" and any(r[2] for r in ranges):
            live = [r for r in ranges if r[2]]
            r = live[int(rng.integers(len(live)))]
            part = r[2] if rng.random() < 0.4 else int(r[2] * rng.uniform(0.1, 0.9))
            chain.send(pool.functions.burn(r[0], r[1], part), trader)
            r[2] -= part
        elif op == "v3_swap" and pool.functions.liquidity().call() > 0:
            zero_for_one = bool(rng.random() < 0.5)
            v3_swap(chain, net.uniswap, pool, zero_for_one, int(10 ** rng.uniform(3, 9)), trader)
        elif op == "feed":
            s = ["WETH", "WBTC"][int(rng.integers(2))]
            net.set_price(s, net.assets[s].price_usd * float(np.exp(rng.normal(0, 0.1))))
        else:
            op = None                      # nothing to burn or no liquidity yet: skipped
        if op:
            done[op] = done.get(op, 0) + 1
        if (i + 1) % 15 == 0:
            chain.mine(60)
            blocks.append(chain.w3.eth.block_number)
    return pool, ranges, blocks, done


def test_dex_and_feed_state_rebuilt_from_logs_equals_the_contracts(net, tmp_path):
    rng = np.random.default_rng(3)
    pool, ranges, blocks, done = drive_markets(net, rng)
    assert len(done) == 7, done                 # every kind of operation happened
    client = RpcClient(net.chain.url)
    pairs = [p.address for p in net.uniswap.v2_pairs.values()]
    feeds = [f.address for f in net.feeds.values()]
    for source, addresses in (("uniswap-v2", pairs), ("uniswap-v3", [pool.address]), ("chainlink", feeds)):
        ingest(client, source, addresses, 0, None, tmp_path, confirmations=0, chunk_size=100)
    con = connect_chain(tmp_path)
    checked = {"v2": 0, "v3_ticks": 0, "feeds": 0}
    for block in blocks:
        v2 = {r["pool"]: (int(r["reserve0_raw"]), int(r["reserve1_raw"]))
              for r in chain_query(con, "uniswap_v2_pools_at_block", {"block": block}).to_pylist()}
        truth = net.chain.call_many([p.functions.getReserves() for p in net.uniswap.v2_pairs.values()], block)
        assert v2 == {p.lower(): (r[0], r[1]) for p, r in zip(pairs, truth)}
        checked["v2"] += len(v2)

        (state,) = chain_query(con, "uniswap_v3_pools_at_block", {"block": block}).to_pylist()
        slot0, liquidity = net.chain.call_many([pool.functions.slot0(), pool.functions.liquidity()], block)
        assert (int(state["sqrt_price_x96"]), state["tick"], int(state["liquidity"])) == (slot0[0], slot0[1], liquidity)

        ticks = {r["tick"]: (int(r["liquidity_gross"]), int(r["liquidity_net"]))
                 for r in chain_query(con, "uniswap_v3_pool_ticks_at_block", {"block": block}).to_pylist()}
        every_end = sorted({t for lo, hi, _ in ranges for t in (lo, hi)} | set(ticks))
        onchain = net.chain.call_many([pool.functions.ticks(t) for t in every_end], block)
        assert ticks == {t: (o[0], o[1]) for t, o in zip(every_end, onchain) if o[0] != 0}
        checked["v3_ticks"] += len(ticks)

        path = chain_query(con, "chainlink_prices", {}).to_pylist()
        for f in net.feeds.values():
            mine = [r for r in path if r["aggregator"] == f.address.lower() and r["block_number"] <= block][-1]
            round_id, answer, *_ = net.chain.call_many([f.functions.latestRoundData()], block)[0]
            assert (int(mine["round_id"]), int(mine["answer_raw"])) == (round_id, answer)
            checked["feeds"] += 1
    assert all(n > 0 for n in checked.values()), checked
    # Dune spellbook dex.trades rows: one per swap, positive amounts, alphabetical token_pair
    trades = chain_query(con, "dex_trades").to_pylist()
    assert len([t for t in trades if t["version"] == "2"]) == done["v2_swap"]
    assert len([t for t in trades if t["version"] == "3"]) == done["v3_swap"]
    for t in trades:
        assert t["token_bought_address"] != t["token_sold_address"]
        # a dust v3 swap can round one side to 0 (spellbook keeps such rows too)
        assert t["token_bought_amount"] >= 0 and t["token_sold_amount"] > 0 or t["token_bought_amount"] > 0
        assert t["token_pair"] == "-".join(sorted([t["token_bought_symbol"], t["token_sold_symbol"]]))
    # backtest snapshot writes the lake's pools and pool_ticks at the last block, in token units
    assert cli(["snapshot", "--block", str(blocks[-1]), "--lake", str(tmp_path), "--rpc", net.chain.url]) == 0
    pools = read_table(tmp_path, "pools").to_pylist()
    for p in (r for r in pools if r["dex"] == "uniswap-v2"):
        r0, _r1, _ = net.chain.call_many([net.chain.at(ARTIFACT_V2, p["pool"]).functions.getReserves()], blocks[-1])[0]
        decimals0 = next(a.decimals for s, a in net.assets.items() if s == p["token0"])
        assert p["reserve0"] == r0 / 10**decimals0 and p["fee"] == 0.003
    (v3,) = [r for r in pools if r["dex"] == "uniswap-v3"]
    assert (v3["tick"], v3["fee"]) == (slot0[1], 0.003)
    assert read_table(tmp_path, "pool_ticks").num_rows == len(ticks)
    print(f"dex/feeds proof: {done} ops; {checked} states equal at {len(blocks)} blocks")
