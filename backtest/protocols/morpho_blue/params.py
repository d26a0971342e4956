"""Morpho Blue's constants and the typed parameters of one market.

Source: morpho-org/morpho-blue v1.0.0 (npm @morpho-org/morpho-blue 1.0.0) `src/libraries/ConstantsLib.sol`,
`MathLib.sol` (WAD), `SharesMathLib.sol` (virtual shares/assets), `MarketParamsLib.sol` (the id),
`src/interfaces/IMorpho.sol` (MarketParams, Market, Position).
"""

from __future__ import annotations

from dataclasses import dataclass

WAD = 10**18
ORACLE_PRICE_SCALE = 10**36            # price of 1 collateral base unit in loan base units, x 1e36
LIQUIDATION_CURSOR = 3 * 10**17        # 0.3
MAX_LIQUIDATION_INCENTIVE_FACTOR = 115 * 10**16    # 1.15
MAX_FEE = 25 * 10**16                  # 25 % of interest
VIRTUAL_SHARES = 10**6
VIRTUAL_ASSETS = 1


def _word(value: int | str) -> bytes:
    if isinstance(value, str):
        value = int(value, 16)
    return int(value).to_bytes(32, "big")


@dataclass(frozen=True)
class MarketParams:
    """What identifies an isolated market; `lltv` in WAD (0.86 -> 860000000000000000)."""
    loan_token: str
    collateral_token: str
    oracle: str
    irm: str
    lltv: int

    @property
    def id(self) -> str:
        """keccak256 of the five 32-byte words, as MarketParamsLib.id hashes the struct in memory."""
        from eth_utils import keccak         # here: eth_utils (pydantic) costs `backtest replay` ~0.13 s to import
        words = b"".join(_word(v) for v in (self.loan_token, self.collateral_token, self.oracle, self.irm,
                                            self.lltv))
        return "0x" + keccak(words).hex()

    @property
    def lltv_fraction(self) -> float:
        return self.lltv / WAD


@dataclass(frozen=True)
class MarketState:
    """`Market` as stored: totals in loan-token base units and shares; fee in WAD."""
    total_supply_assets: int
    total_supply_shares: int
    total_borrow_assets: int
    total_borrow_shares: int
    last_update: int = 0
    fee: int = 0


@dataclass(frozen=True)
class Position:
    supply_shares: int
    borrow_shares: int
    collateral: int                      # collateral-token base units
