"""SYNTHETIC replay inputs for the benchmark, drawn in memory by a seeded generator.

A multi-collateral Aave-v3-like book over 4 price assets (LINK, USDC, WBTC, WETH) and a
one-minute price path with a crash leg in it. Everything is vectorised (no per-account
Python), so 1M accounts take a few seconds and ~100 MB. Pool depth is a fixed share of the
book's own collateral, so a crash sells the same fraction of a pool whatever the book size:
the cascade, and so the work per account, is comparable from 10k to 1M accounts.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from backtest.config import RunConfig
from backtest.overrides import apply_overrides
from backtest.inputs.book import Book, ReplayInputs
from backtest.markets.router import Router
from backtest.markets.venue_kinds import V2Pool

START = datetime(2024, 3, 4, tzinfo=timezone.utc)
BLOCK = 19_360_000
ASSETS = ["LINK", "USDC", "WBTC", "WETH"]                      # sorted, as the engine keeps them
PRICE = np.array([18.0, 1.0, 62_000.0, 3_400.0])
# Aave v3 Ethereum-like risk parameters (public governance values, rounded).
LT = np.array([0.68, 0.78, 0.78, 0.83])
LTV = np.array([0.53, 0.75, 0.73, 0.80])
BONUS = np.array([0.07, 0.045, 0.05, 0.05])
COLLATERAL_MIX = np.array([0.10, 0.20, 0.20, 0.50])
VOL_PER_MINUTE = np.array([0.0012, 0.00002, 0.0006, 0.0008])  # ~4.5 %, 0.1 %, 2.3 %, 3 % a day
BETA = np.array([1.3, 0.0, 0.8, 1.0])                         # to the common crypto factor
CRASH = np.array([-0.25, 0.0, -0.14, -0.18])                  # the crash leg, per asset
POOL_SHARE = 1.0             # each pool side holds as much as the book has as collateral in its asset
VOLUME_SHARE = 1.0           # each reference market trades as much a day as the book holds of its asset (Aave
                             # v3's WETH collateral and ETH's daily spot volume are both ~$10bn: ratio ~1)
STABLE = 1


def addresses(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct sorted 0x-addresses, made without a Python loop."""
    head = np.unique(rng.integers(0, 2**63, size=n + n // 100 + 16, dtype=np.int64))
    head = head[rng.permutation(len(head))[:n]]
    head.sort()
    body = rng.integers(0, 256, size=(n, 20), dtype=np.uint8)
    body[:, :8] = head.astype(">u8").view(np.uint8).reshape(n, 8)
    hexes = np.array([f"{i:02x}" for i in range(256)], dtype="<U2")[body]
    return np.char.add("0x", np.ascontiguousarray(hexes).view("<U40").ravel())


def book(rng: np.random.Generator, n: int) -> Book:
    a = len(ASSETS)
    size = np.clip(np.exp(rng.normal(np.log(20_000), 1.3, n)), 200, 5e7)      # USD collateral
    first = rng.choice(a, size=n, p=COLLATERAL_MIX)
    second = (first + rng.integers(1, a, size=n)) % a
    share = np.where(rng.random(n) < 0.35, rng.uniform(0.1, 0.5, n), 0.0)
    coll_usd = np.zeros((n, a))
    rows = np.arange(n)
    coll_usd[rows, first] = size * (1 - share)
    coll_usd[rows, second] += size * share
    # Health factors: most comfortable, ~1 % in a thin tail just above 1 (as real books).
    tail = rng.random(n) < 0.01
    hf = np.where(tail, 1.0 + rng.exponential(0.08, n), 1.0 + np.exp(rng.normal(np.log(0.8), 0.6, n)))
    hf = np.maximum(hf, 1.001)
    borrower = rng.random(n) < 0.8
    # Borrow the stablecoin against volatile collateral, a volatile asset against the stablecoin.
    debt_asset = np.where(first == STABLE, rng.choice([0, 2, 3], size=n, p=[0.1, 0.3, 0.6]), STABLE)
    debt_usd = np.where(borrower, (coll_usd @ LT) / hf, 0.0)
    debt = np.zeros((n, a))
    debt[rows, debt_asset] = debt_usd / PRICE[debt_asset]
    return Book(protocol=np.full(n, "aave-v3", dtype=object), accounts=addresses(rng, n), assets=list(ASSETS),
                reserve_protocol=["aave-v3"] * a, price_assets=list(ASSETS), reserve_asset=np.arange(a),
                collateral=coll_usd / PRICE, debt=debt, ltv=LTV.copy(), liquidation_threshold=LT.copy(),
                liquidation_bonus=BONUS.copy(), close_factor=np.full(a, 0.5), protocol_fee=np.full(a, 0.10),
                prices=PRICE.copy(), block_number=BLOCK, timestamp=START)


def price_path(rng: np.random.Generator, steps: int) -> np.ndarray:
    """[steps, 4] one-minute prices: correlated noise, a crash leg at 40 % of the window
    lasting 1/6 of it (4 h of a day), then a partial rebound."""
    common = rng.normal(0.0, 1.0, steps)
    own = rng.normal(0.0, 1.0, (steps, len(ASSETS)))
    noise = VOL_PER_MINUTE * (0.8 * common[:, None] * np.sign(BETA) + 0.6 * own)
    t = np.arange(steps) / max(steps, 1)
    leg = np.clip((t - 0.4) / (1 / 6), 0.0, 1.0)
    rebound = 0.3 * np.clip((t - 0.4 - 1 / 6) / (1 / 4), 0.0, 1.0)
    trend = np.log1p(CRASH)[None, :] * (leg - rebound)[:, None]
    noise[0] = 0.0
    return PRICE * np.exp(np.cumsum(noise, axis=0) + trend)


def pools(b: Book) -> Router:
    """One Uniswap v2 pool per volatile asset against USDC, as deep as the book's collateral in it."""
    depth = POOL_SHARE * (b.collateral * PRICE).sum(axis=0)                   # USD per side
    venues = [V2Pool(asset=i, quote_asset=STABLE, base=depth[i] / PRICE[i], quote=depth[i], fee=0.003,
                     name=f"bench:{ASSETS[i]}-USDC") for i in range(len(ASSETS)) if i != STABLE]
    return Router(price=PRICE.copy(), venues=venues)


def bench_config(base: RunConfig, inputs: ReplayInputs) -> RunConfig:
    """`base` with each reference market's daily volume scaled to the book, as the pools are: the same
    crash then sells the same fraction of every market at any book size, so the cascade (and the work
    per account) stays comparable from 10k to 1M accounts."""
    usd = VOLUME_SHARE * (inputs.book.collateral * PRICE).sum(axis=0)
    return apply_overrides(base, [f"impact.{a}.daily_volume_usd={max(float(v), 1.0)!r}" for a, v in zip(ASSETS, usd)])


def bench_inputs(n_accounts: int, steps: int, seed: int = 0) -> ReplayInputs:
    rng = np.random.default_rng([seed, n_accounts, steps])
    b = book(rng, n_accounts)
    exo = price_path(rng, steps)
    times = np.datetime64(START.replace(tzinfo=None), "us") + np.arange(steps) * np.timedelta64(60, "s")
    crash = np.clip((np.arange(steps) / steps - 0.4) * 6, 0, 1) * (np.arange(steps) / steps < 0.6)
    gas = 30.0 * np.exp(rng.normal(0.0, 0.2, steps)) * (1 + 3 * crash)
    return ReplayInputs(book=b, pools=pools(b), times=times, exogenous=exo, gas_gwei=gas,
                        step_blocks=BLOCK + np.arange(steps, dtype=np.int64) * 5)
