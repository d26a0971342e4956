"""Morpho Blue in float64 over many positions at once: the twin of `exact` that the engine runs.

Units: `borrowed` in loan-token units, `collateral` in collateral-token units, `price` in loan-token
units per collateral-token unit (the oracle's price / 1e36, rescaled by the decimals), `lltv` a
fraction. USD works as well for both amounts if `price` is 1 and values are passed.
`tests/chain/test_morpho_blue_differential.py` holds these to the contract within 1e-9 relative.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from backtest.protocols.morpho_blue.params import LIQUIDATION_CURSOR, MAX_LIQUIDATION_INCENTIVE_FACTOR, WAD

CURSOR = LIQUIDATION_CURSOR / WAD                      # 0.3
MAX_INCENTIVE = MAX_LIQUIDATION_INCENTIVE_FACTOR / WAD  # 1.15


def incentive_factor(lltv) -> np.ndarray:
    """min(1.15, 1 / (0.3 lltv + 0.7)): what a liquidator receives per unit of debt repaid."""
    return np.minimum(MAX_INCENTIVE, 1.0 / (1.0 - CURSOR * (1.0 - np.asarray(lltv, dtype=float))))


def max_borrow(collateral, price, lltv) -> np.ndarray:
    return np.asarray(collateral, dtype=float) * price * lltv


def health_factor(borrowed, collateral, price, lltv) -> np.ndarray:
    """collateral x price x LLTV / borrowed (inf without debt); below 1 is liquidatable."""
    borrowed = np.asarray(borrowed, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(borrowed > 0, max_borrow(collateral, price, lltv) / np.where(borrowed > 0, borrowed, 1.0),
                        np.inf)


def liquidatable(borrowed, collateral, price, lltv) -> np.ndarray:
    return np.asarray(borrowed, dtype=float) > max_borrow(collateral, price, lltv)


def seize_for_repay(repaid, price, lltv) -> np.ndarray:
    """Collateral a liquidator gets for repaying `repaid` (the repaidShares branch)."""
    return np.asarray(repaid, dtype=float) * incentive_factor(lltv) / price


def repay_for_seize(seized, price, lltv) -> np.ndarray:
    """Debt a liquidator repays to take `seized` collateral (the seizedAssets branch)."""
    return np.asarray(seized, dtype=float) * price / incentive_factor(lltv)


class Liquidation(NamedTuple):
    repaid: np.ndarray          # loan-token units paid by the liquidator
    seized: np.ndarray          # collateral-token units to the liquidator
    bad_debt: np.ndarray        # loan-token units written off against the market's suppliers


def liquidate(repay, borrowed, collateral, price, lltv) -> Liquidation:
    """A liquidator repays up to `repay` (capped by the debt and by the collateral there is).

    Morpho has no close factor: the whole debt may go in one call. If the call takes the last
    collateral, the rest of the debt is bad debt, realised at once.
    """
    return liquidate_at(repay, borrowed, collateral, price, incentive_factor(lltv))


def liquidate_at(repay, borrowed, collateral, price, incentive) -> Liquidation:
    """`liquidate` with the incentive factor given (the engine carries it per market as 1 + bonus)."""
    borrowed = np.asarray(borrowed, dtype=float)
    collateral = np.asarray(collateral, dtype=float)
    repaid = np.minimum(np.asarray(repay, dtype=float), borrowed)
    seized = repaid * incentive / price
    capped = seized >= collateral
    seized = np.where(capped, collateral, seized)
    repaid = np.where(capped, collateral * price / incentive, repaid)
    bad = np.where(capped, np.maximum(borrowed - repaid, 0.0), 0.0)
    return Liquidation(repaid, seized, bad)


def borrowed_assets(borrow_shares, total_borrow_assets, total_borrow_shares) -> np.ndarray:
    """Shares to assets with the virtual shares (1e6) and asset (1), in base units."""
    return np.asarray(borrow_shares, dtype=float) * (total_borrow_assets + 1.0) / (total_borrow_shares + 1e6)
