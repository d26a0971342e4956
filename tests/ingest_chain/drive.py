"""Drive a real Aave v3 market on the devnet: a seeded stream of supplies, borrows, repays, withdrawals,
aToken transfers, feed updates and liquidations, with interest accruing between blocks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backtest.devnet.aave import RAY, v2, v3
from backtest.devnet.chain import TxFailed
from backtest.devnet.positions import MAX_UINT, VARIABLE_RATE, approve_all

OPS = ("supply", "borrow", "repay", "withdraw", "transfer", "repay_with_atokens", "price", "liquidate")
WEIGHTS = (0.22, 0.2, 0.12, 0.08, 0.08, 0.05, 0.07, 0.18)
# with e-mode: a user enters a category or leaves e-mode (Pool.setUserEMode) in 12 % of operations
EMODE_OPS = OPS + ("emode",)
EMODE_WEIGHTS = (0.2, 0.18, 0.1, 0.07, 0.07, 0.05, 0.06, 0.15, 0.12)


@dataclass
class Driven:
    users: list[str]
    start: int                                          # the last block before the first operation
    counts: dict[str, int] = field(default_factory=dict)
    blocks: list[int] = field(default_factory=list)     # a block after every 50 (`every`) operations


def set_interest_rates(net, m) -> None:
    """Non-zero rates on every reserve, so indexes move and the rebuilt balances must get the ray maths right."""
    rates = (RAY * 8 // 10, RAY * 2 // 100, RAY * 4 // 100, RAY * 60 // 100, 0, 0)
    if m.version == 3:
        strategy = net.chain.deploy(v3("DefaultReserveInterestRateStrategy"), m.provider.address, *rates,
                                    0, 0, RAY * 2 // 10)
    else:
        strategy = net.chain.deploy(v2("DefaultReserveInterestRateStrategy"), m.provider.address, *rates)
    net.chain.send_many([(m.configurator.functions.setReserveInterestRateStrategyAddress(
        t.address, strategy.address), None) for t in net.tokens.values()])


def _try(net, call, sender) -> bool:
    if net.chain.revert_reason(call, sender) is not None:
        return False
    try:
        net.chain.send(call, sender)
    except TxFailed:
        return False
    return True


def drive(net, m, n_ops: int = 300, seed: int = 11, emode_categories: tuple[int, ...] = (),
          every: int = 50) -> Driven:
    """`emode_categories`: the categories a user may pick in an "emode" operation (0 = leave e-mode);
    a block to compare at is kept after every `every` operations."""
    ops, weights = (EMODE_OPS, EMODE_WEIGHTS) if emode_categories else (OPS, WEIGHTS)
    rng = np.random.default_rng(seed)
    chain, pool = net.chain, m.pool
    deposit = pool.functions.supply if m.version == 3 else pool.functions.deposit
    users = chain.accounts[2:9]
    symbols = sorted(net.tokens)
    for u in users:
        chain.send_many([(net.tokens[s].functions.mint(u, 10**12 * 10**net.assets[s].decimals), None) for s in symbols])
        approve_all(net, m, u)
    out = Driven(users, chain.w3.eth.block_number, {op: 0 for op in ops})
    answers = {s: round(net.assets[s].price_usd * 1e8) for s in symbols}
    for i in range(n_ops):
        chain.rpc("evm_increaseTime", [int(rng.integers(1, 86_400))])
        op = ops[int(rng.choice(len(ops), p=weights))]
        u, s = users[int(rng.integers(len(users)))], symbols[int(rng.integers(len(symbols)))]
        r, unit = m.reserves[s], 10**net.assets[s].decimals
        a_bal = r.a_token.functions.balanceOf(u).call()
        debt = r.variable_debt.functions.balanceOf(u).call()
        ok = False
        if op == "supply":
            ok = _try(net, deposit(r.asset.address, int(unit * 10 ** rng.uniform(1, 5)
                                                                   / net.assets[s].price_usd), u, 0), u)
        elif op == "borrow":
            available = pool.functions.getUserAccountData(u).call()[2]        # base units, 8 decimals
            amount = int(available * rng.uniform(0.1, 0.6) * unit // answers[s])
            ok = amount > 0 and _try(net, pool.functions.borrow(r.asset.address, amount, VARIABLE_RATE, 0, u), u)
        elif op == "repay" and debt:
            amount = MAX_UINT if rng.random() < 0.3 else int(debt * rng.uniform(0.1, 0.9))
            ok = _try(net, pool.functions.repay(r.asset.address, amount, VARIABLE_RATE, u), u)
        elif op == "repay_with_atokens" and debt and a_bal and m.version == 3:
            ok = _try(net, pool.functions.repayWithATokens(r.asset.address, int(min(debt, a_bal) * 0.5) or 1,
                                                           VARIABLE_RATE), u)
        elif op == "withdraw" and a_bal:
            amount = MAX_UINT if rng.random() < 0.2 else int(a_bal * rng.uniform(0.1, 0.8))
            ok = _try(net, pool.functions.withdraw(r.asset.address, amount, u), u)
        elif op == "transfer" and a_bal:
            to = users[int(rng.integers(len(users)))]
            ok = to != u and _try(net, r.a_token.functions.transfer(to, int(a_bal * rng.uniform(0.1, 0.7))), u)
        elif op == "price":
            answers[s] = max(1, round(answers[s] * float(np.exp(rng.normal(0, 0.15)))))
            net.set_prices({s: answers[s]})
            ok = True
        elif op == "liquidate":
            ok = _liquidate_someone(net, m, rng, users, symbols, answers)
        elif op == "emode":       # refused while the user borrows outside the category, or if HF would drop < 1
            category = emode_categories[int(rng.integers(len(emode_categories)))]
            ok = _try(net, pool.functions.setUserEMode(category), u)
        out.counts[op] += ok
        if (i + 1) % every == 0:
            chain.mine(3600)
            out.blocks.append(chain.w3.eth.block_number)
    return out


def _liquidate_someone(net, m, rng, users, symbols, answers) -> bool:
    """Crash one collateral price until some user is below HF 1, liquidate, then restore the price."""
    chain = net.chain
    liquidator = chain.accounts[0]
    victim = users[int(rng.integers(len(users)))]
    held = [s for s in symbols if m.reserves[s].a_token.functions.balanceOf(victim).call() > 0]
    owed = [s for s in symbols if m.reserves[s].variable_debt.functions.balanceOf(victim).call() > 0]
    pairs = [(c, d) for c in held for d in owed if c != d]
    if not pairs:
        return False
    coll, debt = pairs[int(rng.integers(len(pairs)))]
    before = answers[coll]
    for factor in (0.7, 0.5, 0.3, 0.15, 0.05):
        net.set_prices({coll: max(1, int(before * factor))})
        if m.pool.functions.getUserAccountData(victim).call()[5] < 10**18:
            break
    else:
        net.set_prices({coll: before})
        return False
    d = m.reserves[debt]
    chain.send(net.tokens[debt].functions.mint(liquidator, 10**30), None)
    chain.send(net.tokens[debt].functions.approve(m.pool.address, MAX_UINT), liquidator)
    owed_now = d.variable_debt.functions.balanceOf(victim).call()
    ok = _try(net, m.pool.functions.liquidationCall(m.reserves[coll].asset.address, d.asset.address, victim,
                                                   int(owed_now * rng.uniform(0.2, 0.5)) or 1,
                                                   bool(rng.random() < 0.5)), liquidator)
    net.set_prices({coll: before})
    return ok
