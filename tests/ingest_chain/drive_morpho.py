"""Drive the real Morpho Blue on anvil: a seeded stream of supplies, withdrawals, borrows, repays,
collateral moves, oracle moves, liquidations (bad debt included), fee changes, with interest accruing."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backtest.devnet.chain import TxFailed
from backtest.devnet.morpho import create_market, deploy_morpho, deploy_tokens, fund, oracle_price
from backtest.protocols.morpho_blue import exact

DECIMALS = {"WETH": 18, "WBTC": 8, "USDC": 6, "DAI": 18}
USD = {"WETH": 2_000.0, "WBTC": 30_000.0, "USDC": 1.0, "DAI": 1.0}
MARKETS = (("WETH", "USDC", 860 * 10**15), ("WBTC", "USDC", 770 * 10**15), ("WETH", "DAI", 945 * 10**15))
OPS = ("supply", "withdraw", "collateral", "withdraw_collateral", "borrow", "repay", "price", "liquidate", "fee")
WEIGHTS = (0.14, 0.06, 0.14, 0.04, 0.22, 0.08, 0.1, 0.18, 0.04)


@dataclass
class Driven:
    mb: object
    tokens: dict
    users: list[str]
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPS + ("bad_debt",), 0))
    blocks: list[int] = field(default_factory=list)


def _send(chain, call, sender) -> bool:
    if chain.revert_reason(call, sender) is not None:
        return False
    try:
        chain.send(call, sender)
    except TxFailed:
        return False
    return True


def drive(chain, n_ops: int = 400, seed: int = 3, every: int = 50) -> Driven:
    rng = np.random.default_rng(seed)
    tokens = deploy_tokens(chain, DECIMALS)
    mb = deploy_morpho(chain)
    users = chain.accounts[2:8]
    fund(mb, tokens, users)
    chain.send(mb.irm.functions.setRate(int(0.3 / (365 * 86400) * 1e18)))      # 30 % a year: accrual moves
    markets = [create_market(mb, tokens[loan], tokens[coll], lltv,
                             oracle_price(USD[coll] / USD[loan], DECIMALS[coll], DECIMALS[loan]), f"{coll}/{loan}")
               for coll, loan, lltv in MARKETS]
    d = Driven(mb, tokens, users)
    for i in range(n_ops):
        op = str(rng.choice(OPS, p=WEIGHTS))
        m = markets[rng.integers(len(markets))]
        coll, loan, _ = MARKETS[markets.index(m)]
        user = users[rng.integers(len(users))]
        state, pos = mb.state(m), mb.position(m, user)
        price = chain.call_many([m.oracle.functions.price()])[0]
        ok = False
        if op == "supply":
            amount = int(10 ** rng.uniform(DECIMALS[loan] + 3, DECIMALS[loan] + 7))
            ok = _send(chain, mb.call("supply", m, amount, 0, user, b""), user)
        elif op == "withdraw" and pos.supply_shares:
            ok = _send(chain, mb.call("withdraw", m, 0, int(pos.supply_shares * rng.uniform(0.05, 1.0)) or 1,
                                      user, user), user)
        elif op == "collateral":
            amount = int(10 ** rng.uniform(DECIMALS[coll] - 1, DECIMALS[coll] + 2))
            ok = _send(chain, mb.call("supplyCollateral", m, amount, user, b""), user)
        elif op == "withdraw_collateral" and pos.collateral:
            ok = _send(chain, mb.call("withdrawCollateral", m, int(pos.collateral * rng.uniform(0.01, 0.3)) or 1,
                                      user, user), user)
        elif op == "borrow" and pos.collateral:
            room = exact.max_borrow(pos.collateral, price, m.params.lltv) - exact.borrowed(pos, state)
            ok = room > 10 and _send(chain, mb.call("borrow", m, int(room * rng.uniform(0.6, 0.995)), 0, user, user),
                                     user)
        elif op == "repay" and pos.borrow_shares:
            if rng.random() < 0.3:       # repay everything by shares (the zeroFloorSub path)
                ok = _send(chain, mb.call("repay", m, 0, pos.borrow_shares, user, b""), user)
            else:
                ok = _send(chain, mb.call("repay", m, max(int(exact.borrowed(pos, state) * rng.uniform(0.05, 0.9)), 1),
                                          0, user, b""), user)
        elif op == "price":
            factor = 0.6 if rng.random() < 0.35 else rng.uniform(0.85, 1.12)
            ok = _send(chain, m.oracle.functions.setPrice(max(int(price * factor), 1)), None)
        elif op == "liquidate":
            victims = [u for u in users if not exact.is_healthy(mb.position(m, u), state, price, m.params.lltv)]
            if victims:
                v = victims[rng.integers(len(victims))]
                vpos = mb.position(m, v)
                seize = vpos.collateral if rng.random() < 0.5 else max(int(vpos.collateral * rng.uniform(0.1, 0.9)), 1)
                liq = users[(users.index(v) + 1) % len(users)]
                ok = _send(chain, mb.call("liquidate", m, v, seize, 0, b""), liq)
                if not ok:               # too much collateral for the debt: repay all shares instead
                    ok = _send(chain, mb.call("liquidate", m, v, 0, vpos.borrow_shares, b""), liq)
                if ok and mb.position(m, v).collateral == 0:
                    d.counts["bad_debt"] += 1
        elif op == "fee":
            if rng.random() < 0.5:
                ok = _send(chain, mb.morpho.functions.setFeeRecipient(users[rng.integers(len(users))]), None)
            else:
                ok = _send(chain, mb.call("setFee", m, int(rng.uniform(0.01, 0.25) * 1e18)), None)
        d.counts[op] += ok
        chain.mine(int(rng.integers(60, 3 * 86400)))
        if (i + 1) % every == 0:
            d.blocks.append(int(chain.rpc("eth_blockNumber"), 16))
    return d
