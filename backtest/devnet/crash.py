"""A crash on chain: a seeded book on the devnet's Aave v3, feeds moved along a path, a liquidator bot.

The point is to run the replay engine's own step on real contracts, so the two can be compared:

    per step:  arbitrage   each Uniswap v2 pool is put, along x*y = k, within its fee of the price
                           where it and the reference market meet (the engine's default model:
                           arb_half_life_seconds = 0, arbitrage = "meet")
               oracle      each feed takes its pool's price (oracle.deviation = 0)
               rounds      the bot reads every account's HF, takes those below 1 worst first,
                           prices each collateral it could seize (exact Aave and Uniswap maths on
                           the pools as they are), calls liquidationCall on the best one if the
                           sale pays for the debt, and sells the collateral into the real pair;
                           after a round that acted, the feeds follow the pools again

The arbitrage step is done by the liquidity provider without a fee (burn part of its LP tokens,
send tokens, `sync()`), because the engine's arbitrage keeps k; a fee-paying arbitrage swap would
deepen the pool a little every step and the two runs would drift apart by design.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from web3 import Web3

from backtest.devnet.builder import Devnet
from backtest.devnet.positions import MAX_UINT, VARIABLE_RATE
from backtest.lake.io import write_table
from backtest.markets import uniswap_v2
from backtest.markets.arb_meet import meeting_price
from backtest.markets.reference import ReferenceMarket
from backtest.markets.router import Router
from backtest.markets.venue_kinds import V2Pool, arbitrage_goal
from backtest.protocols.aave import v3 as aave_v3

DEBT = "USDC"
VOLATILE = ("WBTC", "WETH")
MARKET = "devnet"
FEE = 0.003                     # Uniswap v2's swap fee: the arbitrage band


def book_accounts(n: int, seed: int) -> list[str]:
    """Deterministic addresses (keccak of seed and index), impersonated on anvil."""
    return [Web3.to_checksum_address(Web3.keccak(text=f"backtest-crash-{seed}-{i}")[-20:]) for i in range(n)]


def seed_book(net: Devnet, rng: np.random.Generator, n_accounts: int, seed: int,
              hf_range: tuple[float, float] = (1.03, 1.6)) -> list[str]:
    """Accounts with WETH and/or WBTC collateral and USDC debt, HF drawn from `hf_range` at the start prices."""
    chain, pool = net.chain, net.aave_v3.pool
    accounts = book_accounts(n_accounts, seed)
    chain.rpc.batch([("anvil_impersonateAccount", [a]) for a in accounts]
                    + [("anvil_setBalance", [a, hex(10**21)]) for a in accounts])
    mints, actions = [], []
    for a in accounts:
        kind = rng.integers(0, 3)         # 0: WETH only, 1: WBTC only, 2: both
        coll = {}
        for sym in (["WETH"] if kind == 0 else ["WBTC"] if kind == 1 else ["WETH", "WBTC"]):
            usd = float(10 ** rng.uniform(3, 5.5))
            spec = net.assets[sym]
            coll[sym] = int(usd / spec.price_usd * 10**spec.decimals)
        adjusted = sum(c / 10**net.assets[s].decimals * net.assets[s].price_usd
                       * net.assets[s].params.liquidation_threshold / 10_000 for s, c in coll.items())
        power = sum(c / 10**net.assets[s].decimals * net.assets[s].price_usd * net.assets[s].params.ltv / 10_000
                    for s, c in coll.items())
        debt_usd = min(adjusted / rng.uniform(*hf_range), 0.99 * power)
        debt = int(debt_usd * 10**net.assets[DEBT].decimals)
        for s, c in coll.items():
            mints.append((net.tokens[s].functions.mint(a, c), None))
            actions += [(net.tokens[s].functions.approve(pool.address, MAX_UINT), a),
                        (pool.functions.supply(net.tokens[s].address, c, a, 0), a)]
        actions.append((pool.functions.borrow(net.tokens[DEBT].address, debt, VARIABLE_RATE, 0, a), a))
    chain.send_many(mints)
    chain.send_many(actions)
    return accounts


# ----------------------------------------------------------------------------- reading the chain

def _pair(net: Devnet, sym: str):
    return net.uniswap.v2_pairs[(sym, DEBT)]


def pool_reserves(net: Devnet, sym: str) -> tuple[int, int]:
    """(asset reserve, USDC reserve) of the asset's pair, in base units."""
    pair = _pair(net, sym)
    token0, (r0, r1, _ts) = net.chain.call_many([pair.functions.token0(), pair.functions.getReserves()])
    return (r0, r1) if token0 == net.tokens[sym].address else (r1, r0)


BALANCE_OF = "0x70a08231"             # balanceOf(address)
GET_USER_ACCOUNT_DATA = "0xbf92857c"   # getUserAccountData(address)


def _arg(address: str) -> str:
    return address.lower().removeprefix("0x").rjust(64, "0")


def balances(net: Devnet, accounts: list[str]) -> dict[str, dict[str, tuple[int, int]]]:
    """account -> symbol -> (aToken balance, variable debt) for every reserve."""
    m, syms = net.aave_v3, list(net.tokens)
    calls = [(token.address, BALANCE_OF + _arg(a)) for a in accounts for s in syms
             for token in (m.reserves[s].a_token, m.reserves[s].variable_debt)]
    out = [w[0] for w in net.chain.call_words(calls)]
    result, k = {}, 0
    for a in accounts:
        result[a] = {}
        for s in syms:
            result[a][s] = (out[k], out[k + 1])
            k += 2
    return result


def health_factors(net: Devnet, accounts: list[str]) -> list[int]:
    pool = net.aave_v3.pool.address
    return [w[5] for w in net.chain.call_words([(pool, GET_USER_ACCOUNT_DATA + _arg(a)) for a in accounts])]


def export_lake(net: Devnet, accounts: list[str], lake: Path, when: datetime) -> None:
    """The on-chain book as a lake: markets, positions, prices, pools, gas (token units as float64)."""
    block = int(net.chain.rpc("eth_blockNumber"), 16)
    ts = pa.array([when], type=pa.timestamp("us", tz="UTC"))[0]
    syms = sorted(net.tokens)
    write_table(lake, "markets", pa.table({
        "protocol": ["aave-v3"] * len(syms), "market": [MARKET] * len(syms), "asset": syms,
        "asset_address": [net.tokens[s].address for s in syms],
        "decimals": pa.array([net.assets[s].decimals for s in syms], pa.int32()),
        "ltv": [net.assets[s].params.ltv / 1e4 for s in syms],
        "liquidation_threshold": [net.assets[s].params.liquidation_threshold / 1e4 for s in syms],
        "liquidation_bonus": [net.assets[s].params.liquidation_bonus / 1e4 - 1 for s in syms],
        "close_factor": [0.5] * len(syms),
        "protocol_fee": [net.assets[s].params.protocol_fee / 1e4 for s in syms],
        "supply_cap": [0.0] * len(syms), "borrow_cap": [0.0] * len(syms),
        "emode_category": pa.array([0] * len(syms), pa.int32()),
        "valid_from_block": pa.array([0] * len(syms), pa.int64()),
    }))
    rows = {k: [] for k in ("account", "asset", "collateral", "debt")}
    for a, per in balances(net, accounts).items():
        for s, (c, d) in per.items():
            if c or d:
                unit = 10**net.assets[s].decimals
                rows["account"].append(a); rows["asset"].append(s)
                rows["collateral"].append(c / unit); rows["debt"].append(d / unit)
    n = len(rows["account"])
    write_table(lake, "positions", pa.table({
        "protocol": ["aave-v3"] * n, "market": [MARKET] * n, **rows,
        "block_number": pa.array([block] * n, pa.int64()), "timestamp": pa.array([ts] * n)}))
    answers = net.chain.call_many([net.feeds[s].functions.latestAnswer() for s in syms])
    write_table(lake, "prices", pa.table({
        "asset": syms, "timestamp": pa.array([ts] * len(syms)), "price_usd": [x / 1e8 for x in answers],
        "source": ["devnet-feed"] * len(syms), "outlier": [False] * len(syms)}))
    pools = {k: [] for k in ("pool", "token0", "token1", "reserve0", "reserve1")}
    for s in VOLATILE:
        r_asset, r_usdc = pool_reserves(net, s)
        pools["pool"].append(_pair(net, s).address)
        pools["token0"].append(s); pools["token1"].append(DEBT)
        pools["reserve0"].append(r_asset / 10**net.assets[s].decimals)
        pools["reserve1"].append(r_usdc / 10**net.assets[DEBT].decimals)
    k = len(VOLATILE)
    write_table(lake, "pools", pa.table({
        "dex": ["uniswap-v2"] * k, **{c: pools[c] for c in ("pool", "token0", "token1")}, "fee": [0.003] * k,
        "block_number": pa.array([block] * k, pa.int64()), "timestamp": pa.array([ts] * k),
        "reserve0": pools["reserve0"], "reserve1": pools["reserve1"],
        "sqrt_price_x96": pa.array([None] * k, pa.string()), "tick": pa.array([None] * k, pa.int32()),
        "liquidity": pa.array([None] * k, pa.string())}))
    write_table(lake, "gas", pa.table({"timestamp": pa.array([ts]), "gas_price_gwei": [0.0]}))


# ----------------------------------------------------------------------------- driving the crash

@dataclass(frozen=True)
class ChainLiquidation:
    step: int
    round: int                  # the round of the step in which the account first fell below HF 1
    account: str
    collateral_asset: str
    debt_repaid: int            # base units of USDC
    collateral_seized: int      # base units of the collateral: to the bot and the treasury
    protocol_fee: int
    sold_for: int               # USDC the bot got for its collateral in the pair


@dataclass
class CrashResult:
    liquidations: list[ChainLiquidation] = field(default_factory=list)
    final: dict = field(default_factory=dict)            # balances() at the end
    final_answers: dict = field(default_factory=dict)    # symbol -> feed answer (8 decimals)

    def bad_debt_usd(self, net: Devnet) -> float:
        """Σ max(0, debt value - collateral value) at the final feed prices (the engine's metric)."""
        total = 0.0
        for per in self.final.values():
            value = sum((d - c) / 10**net.assets[s].decimals * self.final_answers[s] / 1e8 for s, (c, d) in per.items())
            total += max(0.0, value)
        return total


def arbitrage_calls(net: Devnet, sym: str, reserves: tuple[int, int], price_usd: float, lp: str,
                    supply: int, held: int) -> tuple[list, tuple[int, int]]:
    """Calls that put the pair at `price_usd` along its own x*y = k, fee-free (burn LP tokens, top up,
    sync()), and the reserves they leave."""
    pair = _pair(net, sym)
    b, q = reserves
    ub, uq = 10**net.assets[sym].decimals, 10**net.assets[DEBT].decimals
    base, quote = uniswap_v2.reserves_at_price(b / ub, q / uq, price_usd)
    target_b, target_q = round(base * ub), round(quote * uq)
    # smallest burn that takes each reserve down to its target: burn * r // supply >= r - target
    need = max(-(-(r - t) * supply // r) for r, t in ((b, target_b), (q, target_q)))
    # ... and the pair refuses a burn that pays out zero of either token
    burn = min(held, max(need, -(-supply // min(b, q)))) if need > 0 else 0
    # UniswapV2Pair.burn pays liquidity * balance / totalSupply of each token, rounded down
    left_b, left_q = b - burn * b // supply, q - burn * q // supply
    if left_b > target_b or left_q > target_q:
        raise RuntimeError(f"{sym}: the LP holds too little of the pool to move it to {price_usd}")
    calls = []
    if burn:
        calls += [(pair.functions.transfer(pair.address, burn), lp), (pair.functions.burn(lp), lp)]
    calls += [(net.tokens[sym].functions.transfer(pair.address, target_b - left_b), lp),
              (net.tokens[DEBT].functions.transfer(pair.address, target_q - left_q), lp),
              (pair.functions.sync(), lp)]
    return calls, (target_b, target_q)


def pool_answer(net: Devnet, sym: str, reserves: tuple[int, int]) -> int:
    """The pair's USD price as an 8-decimal feed answer, rounded half up."""
    b, q = reserves
    num = q * 10**(net.assets[sym].decimals + 8)
    den = b * 10**net.assets[DEBT].decimals
    return (2 * num + den) // (2 * den)


def _best_seizure(net: Devnet, per: dict, hf_wad: int, answers: dict[str, int], pools: dict[str, tuple[int, int]],
                  reference: ReferenceMarket, usdc: int):
    """(profit in USD, collateral symbol, expected outcome) of the best collateral to seize: USDC got in
    the pair, valued at USDC's reference price, less what buying the repaid USDC costs on USDC's
    reference market (it has no pool: the engine buys it there, through the impact curve)."""
    best = None
    unit = 10**net.assets[DEBT].decimals
    debt = per[DEBT][1]
    for s in sorted(VOLATILE):        # the engine's reserve order (by asset name) breaks ties the same way
        coll = per[s][0]
        if coll == 0 or debt == 0:
            continue
        spec = net.assets[s]
        repaid, to_bot, fee = aave_v3.liquidation_exact(
            MAX_UINT, debt, hf_wad, coll, answers[s], answers[DEBT], spec.decimals,
            net.assets[DEBT].decimals, spec.params.liquidation_bonus, spec.params.protocol_fee)
        proceeds = uniswap_v2.get_amount_out_exact(to_bot, *pools[s])
        profit = proceeds / unit * float(reference.price[usdc]) + reference.fill(usdc, -repaid / unit)
        if best is None or profit > best[0]:
            best = (profit, s, (repaid, to_bot, fee, proceeds))
    return best


def run_on_chain(net: Devnet, accounts: list[str], exogenous: dict[str, np.ndarray], *, bot: str, lp: str,
                 reference: ReferenceMarket, assets: list[str], step_seconds: float,
                 block_seconds: float = 12.0) -> CrashResult:
    """Drive the devnet through the path (`exogenous[symbol]` = USD price per step) with one bot.

    `reference` is the engine's reference market for this book (ReferenceMarket.for_assets, the same
    parameters), indexed like `assets`: the flow the chain's arbitrage passes on moves it here as it
    does in the engine, and the feeds read it. The bot plans a whole round from exact maths on the
    state it reads (as a real bot simulates before sending), then sends it; every transaction must
    succeed, and the pools must end the round exactly where the plan said, or this raises.
    """
    chain, pool = net.chain, net.aave_v3.pool
    order = {a: i for i, a in enumerate(sorted(accounts))}    # the engine's tie-break: account order
    pairs = {s: _pair(net, s) for s in VOLATILE}
    zero_in = {s: chain.call_many([pairs[s].functions.token0()])[0] == net.tokens[s].address for s in VOLATILE}
    result = CrashResult()
    answers = {s: int(x) for s, x in zip(net.tokens, chain.call_many(
        [net.feeds[s].functions.latestAnswer() for s in net.tokens]))}
    idx = {s: assets.index(s) for s in (*VOLATILE, DEBT)}
    unit = {s: 10**net.assets[s].decimals for s in (*VOLATILE, DEBT)}
    mids = {s: _mid(net, s, pool_reserves(net, s)) for s in VOLATILE}
    steps, blocks = len(next(iter(exogenous.values()))), max(1, int(round(step_seconds / block_seconds)))
    clock = 0.0
    for step in range(steps):
        if step:
            ratio = {s: float(exogenous[s][step]) / float(exogenous[s][step - 1]) for s in VOLATILE}
            exo = reference.exo.copy()
            for s in VOLATILE:
                exo[idx[s]] = float(exogenous[s][step])
            reference.follow(exo)
            mids = {s: mids[s] * ratio[s] for s in VOLATILE}    # the path passes through the pools, no flow
        first_round: dict[str, int] = {}       # as the engine records it: the round an account first fell below 1
        for rnd in range(blocks):
            now = step * step_seconds + rnd * block_seconds
            reference.decay(now - clock)
            clock = now
            calls, pools = _arbitrage_block(net, reference, idx, mids, lp, unit)
            answers.update({s: int(round(float(reference.price[idx[s]]) * 1e8)) for s in (*VOLATILE, DEBT)})
            chain.send_many(calls + [(net.feeds[s].functions.updateAnswer(answers[s]), None)
                                     for s in (*VOLATILE, DEBT)])
            below = sorted((hf, order[a], a) for a, hf in zip(accounts, health_factors(net, accounts))
                           if hf < aave_v3.WAD)
            for _, _, a in below:
                first_round.setdefault(a, rnd)
            books = balances(net, [a for _, _, a in below])
            calls, plans = [], []
            for hf_wad, _, a in below:
                best = _best_seizure(net, books[a], hf_wad, answers, pools, reference, idx[DEBT])
                if best is None or best[0] < 0:
                    continue
                _, s, (repaid, to_bot, fee, proceeds) = best
                reference.buy(idx[DEBT], repaid / unit[DEBT])
                calls += [(pool.functions.liquidationCall(net.tokens[s].address, net.tokens[DEBT].address,
                                                          a, MAX_UINT, False), bot),
                          (net.tokens[s].functions.transfer(pairs[s].address, to_bot), bot),
                          (pairs[s].functions.swap(*((0, proceeds) if zero_in[s] else (proceeds, 0)), bot, b""), bot)]
                pools[s] = (pools[s][0] + to_bot, pools[s][1] - proceeds)
                plans.append((a, s, fee, proceeds))
            if not plans:
                break
            chain.send_many(calls)
            after = balances(net, [a for a, *_ in plans])
            for a, s, fee, proceeds in plans:
                seized = books[a][s][0] - after[a][s][0]
                paid = books[a][DEBT][1] - after[a][DEBT][1]
                result.liquidations.append(ChainLiquidation(step, first_round[a], a, s, paid, seized, fee, proceeds))
            for s in VOLATILE:
                if pool_reserves(net, s) != pools[s]:
                    raise RuntimeError(f"step {step} round {rnd}: the {s} pair is not where the bot's plan left it")
                mids[s] = _mid(net, s, pools[s])
    result.final = balances(net, accounts)
    result.final_answers = dict(answers)
    return result


def _mid(net: Devnet, sym: str, reserves: tuple[int, int]) -> float:
    """The pair's price, USDC per unit, as the engine's float pool has it."""
    return (reserves[1] / 10**net.assets[DEBT].decimals) / (reserves[0] / 10**net.assets[sym].decimals)


def _meeting(reference: ReferenceMarket, pool: V2Pool) -> float:
    """The engine's meeting price of the pool's asset (backtest/markets/arb_meet.py, `arbitrage = "meet"`),
    USD, for its one pair holding the reserves the chain has."""
    return meeting_price(Router(reference.price, [pool], reference=reference), pool.asset, reference.price.tolist())


def _arbitrage_block(net: Devnet, reference: ReferenceMarket, idx: dict, mids: dict, lp: str, unit: dict):
    """The engine's block arbitrage (backtest/markets/arb_meet.py, the default `arbitrage = "meet"`):
    each pair, by the LP along x*y = k, to within its 0.3 % fee of the price where it and its
    reference market meet once the flow has reached the reference (base and USDC legs). Returns the
    calls and the reserves they leave; `mids` becomes the pairs' new prices."""
    usdc = float(reference.price[idx[DEBT]])
    calls, pools, flow = [], {}, {}
    supply = net.chain.call_many([c for s in VOLATILE for c in (_pair(net, s).functions.totalSupply(),
                                                                 _pair(net, s).functions.balanceOf(lp))])
    for k, s in enumerate(VOLATILE):
        b, q = pool_reserves(net, s)
        base0, quote0 = uniswap_v2.reserves_at_price(b / unit[s], q / unit[DEBT], mids[s])
        pool = V2Pool(idx[s], idx[DEBT], base0, quote0, FEE)
        goal = arbitrage_goal(pool, _meeting(reference, pool) / usdc, mids[s])     # the engine's rule
        goal = mids[s] if goal is None else goal
        base1, quote1 = uniswap_v2.reserves_at_price(base0, quote0, goal)
        flow[s] = (base1 - base0) * float(reference.price[idx[s]])
        flow[DEBT] = flow.get(DEBT, 0.0) + (quote1 - quote0) * usdc
        more, pools[s] = arbitrage_calls(net, s, (b, q), goal, lp, supply[2 * k], supply[2 * k + 1])
        calls += more
        mids[s] = goal
    for s in (*VOLATILE, DEBT):
        if flow.get(s):
            reference.trade(idx[s], flow[s])
    return calls, pools
