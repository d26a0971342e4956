"""Load a replay's inputs from the lake: the book as dense [account, asset] arrays, the risk
parameters in force at its block, the pools, and the scenario's paths on the step grid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backtest.config import RunConfig
from backtest.errors import InputError
from backtest.lake.catalog import connect, run_query
from backtest.lake.io import read_files, read_table
from backtest.scenarios.library import Scenario
from backtest.scenarios.paths import exogenous_paths, gas_path, step_times


@dataclass
class Book:
    protocol: np.ndarray           # [N] protocol name per account
    accounts: np.ndarray           # [N] addresses, sorted
    assets: list[str]              # [A] sorted
    collateral: np.ndarray         # [N, A] token units
    debt: np.ndarray               # [N, A]
    ltv: np.ndarray                # [A]
    liquidation_threshold: np.ndarray
    liquidation_bonus: np.ndarray
    close_factor: np.ndarray
    protocol_fee: np.ndarray
    prices: np.ndarray             # [A] USD at the snapshot
    block_number: int
    timestamp: datetime


@dataclass
class Pools:
    names: list[str]
    asset: np.ndarray              # [P] index of the pool's traded asset
    quote_asset: np.ndarray        # [P]
    base: np.ndarray               # [P] reserves, oriented asset/quote
    quote: np.ndarray
    fee: np.ndarray


@dataclass
class ReplayInputs:
    book: Book
    pools: Pools
    times: np.ndarray              # [T] datetime64[us], UTC
    exogenous: np.ndarray          # [T, A]
    gas_gwei: np.ndarray           # [T]


def _snapshot(positions: pa.Table, scenario: Scenario) -> int:
    blocks = positions["block_number"].to_numpy()
    if scenario.anchor == "book":
        return int(blocks.max())
    ts = positions["timestamp"].cast(pa.int64()).to_numpy()
    start_us = int(scenario.start.timestamp() * 1_000_000)
    before = blocks[ts <= start_us]
    if before.size == 0:
        raise InputError(f"no positions snapshot at or before the scenario start {scenario.start:%Y-%m-%d %H:%M}Z "
                         "(anchor = \"absolute\" needs one; use anchor = \"book\" to replay today's book)",
                         file=scenario.path, column="anchor")
    return int(before.max())


def _check_positions(files, known_assets: set[str]) -> None:
    for path, t in files:
        assets = t["asset"].to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(~np.isin(assets, list(known_assets)))
        if bad.size:
            raise InputError(f"asset {assets[bad[0]]!r} is not in the markets table", file=path, column="asset",
                             row=int(bad[0]) + 1)
        key = np.char.add(np.char.add(np.char.add(t["account"].to_numpy(zero_copy_only=False).astype(str), "|"),
                                      assets.astype(str)), "|" + t["block_number"].to_numpy().astype(str).astype(object))
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        if (counts > 1).any():
            dup = np.sort(np.setdiff1d(np.arange(len(key)), first))[0]
            raise InputError("duplicated (account, asset, block_number)", file=path, column="account", row=int(dup) + 1)


def _params_at(markets: pa.Table, block: int, assets: list[str], config: RunConfig) -> dict[str, np.ndarray]:
    """The markets row in force at `block` for each asset (largest valid_from_block <= block)."""
    df = markets.to_pandas()
    df = df[df["valid_from_block"] <= block].sort_values("valid_from_block").groupby("asset").tail(1)
    df = df.set_index("asset")
    missing = [a for a in assets if a not in df.index]
    if missing:
        raise InputError(f"no markets parameters for {missing[0]} in force at block {block}", column="valid_from_block")
    out = {}
    defaults = {"close_factor": 0.5, "protocol_fee": 0.0}
    for name in ("ltv", "liquidation_threshold", "liquidation_bonus", "close_factor", "protocol_fee"):
        col = df.loc[assets, name].astype(float).to_numpy()
        col = np.where(np.isnan(col), defaults.get(name, np.nan), col)
        out[name] = np.array([config.market_param(name, a, v) for a, v in zip(assets, col)])
    lt, bonus = out["liquidation_threshold"], out["liquidation_bonus"]
    if ((lt < 0) | (lt > 1)).any():
        raise InputError("liquidation_threshold must be within [0, 1] (after --set)", column="liquidation_threshold")
    if (lt * (1 + bonus) > 1 + 1e-12).any():
        a = assets[int(np.flatnonzero(lt * (1 + bonus) > 1 + 1e-12)[0])]
        raise InputError(f"{a}: liquidation_threshold * (1 + liquidation_bonus) > 1 (after --set): a liquidation "
                         "would seize more collateral than the account has", column="liquidation_bonus")
    return out


def load_book(lake: Path, scenario: Scenario, config: RunConfig) -> Book:
    markets = read_table(lake, "markets")
    read_table(lake, "prices")  # every price file checked before SQL reads them
    files = read_files(lake, "positions")
    known = set(markets["asset"].to_pylist())
    _check_positions(files, known)
    positions = pa.concat_tables([t for _, t in files])
    block = _snapshot(positions, scenario)
    snap = positions.filter(pc.equal(positions["block_number"], block))
    assets = sorted(set(snap["asset"].to_pylist()))
    accounts, acc_idx = np.unique(snap["account"].to_numpy(zero_copy_only=False).astype(str), return_inverse=True)
    asset_idx = np.searchsorted(assets, snap["asset"].to_numpy(zero_copy_only=False).astype(str))
    coll = np.zeros((len(accounts), len(assets)))
    debt = np.zeros_like(coll)
    np.add.at(coll, (acc_idx, asset_idx), snap["collateral"].to_numpy())
    np.add.at(debt, (acc_idx, asset_idx), snap["debt"].to_numpy())
    protocol = np.empty(len(accounts), dtype=object)
    protocol[acc_idx] = snap["protocol"].to_numpy(zero_copy_only=False)
    ts = snap["timestamp"][0].as_py()
    con = connect(lake)
    prices = run_query(con, "book_prices", {"at": ts}).to_pydict()
    by_asset = dict(zip(prices["asset"], prices["price_usd"]))
    missing = [a for a in assets if a not in by_asset]
    if missing:
        raise InputError(f"no {missing[0]} price at or before the book snapshot {ts:%Y-%m-%d %H:%M}Z; import one with "
                         f"`backtest import-prices FILE --asset {missing[0]}`", file=Path(lake) / "prices", column="asset")
    params = _params_at(markets, block, assets, config)
    return Book(protocol=protocol, accounts=accounts, assets=assets, collateral=coll, debt=debt,
                prices=np.array([by_asset[a] for a in assets]), block_number=block, timestamp=ts, **params)


def load_pools(lake: Path, book: Book, config: RunConfig) -> Pools:
    """Per volatile asset, the deepest Uniswap v2 pool against a USD stablecoin, moved to the book's price."""
    table = read_table(lake, "pools", required=False).to_pandas()
    table = table[(table["dex"] == "uniswap-v2") & (table["block_number"] <= book.block_number)]
    table = table.sort_values("block_number").groupby("pool").tail(1)
    idx = {a: i for i, a in enumerate(book.assets)}
    best: dict[int, tuple] = {}
    for row in table.sort_values("pool").itertuples():
        for base_tok, quote_tok, rb, rq in ((row.token0, row.token1, row.reserve0, row.reserve1),
                                            (row.token1, row.token0, row.reserve1, row.reserve0)):
            # Sales go against a USD stablecoin (priced within 5% of $1 at the snapshot).
            if base_tok in idx and quote_tok in idx and abs(book.prices[idx[quote_tok]] - 1.0) < 0.05 \
                    and abs(book.prices[idx[base_tok]] - 1.0) >= 0.05:
                depth = rq * book.prices[idx[quote_tok]]
                if idx[base_tok] not in best or depth > best[idx[base_tok]][0]:
                    best[idx[base_tok]] = (depth, row.pool, idx[quote_tok], rb, rq, row.fee)
    keep = sorted(best)
    names, asset, quote_asset, base, quote, fee = [], [], [], [], [], []
    for a in keep:
        _, name, q, rb, rq, f = best[a]
        k = rb * rq * config.pool_depth_scale ** 2
        price_in_quote = book.prices[a] / book.prices[q]
        names.append(name); asset.append(a); quote_asset.append(q); fee.append(f)
        base.append(np.sqrt(k / price_in_quote)); quote.append(np.sqrt(k * price_in_quote))
    return Pools(names=names, asset=np.array(asset, int), quote_asset=np.array(quote_asset, int),
                 base=np.array(base, float), quote=np.array(quote, float), fee=np.array(fee, float))


def load_inputs(config: RunConfig, scenario: Scenario) -> ReplayInputs:
    lake = Path(config.lake)
    if not lake.is_dir():
        raise InputError("lake folder not found (make one with `backtest sample-data`)", file=lake)
    book = load_book(lake, scenario, config)
    pools = load_pools(lake, book, config)
    con = connect(lake)
    exo = exogenous_paths(con, scenario, book.assets, book.prices)
    return ReplayInputs(book=book, pools=pools, times=step_times(scenario), exogenous=exo,
                        gas_gwei=gas_path(con, scenario))
