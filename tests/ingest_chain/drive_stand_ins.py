"""Seeded random operations on the stand-in cTokens, Comet and Vat (backtest/devnet/stand_ins: our
contracts emitting mainnet's event layout, not mainnet bytecode), a few per block, time moving between."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backtest.devnet.stand_ins import artifacts

E18, RAY = 10**18, 10**27


@dataclass
class Driven:
    contracts: dict                                      # name -> web3 contract
    users: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    blocks: list[int] = field(default_factory=list)      # blocks to compare the rebuild at


def _block(chain, rng, calls, counts) -> None:
    """Mine one block with these calls (name, call, sender); a call that reverts just does not count."""
    chain.rpc("evm_increaseTime", [int(rng.integers(1, 3 * 86_400))])
    if not calls:
        chain.mine()
        return
    txs = [{"from": s, "to": c.address, "data": c._encode_transaction_data()} for _, c, s in calls]
    for (name, _, _), receipt in zip(calls, chain.transact_many(txs)):
        ok = int(receipt["status"], 16) == 1          # a reverted call leaves no logs and no state
        counts[name if ok else "reverted"] = counts.get(name if ok else "reverted", 0) + 1


def drive_compound(net, n_blocks: int = 150, seed: int = 5) -> Driven:
    """Two stand-in cTokens (USDC- and WETH-like); mint, redeem, borrow, repay, transfer, liquidate,
    reserves added/reduced, reserve factor and rate changes, 1-3 calls per block."""
    chain, rng = net.chain, np.random.default_rng(seed)
    art = artifacts()["CTokenStandIn"]
    admin, liquidator, users = chain.accounts[0], chain.accounts[1], chain.accounts[2:8]
    c = {"cUSDC": chain.deploy(art, net.tokens["USDC"].address, 2 * 10**14),
         "cWETH": chain.deploy(art, net.tokens["WETH"].address, 2 * 10**26)}
    unit = {"cUSDC": 10**6, "cWETH": 10**18}
    chain.send_many([(c[k].functions._setReserveFactor(E18 // 10), admin) for k in c]
                    + [(c["cUSDC"].functions.setBorrowRatePerBlock(2 * 10**14), admin),
                       (c["cWETH"].functions.setBorrowRatePerBlock(10**14), admin)])
    for k in c:   # every user starts with a deposit, so there is cash to borrow
        chain.send_many([(c[k].functions.mint(int(unit[k] * rng.uniform(1_000, 50_000))), u) for u in users])
    out = Driven(c, users + [liquidator])
    names = sorted(c)
    for b in range(n_blocks):
        calls = []
        for _ in range(int(rng.integers(1, 4))):
            k, u = names[int(rng.integers(2))], users[int(rng.integers(len(users)))]
            other = c[names[1 - names.index(k)]]
            tok = c[k]
            bal, owed = tok.functions.balanceOf(u).call(), tok.functions.borrowBalanceStored(u).call()
            op = str(rng.choice(["mint", "redeem", "borrow", "repay", "transfer", "liquidate", "reserves",
                                 "rate"], p=[0.2, 0.12, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05]))
            if op == "mint":
                calls.append((op, tok.functions.mint(int(unit[k] * rng.uniform(10, 5_000))), u))
            elif op == "redeem" and bal:
                calls.append((op, tok.functions.redeem(int(bal * rng.uniform(0.05, 0.5))), u))
            elif op == "borrow":
                cash = tok.functions.getCash().call()
                calls.append((op, tok.functions.borrow(int(cash * rng.uniform(0.01, 0.1))), u))
            elif op == "repay" and owed:
                amount = 2**256 - 1 if rng.random() < 0.3 else int(owed * rng.uniform(0.1, 0.8))
                calls.append((op, tok.functions.repayBorrow(amount), u))
            elif op == "transfer" and bal:
                to = users[int(rng.integers(len(users)))]
                calls.append((op, tok.functions.transfer(to, int(bal * rng.uniform(0.05, 0.5))), u))
            elif op == "liquidate" and owed:
                held = other.functions.balanceOf(u).call()
                repay = int(owed * rng.uniform(0.1, 0.4))
                if held and repay:
                    ratio = held * E18 // repay // 3              # seize at most a third of the collateral
                    calls.append((op, tok.functions.liquidateBorrow(u, repay, other.address, ratio), liquidator))
            elif op == "reserves":
                if rng.random() < 0.5:
                    calls.append(("add_reserves", tok.functions._addReserves(int(unit[k] * rng.uniform(1, 100))), u))
                else:
                    reserves, cash = tok.functions.totalReserves().call(), tok.functions.getCash().call()
                    amount = int(min(reserves, cash) * rng.uniform(0.1, 0.9))
                    if amount:
                        calls.append(("reduce_reserves", tok.functions._reduceReserves(amount), admin))
            elif op == "rate":
                if rng.random() < 0.5:
                    calls.append(("reserve_factor", tok.functions._setReserveFactor(int(E18 * rng.uniform(0, 0.3))),
                                  admin))
                else:
                    calls.append(("rate", tok.functions.setBorrowRatePerBlock(int(rng.uniform(0, 5) * 10**14)),
                                  admin))
        _block(chain, rng, calls, out.counts)
        if (b + 1) % 30 == 0:
            out.blocks.append(chain.w3.eth.block_number)
    return out


def drive_comet(net, n_blocks: int = 150, seed: int = 6) -> Driven:
    """A stand-in Comet with USDC as base and WETH, WBTC as collateral; supplies, withdrawals (borrows),
    base and collateral transfers, collateral withdrawals and absorbs, with interest accruing per second."""
    chain, rng = net.chain, np.random.default_rng(seed)
    usdc, weth, wbtc = (net.tokens[s].address for s in ("USDC", "WETH", "WBTC"))
    comet = chain.deploy(artifacts()["CometStandIn"], usdc, 10**6)
    admin, absorber, users = chain.accounts[0], chain.accounts[1], chain.accounts[2:8]
    chain.send_many([
        (comet.functions.addAsset(weth, 10**18, 825 * 10**15, 895 * 10**15, 95 * 10**16, 10**30, 2000 * 10**8), admin),
        (comet.functions.addAsset(wbtc, 10**8, 700 * 10**15, 770 * 10**15, 90 * 10**16, 10**20, 30000 * 10**8), admin),
        # per-second rates, about 3 % and 5 % a year
        (comet.functions.setRates(950_000_000, 1_580_000_000), admin)])
    chain.send_many([(comet.functions.supply(usdc, int(10**6 * rng.uniform(10_000, 100_000))), u) for u in users])
    chain.send_many([(comet.functions.supply(weth, int(10**18 * rng.uniform(1, 50))), u) for u in users])
    out = Driven({"comet": comet}, users + [absorber])
    coll = {weth: 10**18, wbtc: 10**8}
    for b in range(n_blocks):
        calls = []
        for _ in range(int(rng.integers(1, 4))):
            u = users[int(rng.integers(len(users)))]
            f = comet.functions
            supplied, owed = f.balanceOf(u).call(), f.borrowBalanceOf(u).call()
            asset = [weth, wbtc][int(rng.integers(2))]
            held = f.collateralBalanceOf(u, asset).call()
            op = str(rng.choice(["supply", "withdraw", "transfer", "supply_collateral", "withdraw_collateral",
                                 "transfer_collateral", "absorb"], p=[0.22, 0.25, 0.13, 0.13, 0.1, 0.09, 0.08]))
            if op == "supply":
                amount = int(owed * rng.uniform(0.2, 1.2)) if owed and rng.random() < 0.6 else \
                    int(10**6 * rng.uniform(10, 20_000))
                calls.append((op, f.supply(usdc, amount), u))
            elif op == "withdraw":                  # past the supplied balance it is a borrow
                amount = int((supplied + 10**6 * rng.uniform(10, 5_000)) * rng.uniform(0.3, 1.2))
                calls.append((op, f.withdraw(usdc, amount), u))
            elif op == "transfer" and (supplied or owed):
                to = users[int(rng.integers(len(users)))]
                amount = int(max(supplied, 10**6) * rng.uniform(0.1, 1.5))
                if to != u:
                    calls.append((op, f.transferAsset(to, usdc, amount), u))
            elif op == "supply_collateral":
                calls.append((op, f.supply(asset, int(coll[asset] * rng.uniform(0.01, 5))), u))
            elif op == "withdraw_collateral" and held:
                calls.append((op, f.withdraw(asset, int(held * rng.uniform(0.1, 0.6))), u))
            elif op == "transfer_collateral" and held:
                to = users[int(rng.integers(len(users)))]
                if to != u:
                    calls.append((op, f.transferAsset(to, asset, int(held * rng.uniform(0.1, 0.6))), u))
            elif op == "absorb" and owed:
                calls.append((op, f.absorb(absorber, [u]), absorber))
        _block(chain, rng, calls, out.counts)
        if (b + 1) % 30 == 0:
            chain.mine(int(rng.integers(600, 86_400)))        # a quiet stretch: the snapshot accrues it
            out.blocks.append(chain.w3.eth.block_number)
    return out


def drive_maker(net, n_blocks: int = 150, seed: int = 7) -> Driven:
    """A stand-in Vat with two ilks: frob (open, draw, wipe, free), grab (liquidations), fork, and fold
    (stability fees), the calls logged as mainnet's anonymous LogNote."""
    chain, rng = net.chain, np.random.default_rng(seed)
    vat = chain.deploy(artifacts()["VatStandIn"])
    admin, users = chain.accounts[0], chain.accounts[2:8]
    ilks = [b"ETH-A".ljust(32, b"\0"), b"WBTC-A".ljust(32, b"\0")]
    chain.send_many([(vat.functions.init(i), admin) for i in ilks])
    out = Driven({"vat": vat}, users)
    for b in range(n_blocks):
        calls = []
        for _ in range(int(rng.integers(1, 4))):
            i, u = ilks[int(rng.integers(2))], users[int(rng.integers(len(users)))]
            ink, art = vat.functions.urns(i, u).call()
            op = str(rng.choice(["open", "draw", "wipe", "free", "grab", "fork", "fold"],
                                p=[0.2, 0.2, 0.15, 0.1, 0.1, 0.1, 0.15]))
            if op == "open":
                calls.append((op, vat.functions.frob(i, u, u, u, int(E18 * rng.uniform(1, 100)),
                                                     int(E18 * rng.uniform(0, 50_000))), u))
            elif op == "draw" and ink:
                calls.append((op, vat.functions.frob(i, u, u, u, 0, int(E18 * rng.uniform(1, 5_000))), u))
            elif op == "wipe" and art:
                calls.append((op, vat.functions.frob(i, u, u, u, 0, -int(art * rng.uniform(0.1, 1.0))), u))
            elif op == "free" and ink:
                calls.append((op, vat.functions.frob(i, u, u, u, -int(ink * rng.uniform(0.05, 0.3)), 0), u))
            elif op == "grab" and art:
                share = rng.uniform(0.3, 1.0)
                calls.append((op, vat.functions.grab(i, u, admin, admin, -int(ink * share), -int(art * share)), admin))
            elif op == "fork" and (ink or art):
                to = users[int(rng.integers(len(users)))]
                if to != u:
                    share = rng.uniform(0.1, 0.5)
                    calls.append((op, vat.functions.fork(i, u, to, int(ink * share), int(art * share)), u))
            elif op == "fold":
                calls.append((op, vat.functions.fold(i, admin, int(RAY * rng.uniform(0, 0.002))), admin))
        _block(chain, rng, calls, out.counts)
        if (b + 1) % 30 == 0:
            out.blocks.append(chain.w3.eth.block_number)
    return out
