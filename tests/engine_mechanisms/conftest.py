"""A hand-made book and venues: one or two accounts, one Uniswap v2 pool, a price path."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from backtest.config import RunConfig
from backtest.inputs.book import Book, ReplayInputs
from backtest.markets.depth_book import USD
from backtest.markets.router import Router
from backtest.markets.venue_kinds import V2Pool

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def make_inputs(protocol: str, reserves: dict, accounts: dict, path: dict, pool: tuple[float, float] | None,
                step_seconds: int = 600) -> ReplayInputs:
    """`reserves`: asset -> (liquidation_threshold, liquidation_bonus) of `protocol`;
    `accounts`: address -> {asset: (collateral, debt)}; `path`: asset -> prices per step;
    `pool`: (WETH, USD) reserves of a WETH/USD Uniswap v2 pool at 0.3 %, or None."""
    price_assets = sorted(path)
    assets = sorted(reserves)
    coll = np.array([[accounts[a].get(r, (0.0, 0.0))[0] for r in assets] for a in sorted(accounts)], dtype=float)
    debt = np.array([[accounts[a].get(r, (0.0, 0.0))[1] for r in assets] for a in sorted(accounts)], dtype=float)
    lt = np.array([reserves[r][0] for r in assets])
    bonus = np.array([reserves[r][1] for r in assets])
    exo = np.array([path[a] for a in price_assets], dtype=float).T
    book = Book(protocol=np.array([protocol] * len(accounts), dtype=object), accounts=np.array(sorted(accounts)),
                assets=assets, reserve_protocol=[protocol] * len(assets), price_assets=price_assets,
                reserve_asset=np.array([price_assets.index(r) for r in assets]), collateral=coll, debt=debt,
                ltv=lt.copy(), liquidation_threshold=lt, liquidation_bonus=bonus, close_factor=np.ones(len(assets)),
                protocol_fee=np.zeros(len(assets)), prices=exo[0].copy(), block_number=1, timestamp=START)
    weth = price_assets.index("WETH")
    venues = [V2Pool(weth, USD, pool[0], pool[1], 0.003, name="WETH-USD")] if pool else []
    n = len(exo)
    times = np.array([np.datetime64("2024-01-01T00:00:00", "us") + np.timedelta64(step_seconds * k, "s")
                      for k in range(n)])
    return ReplayInputs(book=book, pools=Router(exo[0].copy(), venues), times=times, exogenous=exo,
                        gas_gwei=np.zeros(n), step_blocks=1 + np.arange(n) * step_seconds // 12)


def config(spec: dict | None = None, *overrides) -> RunConfig:
    """The hand-worked cases price the mechanisms' own maths: the reference market does not move
    (`impact.scale=0`: buying the stable that has no pool costs exactly its price) unless a test
    sets it, and one liquidator acts alone (no rival bids its profit to the builder)."""
    from backtest.overrides import apply_overrides
    return apply_overrides(RunConfig(scenario="hand-made", lake="", scenario_spec=spec or {}),
                           ["impact.scale=0", "competitors=none", *overrides])


def filtered_as_unfiltered(monkeypatch, module, name: str, go) -> tuple[list, object]:
    """Runs `go()` (an Outcome) with `module.name`, an exact filter before quotes, counted, then with it
    answering False (quote everything), and asserts the two runs' events, liquidations and protocol
    summaries are the same. (each answer of the filter, the unfiltered Outcome)."""
    real, answers = getattr(module, name), []

    def counted(*a):
        answers.append(real(*a))
        return answers[-1]

    monkeypatch.setattr(module, name, counted)
    fast = go()
    monkeypatch.setattr(module, name, lambda *a: False)
    full = go()
    for got, want in ((fast.events, full.events), (fast.liquidations, full.liquidations)):
        assert got.to_pandas().equals(want.to_pandas())       # NaN where NaN
    assert fast.protocols == full.protocols
    monkeypatch.setattr(module, name, real)
    return answers, full
