"""Morpho Blue in exact integers, as the contract computes: the reference the float twin is held to.

Source: morpho-org/morpho-blue v1.0.0 `src/Morpho.sol` (`_isHealthy`, `liquidate`, `_accrueInterest`),
`src/libraries/MathLib.sol`, `SharesMathLib.sol`, `UtilsLib.sol`. Every rounding direction below is
the contract's: borrowed assets round up, collateral value and max borrow round down, shares
repaid for a seize round up, collateral seized for shares repaid rounds down.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from backtest.protocols.morpho_blue.params import (LIQUIDATION_CURSOR, MAX_LIQUIDATION_INCENTIVE_FACTOR,
                                                   ORACLE_PRICE_SCALE, VIRTUAL_ASSETS, VIRTUAL_SHARES, WAD,
                                                   MarketState, Position)


class Reverts(Exception):
    """The contract call would revert; the message is its reason (ErrorsLib text, or an underflow)."""


def mul_div_down(x: int, y: int, d: int) -> int:
    return x * y // d


def mul_div_up(x: int, y: int, d: int) -> int:
    return (x * y + d - 1) // d


def w_mul_down(x: int, y: int) -> int:
    return x * y // WAD


def w_div_down(x: int, y: int) -> int:
    return x * WAD // y


def w_div_up(x: int, y: int) -> int:
    return mul_div_up(x, WAD, y)


def to_shares_down(assets: int, total_assets: int, total_shares: int) -> int:
    return mul_div_down(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_shares_up(assets: int, total_assets: int, total_shares: int) -> int:
    return mul_div_up(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_assets_down(shares: int, total_assets: int, total_shares: int) -> int:
    return mul_div_down(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


def to_assets_up(shares: int, total_assets: int, total_shares: int) -> int:
    return mul_div_up(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


def w_taylor_compounded(x: int, n: int) -> int:
    first = x * n
    second = mul_div_down(first, first, 2 * WAD)
    third = mul_div_down(second, first, 3 * WAD)
    return first + second + third


def liquidation_incentive_factor(lltv: int) -> int:
    """min(1.15, 1 / (1 - 0.3 (1 - lltv))) in WAD, i.e. 1 / (0.3 lltv + 0.7) with the contract's rounding."""
    return min(MAX_LIQUIDATION_INCENTIVE_FACTOR, w_div_down(WAD, WAD - w_mul_down(LIQUIDATION_CURSOR, WAD - lltv)))


def borrowed(position: Position, market: MarketState) -> int:
    """The borrower's debt in loan base units (shares to assets, rounded up)."""
    return to_assets_up(position.borrow_shares, market.total_borrow_assets, market.total_borrow_shares)


def max_borrow(collateral: int, price: int, lltv: int) -> int:
    return w_mul_down(mul_div_down(collateral, price, ORACLE_PRICE_SCALE), lltv)


def is_healthy(position: Position, market: MarketState, price: int, lltv: int) -> bool:
    """borrowed <= collateral x price x LLTV (a position with no borrow shares is always healthy)."""
    if position.borrow_shares == 0:
        return True
    return max_borrow(position.collateral, price, lltv) >= borrowed(position, market)


class Liquidation(NamedTuple):
    seized_assets: int          # collateral base units to the liquidator
    repaid_assets: int          # loan base units the liquidator pays
    repaid_shares: int
    bad_debt_assets: int        # written off: the market's suppliers lose this much
    bad_debt_shares: int
    market: MarketState         # after the call
    position: Position          # after the call


def accrue_interest(market: MarketState, borrow_rate: int, elapsed: int) -> tuple[MarketState, int, int]:
    """(market after, interest, fee shares) for `elapsed` seconds at a per-second WAD `borrow_rate`.

    The fee shares go to the fee recipient's position (not returned here).
    """
    if elapsed == 0:
        return market, 0, 0
    interest = w_mul_down(market.total_borrow_assets, w_taylor_compounded(borrow_rate, elapsed))
    supply_assets = market.total_supply_assets + interest
    fee_shares = 0
    if market.fee:
        fee_amount = w_mul_down(interest, market.fee)
        fee_shares = to_shares_down(fee_amount, supply_assets - fee_amount, market.total_supply_shares)
    return replace(market, total_borrow_assets=market.total_borrow_assets + interest,
                   total_supply_assets=supply_assets,
                   total_supply_shares=market.total_supply_shares + fee_shares,
                   last_update=market.last_update + elapsed), interest, fee_shares


def liquidate(market: MarketState, position: Position, price: int, lltv: int, *,
              seized_assets: int = 0, repaid_shares: int = 0) -> Liquidation:
    """One `liquidate` call after interest accrual: exactly one of seized_assets, repaid_shares non-zero.

    Bad debt: when the call leaves no collateral, the remaining borrow shares are written off and
    their assets (capped by totalBorrowAssets) come off totalSupplyAssets: every supplier of the
    market shares the loss pro rata.
    """
    if (seized_assets == 0) == (repaid_shares == 0):
        raise Reverts("inconsistent input")
    if is_healthy(position, market, price, lltv):
        raise Reverts("position is healthy")
    lif = liquidation_incentive_factor(lltv)
    tba, tbs = market.total_borrow_assets, market.total_borrow_shares
    if seized_assets > 0:
        quoted = mul_div_up(seized_assets, price, ORACLE_PRICE_SCALE)
        repaid_shares = to_shares_up(w_div_up(quoted, lif), tba, tbs)
    else:
        seized_assets = mul_div_down(w_mul_down(to_assets_down(repaid_shares, tba, tbs), lif),
                                     ORACLE_PRICE_SCALE, price)
    repaid_assets = to_assets_up(repaid_shares, tba, tbs)
    if repaid_shares > position.borrow_shares:
        raise Reverts("arithmetic underflow: repaid shares exceed the borrower's shares")
    if seized_assets > position.collateral:
        raise Reverts("arithmetic underflow: seized assets exceed the borrower's collateral")
    borrow_shares = position.borrow_shares - repaid_shares
    tbs -= repaid_shares
    tba = max(tba - repaid_assets, 0)                       # zeroFloorSub
    collateral = position.collateral - seized_assets
    tsa = market.total_supply_assets
    bad_shares = bad_assets = 0
    if collateral == 0:
        bad_shares = borrow_shares
        bad_assets = min(tba, to_assets_up(bad_shares, tba, tbs))
        tba -= bad_assets
        tsa -= bad_assets
        tbs -= bad_shares
        borrow_shares = 0
    after = replace(market, total_supply_assets=tsa, total_borrow_assets=tba, total_borrow_shares=tbs)
    return Liquidation(seized_assets, repaid_assets, repaid_shares, bad_assets, bad_shares, after,
                       Position(position.supply_shares, borrow_shares, collateral))
