"""Open and read Aave positions on the devnet: supply collateral, borrow, ask the pool about an account.

Works for both market versions: v3 names the deposit `supply`, v2 `deposit`; everything else
we use has the same signature.
"""

from __future__ import annotations

from dataclasses import dataclass

from backtest.devnet.aave import AaveMarket
from backtest.devnet.builder import Devnet

VARIABLE_RATE = 2
MAX_UINT = 2**256 - 1


@dataclass(frozen=True)
class AccountData:
    """getUserAccountData, in the market's base units (8-decimal USD here) and WAD health factor."""

    total_collateral: int
    total_debt: int
    available_borrows: int
    liquidation_threshold: int
    ltv: int
    health_factor: int


def approve_all(net: Devnet, market: AaveMarket, account: str) -> None:
    net.chain.send_many([(t.functions.approve(market.pool.address, MAX_UINT), account) for t in net.tokens.values()])


def open_position(net: Devnet, market: AaveMarket, account: str, collateral: dict[str, int],
                  debt: dict[str, int], *, mint: bool = True) -> None:
    """Supply each collateral (token base units), then borrow each debt at the variable rate.

    Two blocks: the mints (unless the account is already funded), then the supplies and borrows
    in nonce order. The account must have approved the pool (approve_all) and the prices must
    allow the borrows.
    """
    chain, pool = net.chain, market.pool
    coll = {s: a for s, a in collateral.items() if a > 0}
    if mint and coll:
        chain.send_many([(net.tokens[s].functions.mint(account, a), None) for s, a in coll.items()])
    deposit = pool.functions.supply if market.version == 3 else pool.functions.deposit
    calls = [(deposit(net.tokens[s].address, a, account, 0), account) for s, a in coll.items()]
    calls += [(pool.functions.borrow(net.tokens[s].address, a, VARIABLE_RATE, 0, account), account)
              for s, a in debt.items() if a > 0]
    chain.send_many(calls)


def account_data(net: Devnet, market: AaveMarket, account: str, block="latest") -> AccountData:
    return AccountData(*net.chain.call_many([market.pool.functions.getUserAccountData(account)], block)[0])


def balances(net: Devnet, market: AaveMarket, account: str, block="latest") -> tuple[dict[str, int], dict[str, int]]:
    """(collateral aToken balances, variable + stable debt) per symbol, in token base units."""
    syms = list(market.reserves)
    calls = []
    for s in syms:
        r = market.reserves[s]
        calls += [r.a_token.functions.balanceOf(account), r.variable_debt.functions.balanceOf(account),
                  r.stable_debt.functions.balanceOf(account)]
    out = net.chain.call_many(calls, block)
    coll = {s: out[3 * i] for i, s in enumerate(syms)}
    debt = {s: out[3 * i + 1] + out[3 * i + 2] for i, s in enumerate(syms)}
    return coll, debt


def oracle_prices(net: Devnet, market: AaveMarket, block="latest") -> dict[str, int]:
    syms = list(net.tokens)
    out = net.chain.call_many([market.oracle.functions.getAssetPrice(net.tokens[s].address) for s in syms], block)
    return dict(zip(syms, out))


@dataclass(frozen=True)
class LiquidationOutcome:
    """What a liquidationCall changed, read from balances (not from its event)."""

    debt_repaid: int          # the user's debt decrease in the debt reserve
    collateral_seized: int    # the user's aToken decrease: to the liquidator and the treasury
    protocol_fee: int         # the treasury's aToken increase (v3 liquidation protocol fee)
    gas_used: int


def liquidate(net: Devnet, market: AaveMarket, liquidator: str, user: str, collateral: str, debt: str,
              debt_to_cover: int, receive_a_token: bool = False) -> LiquidationOutcome:
    """Call liquidationCall and measure it. The liquidator must hold and have approved the debt asset."""
    c, d = market.reserves[collateral], market.reserves[debt]

    def read():
        return net.chain.call_many([d.variable_debt.functions.balanceOf(user), d.stable_debt.functions.balanceOf(user),
                                    c.a_token.functions.balanceOf(user), c.a_token.functions.balanceOf(market.treasury)])

    before = read()
    receipt = net.chain.send(market.pool.functions.liquidationCall(
        c.asset.address, d.asset.address, user, debt_to_cover, receive_a_token), liquidator)
    after = read()
    return LiquidationOutcome(before[0] + before[1] - after[0] - after[1], before[2] - after[2],
                              after[3] - before[3], int(receipt["gasUsed"], 16))
