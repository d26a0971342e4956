"""Random but valid loan books for the devnet: each account borrows within its LTV at the prices given.

Seeded numpy generators only, so a seed names a book. Amounts are token base units (int).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.devnet.builder import AssetSpec


@dataclass(frozen=True)
class Loan:
    collateral: dict[str, int]
    debt: dict[str, int]


def units(usd: float, price_usd: float, decimals: int) -> int:
    return int(usd / price_usd * 10**decimals)


def random_loan(rng: np.random.Generator, assets: dict[str, AssetSpec], prices_usd: dict[str, float], *,
                max_collateral_assets: int = 4, max_debt_assets: int = 3,
                usd_range: tuple[float, float] = (1e2, 1e6), utilisation: tuple[float, float] = (0.3, 0.97),
                disjoint: bool = False) -> Loan:
    """1..4 collateral assets (log-uniform USD sizes), 1..3 debt assets sharing a random part of the
    borrowing power (sum of collateral value times LTV). `disjoint`: no asset is both."""
    symbols = sorted(assets)
    if disjoint:
        max_collateral_assets = min(max_collateral_assets, len(symbols) - 1)
    n_coll = int(rng.integers(1, min(max_collateral_assets, len(symbols)) + 1))
    coll_syms = [str(s) for s in rng.choice(symbols, size=n_coll, replace=False)]
    lo, hi = np.log10(usd_range[0]), np.log10(usd_range[1])
    coll_usd = {s: float(10 ** rng.uniform(lo, hi)) for s in coll_syms}
    power = sum(v * assets[s].params.ltv / 10_000 for s, v in coll_usd.items())
    borrowable = [s for s in symbols if assets[s].params.borrowable and not (disjoint and s in coll_syms)]
    n_debt = int(rng.integers(1, min(max_debt_assets, len(borrowable)) + 1))
    debt_syms = [str(s) for s in rng.choice(borrowable, size=n_debt, replace=False)]
    shares = rng.dirichlet(np.ones(n_debt))
    total_debt = power * rng.uniform(*utilisation)
    collateral = {s: units(v, prices_usd[s], assets[s].decimals) for s, v in coll_usd.items()}
    debt = {s: units(total_debt * w, prices_usd[s], assets[s].decimals) for s, w in zip(debt_syms, shares)}
    return Loan(collateral, {s: a for s, a in debt.items() if a > 0})


def shocked_prices(rng: np.random.Generator, prices_usd: dict[str, float], sigma: float = 0.25) -> dict[str, float]:
    """Each price times exp(N(0, sigma)), rounded to the feed's 8 decimals."""
    return {s: round(p * float(np.exp(rng.normal(0.0, sigma))), 8) for s, p in prices_usd.items()}


def answers_for_health_factor(loan: Loan, assets: dict[str, AssetSpec], answers: dict[str, int],
                              target: float) -> dict[str, int]:
    """Scale the collateral feeds (8-decimal answers) by one factor so the loan's HF is about `target`.

    Needs a loan whose collateral and debt assets are disjoint (random_loan(disjoint=True)):
    the HF is then proportional to the collateral prices.
    """
    if set(loan.collateral) & set(loan.debt):
        raise ValueError("collateral and debt assets overlap")
    adjusted = sum(a * answers[s] / 10**assets[s].decimals * assets[s].params.liquidation_threshold / 10_000
                   for s, a in loan.collateral.items())
    debt = sum(a * answers[s] / 10**assets[s].decimals for s, a in loan.debt.items())
    factor = target * debt / adjusted
    return {s: (max(1, round(p * factor)) if s in loan.collateral else p) for s, p in answers.items()}
