"""Load a replay's inputs from the lake: the book as dense [account, asset] arrays, the risk
parameters in force at its block, the pools, and the scenario's paths on the step grid."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backtest.config import RunConfig
from backtest.errors import InputError
from backtest.lake.io import read_files, read_table
from backtest.lake.validate import drop_unknown, repeats
from backtest.inputs.params import DEBT_ONLY_ROW, EMODE_PARAMS, MARKET_PARAMS, PARAM_DEFAULTS, check, resolve
from backtest.inputs.venues import load_venues
from backtest.protocols.aave import emode as aave_emode
from backtest.protocols.maker.ilks import NO_MARKET, ilk_names, vault_markets
from backtest.markets.router import Router
from backtest.scenarios.library import Scenario
from backtest.scenarios.moves import PathSources


@dataclass
class Book:
    """The book as dense arrays. Columns are *reserves*: one per (protocol, asset) in the book,
    so each protocol keeps its own risk parameters while all of them share one price per asset;
    an Aave v3 e-mode category k adds a reserve (protocol, asset, k) with the category's LTV, LT
    and bonus, holding the positions of accounts in category k in assets of category k; a Maker
    ilk is a reserve (maker, asset, ilk) of its own (ETH-A, ETH-B and ETH-C all hold WETH)."""
    protocol: np.ndarray           # [N] rules each account is liquidated under
    accounts: np.ndarray           # [N] addresses, sorted by (protocol, address)
    assets: list[str]              # [R] asset symbol of each reserve
    reserve_protocol: list[str]    # [R] protocol of each reserve (its parameters' source)
    price_assets: list[str]        # [A] distinct assets, sorted: the price, oracle and venue axis
    reserve_asset: np.ndarray      # [R] index into price_assets
    collateral: np.ndarray         # [N, R] token units
    debt: np.ndarray               # [N, R]
    ltv: np.ndarray                # [R]
    liquidation_threshold: np.ndarray
    liquidation_bonus: np.ndarray
    close_factor: np.ndarray
    protocol_fee: np.ndarray
    prices: np.ndarray             # [A] USD at the snapshot
    block_number: int
    timestamp: datetime
    schedule: list = field(default_factory=list)   # [(block, {param: [R] array})] changes after the snapshot
    reserve_emode: np.ndarray | None = None   # [R] e-mode category of each reserve, 0 = none (None: all 0)
    emode: np.ndarray | None = None           # [N] each account's e-mode category, 0 = none
    reserve_ilk: list[str] | None = None      # [R] Maker ilk of each collateral reserve, "" elsewhere (None: all "")

    @property
    def reserve_prices(self) -> np.ndarray:
        return self.prices[self.reserve_asset]


@dataclass
class ReplayInputs:
    book: Book
    pools: Router                  # every venue of every asset, at the book's block; each replay moves a fresh copy
    times: np.ndarray              # [T] datetime64[us], UTC
    exogenous: np.ndarray          # [T, A] per price asset
    gas_gwei: np.ndarray           # [T]
    step_blocks: np.ndarray = None # [T] estimated block of each step (12 s blocks from the snapshot)
    sources: PathSources = PathSources()  # how each price asset moves (scenarios/moves.py)
    era_prices: np.ndarray = None  # [T, A] the path's own USD prices, in its era's money (gas is paid at these)
    carried_flow: np.ndarray = None  # [T, A, 2] feedback_mode "excess": real USD sold / bought (inputs/carried.py)


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
    """Every asset is in the markets table, except what Comet and Maker rows only owe (a Comet base, DAI:
    `backtest snapshot` writes no markets row for them, DEBT_ONLY_ROW stands in). Hash lookups in
    arrow: numpy's isin and unique on text cost seconds on a 100k-row book."""
    from backtest.protocols.rules import MECHANISMS
    for path, t in files:
        mech = pc.is_in(t["protocol"], value_set=pa.array(list(MECHANISMS), pa.string())).to_numpy(zero_copy_only=False)
        debt = t["debt"].to_numpy(zero_copy_only=False)
        owed_assets = pc.unique(t["asset"].filter(pa.array(mech & (debt > 0))))
        debt_asset = pc.is_in(t["asset"], value_set=owed_assets).to_numpy(zero_copy_only=False)
        owed = mech & (debt_asset | (t["collateral"].to_numpy(zero_copy_only=False) == 0))
        known = pc.is_in(t["asset"], value_set=pa.array(sorted(known_assets), pa.string())).to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(~known & ~owed)
        if bad.size:
            raise InputError(f"asset {t['asset'][int(bad[0])].as_py()!r} is not in the markets table", file=path,
                             column="asset", row=int(bad[0]) + 1)
        dup = np.flatnonzero(repeats(t, ["account", "asset", "block_number"]))
        if dup.size:
            raise InputError("duplicated (account, asset, block_number)", file=path, column="account",
                             row=int(dup[0]) + 1)
        aave_emode.check_positions(path, t)


def _number(x) -> float:
    return np.nan if x is None else float(x)


def _in_force(table, block: int, keys: list[str]):
    """The rows in force at `block` (largest valid_from_block <= block), one per key."""
    df = table[table["valid_from_block"] <= block].sort_values("valid_from_block", kind="stable")
    return df.groupby(keys).tail(1).set_index(keys)


def _params_at(markets, block: int, reserves: list[tuple[str, str, int, str]], config: RunConfig,
               debt_only: frozenset = frozenset(), categories=None) -> dict[str, np.ndarray]:
    """The markets row in force at `block` for each (protocol, asset, e-mode category) reserve:
    the largest valid_from_block <= block, then `--set` market overrides; an e-mode reserve takes
    LTV, LT and bonus from its category's row in force, then `--set emode.K.*` (an asset's override
    does not reach them, as a reserve's governance change does not change its e-mode category).
    Reserves in `debt_only` (a Comet base, Maker's DAI) without a row get DEBT_ONLY_ROW; a Maker
    ilk's reserve takes the row of its market (`_ilk_row`)."""
    df = _in_force(markets, block, ["protocol", "asset"])
    pairs = [(p, a) for p, a, _, _ in reserves]
    assets = {a for _, a in pairs}
    unknown = sorted(k for k, _ in config.market_overrides if "." in k and k.split(".", 1)[1] not in assets)
    if unknown:
        raise InputError(f"--set {unknown[0]}: the book has no asset {unknown[0].split('.', 1)[1]!r} "
                         f"(assets: {', '.join(sorted(assets))})")
    missing = [r for r in pairs if r not in df.index and r not in debt_only]
    if missing:
        raise InputError(f"no markets parameters for {missing[0][0]} {missing[0][1]} in force at block {block}",
                         column="valid_from_block")
    by_market = _in_force(markets.assign(market=markets["market"].fillna("")), block, ["protocol", "asset", "market"]) \
        if any(m for _, _, _, m in reserves) else None
    rows = [_ilk_row(by_market, r, block) if r[3] else df.loc[r[:2]] if r[:2] in df.index else None
            for r in reserves]
    emode = _emode_rows(categories, block, reserves, config)
    out = {}
    categories = [k for _, _, k, _ in reserves] if emode else None
    for name in MARKET_PARAMS:
        col = np.array([_number(row[name]) if row is not None else DEBT_ONLY_ROW[name] for row in rows])
        col = np.where(np.isnan(col), PARAM_DEFAULTS.get(name, np.nan), col)
        cat = [float(emode[(p, k)][name]) if k else np.nan for p, _, k, _ in reserves] \
            if emode and name in EMODE_PARAMS else None
        out[name] = resolve(name, [a for _, a in pairs], col, config, categories, cat)
    check(out, [a for _, a in pairs])
    return out


def _ilk_row(by_market, reserve, block: int):
    """The markets row in force of a Maker ilk's reserve: the one whose `market` is the ilk's (the
    snapshot writes the ilk's name there); an asset with one Maker market in force serves any market
    name (a lake that names positions and markets apart); several, none of them this one: an error."""
    p, a, _, market = reserve
    key = (p, a, "" if market == NO_MARKET else market)
    if key in by_market.index:
        return by_market.loc[key]
    mine = by_market.loc[[k for k in by_market.index if k[:2] == (p, a)]]
    if len(mine) == 1:
        return mine.iloc[0]
    names = ", ".join(sorted(str(k[2]) for k in mine.index)) or "none"
    raise InputError(f"no markets parameters for {p} {a} of ilk (market) {key[2]!r} in force at block {block} "
                     f"(its markets rows name {names})", column="market")


def _emode_rows(categories, block: int, reserves, config: RunConfig) -> dict:
    """{(protocol, category): its emode_categories row in force} for the book's e-mode reserves."""
    used = sorted({(p, k) for p, _, k, _ in reserves if k})
    wanted = sorted({int(k.split(".")[0]) for k, _ in config.emode_overrides})
    absent = [k for k in wanted if k not in {c for _, c in used}]
    if absent:
        raise InputError(f"--set emode.{absent[0]}.*: no account of the book is in e-mode category {absent[0]}")
    if not used:
        return {}
    df = _in_force(categories, block, ["protocol", "category"])
    for p, k in used:
        if (p, k) not in df.index:
            raise InputError(f"accounts of {p} are in e-mode category {k}, but emode_categories has no row for it "
                             f"in force at block {block}", column="category")
    return {key: df.loc[key] for key in used}


def _schedule(markets, block: int, reserves, config: RunConfig, debt_only: frozenset = frozenset(),
              categories=None) -> list:
    """Parameter sets that come into force after the snapshot, in block order."""
    later = set(markets.loc[markets["valid_from_block"] > block, "valid_from_block"].tolist())
    if any(k for _, _, k, _ in reserves):
        later |= set(categories.loc[categories["valid_from_block"] > block, "valid_from_block"].tolist())
    return [(b, _params_at(markets, b, reserves, config, debt_only, categories)) for b in sorted(later)]


def _check_protocol_override(config: RunConfig, reserves, fee: np.ndarray) -> None:
    """`--set protocol=compound-v2` over other protocols' markets: their protocol_fee (Aave: a share
    of the bonus) would be read as Compound's share of *all* seized collateral. Refused unless the
    user sets protocol_fee themselves."""
    if config.protocol != "compound-v2" or any(k.split(".")[0] == "protocol_fee" for k, _ in config.market_overrides):
        return
    foreign = [(p, a, f) for (p, a, _, _), f in zip(reserves, fee) if p != "compound-v2" and f > 0]
    if foreign:
        p, a, f = foreign[0]
        raise InputError(f"--set protocol=compound-v2: {p} {a} has protocol_fee {f:g} (its share of the liquidation "
                         f"bonus), which Compound v2 would read as the share of all seized collateral sent to "
                         f"reserves; "
                         f"add --set protocol_fee=0.028 (Compound's protocolSeizeShare) or the value you mean")


def _reserve(key: str) -> tuple[str, str, int, str]:
    """"asset|protocol[|k[|market]]" -> (protocol, asset, e-mode category, Maker ilk's market)."""
    asset, protocol, *rest = key.split("|", 3)
    return protocol, asset, int(rest[0]) if rest else 0, rest[1] if len(rest) > 1 else ""


def _morpho_accounts(t: pa.Table) -> pa.Table:
    """A Morpho Blue position is isolated in its market: its rows become the account "ACCOUNT@MARKET_ID",
    one book row per (market, borrower), so one market's collateral never backs another's debt."""
    morpho = pc.equal(t["protocol"], "morpho-blue")
    if not pc.any(morpho).as_py():
        return t
    tagged = pc.binary_join_element_wise(t["account"], t["market"].fill_null(""), "@")
    return t.set_column(t.schema.get_field_index("account"), "account", pc.if_else(morpho, tagged, t["account"]))


def _in_emode(markets, block: int, protocols, assets, account_emode, combos) -> np.ndarray:
    """Per positions row: its account's e-mode category is its asset's (the markets row in force at
    the snapshot), so the row belongs on the category's reserve. Aave v3.0 and v3.2+ alike: the
    lake gives an asset one category (v3.2+ bitmaps that list an asset in several are not modelled).
    Asked once per distinct (protocol, asset, category): `combos`, _distinct of the rows' codes."""
    if not account_emode.any():
        return np.zeros(len(account_emode), dtype=bool)
    df = _in_force(markets, block, ["protocol", "asset"])
    category = df["emode_category"].fillna(0).astype(np.int64).to_dict()
    firsts, inverse = combos
    return aave_emode.rows_in_category(category, protocols[firsts], assets[firsts], account_emode[firsts])[inverse]


class _Coded(NamedTuple):
    """A column as its distinct values and each row's index into them (arrow's hash encoding for text,
    where numpy's astype(str) and unique over 100k+ rows cost tenths of seconds)."""
    values: np.ndarray
    codes: np.ndarray

    @classmethod
    def of(cls, column) -> "_Coded":
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        enc = pc.dictionary_encode(column, null_encoding="encode")
        return cls(enc.dictionary.to_numpy(zero_copy_only=False).astype(str), enc.indices.to_numpy().astype(np.intp))

    @classmethod
    def numbers(cls, values: np.ndarray) -> "_Coded":
        distinct, codes = np.unique(values, return_inverse=True)
        return cls(distinct, codes.reshape(-1))

    @property
    def rows(self) -> np.ndarray:
        return self.values[self.codes]


def _distinct(columns: list[_Coded]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct combinations of the rows' codes: (a row holding each, each row's combination)."""
    flat = np.zeros(len(columns[0].codes), dtype=np.int64)
    for c in columns:                        # mixed radix: one int64 per row
        flat = flat * max(len(c.values), 1) + c.codes
    combos, inverse = np.unique(flat, return_inverse=True)
    inverse = inverse.reshape(-1)
    firsts = np.zeros(len(combos), dtype=np.intp)
    firsts[inverse] = np.arange(len(inverse))
    return firsts, inverse


def _unique_keys(combos, keys) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, return_inverse=True) of the rows' text keys, keys(rows) built once per distinct
    combination (`combos`, _distinct of the codes the key is made of): the same strings, so the same
    sorted keys and inverse."""
    firsts, inverse = combos
    keys, to_key = np.unique(np.array(keys(firsts), dtype=str), return_inverse=True)
    return keys, to_key.reshape(-1)[inverse]


def load_book(lake: Path, scenario: Scenario, config: RunConfig) -> Book:
    return _load_book(lake, scenario, config)[0]


def _load_book(lake: Path, scenario: Scenario, config: RunConfig):
    """The book, and the DuckDB connection it priced it through (load_inputs queries the paths on it)."""
    from backtest.lake.catalog import connect, run_query
    from backtest.protocols.rules import MECHANISMS, RULES
    if config.protocol in MECHANISMS:
        raise InputError(f"--set protocol={config.protocol}: Comet and Maker liquidate by absorb and auction on "
                         f"their own markets, not by a rule applied to any account (use one of: "
                         f"{', '.join(p for p in sorted(RULES) if p not in MECHANISMS)})")
    markets = read_table(lake, "markets")
    read_table(lake, "prices")  # every price file checked before SQL reads them
    files = [(f, _morpho_accounts(drop_unknown(t, f))) for f, t in read_files(lake, "positions")]   # flagged: out
    known = set(markets["asset"].to_pylist())
    _check_positions(files, known)
    positions = pa.concat_tables([t for _, t in files])
    block = _snapshot(positions, scenario)
    snap = positions.filter(pc.equal(positions["block_number"], block))
    protocol, asset, account = (_Coded.of(snap[c]) for c in ("protocol", "asset", "account"))
    protocols, assets_col = protocol.rows, asset.rows
    rows, row_idx = _unique_keys(_distinct([protocol, account]), lambda at: [
        f"{p}|{a}" for p, a in zip(protocols[at].tolist(), account.values[account.codes[at]].tolist())])
    mk = markets.to_pandas()
    account_emode = np.zeros(len(rows), dtype=np.int64)
    account_emode[row_idx] = snap["emode_category"].fill_null(0).to_numpy(zero_copy_only=False)
    emode = _Coded.numbers(account_emode[row_idx])
    row_emode = emode.rows
    in_emode = _in_emode(mk, block, protocols, assets_col, row_emode, _distinct([protocol, asset, emode]))
    market_col = snap["market"].fill_null("").to_numpy(zero_copy_only=False).astype(object)
    ilk_market = vault_markets(protocols, assets_col, market_col, snap["debt"].to_numpy())
    morpho = protocols == "morpho-blue"          # both reserves of a Morpho market keyed by its id, as an ilk
    ilk_market[morpho] = np.where(market_col[morpho] == "", NO_MARKET, market_col[morpho])
    ilk = _Coded.of(pa.array(ilk_market, pa.string()))
    reserve_emode = _Coded(np.arange(len(emode.values) + 1), np.where(in_emode, emode.codes + 1, 0))
    # "asset|protocol", then "|k" on e-mode reserves, then "|0|market" on Maker ilks and Morpho markets
    reserve_keys, res_idx = _unique_keys(
        _distinct([asset, protocol, reserve_emode, ilk]),
        lambda at: [f"{a}|{p}" + (f"|{k}" if e else "") + (f"|0|{m}" if m != "" else "") for a, p, k, e, m in
                    zip(*(c[at].tolist() for c in (assets_col, protocols, row_emode, in_emode, ilk_market)))])
    reserves = [_reserve(k) for k in reserve_keys]            # (protocol, asset, category, market), sorted by asset
    coll = np.zeros((len(rows), len(reserves)))
    debt = np.zeros_like(coll)
    np.add.at(coll, (row_idx, res_idx), snap["collateral"].to_numpy())
    np.add.at(debt, (row_idx, res_idx), snap["debt"].to_numpy())
    row_keys = rows.tolist()
    row_protocol = np.array([k.split("|", 1)[0] for k in row_keys], dtype=object)
    accounts = np.array([k.split("|", 1)[1] for k in row_keys])
    ts = snap["timestamp"][0].as_py()
    price_assets = sorted({a for _, a, _, _ in reserves})
    con = connect(lake)
    prices = run_query(con, "book_prices", {"at": ts}).to_pydict()
    by_asset = dict(zip(prices["asset"], prices["price_usd"]))
    missing = [a for a in price_assets if a not in by_asset]
    if missing:
        raise InputError(f"no {', '.join(missing)} price at or before the book snapshot {ts:%Y-%m-%d %H:%M}Z; import "
                         + " and ".join(f"`backtest import-prices FILE --asset {a}`" for a in missing),
                         file=Path(lake) / "prices", column="asset")
    debt_only = frozenset(r[:2] for j, r in enumerate(reserves)
                          if r[0] in MECHANISMS and (debt[:, j].any() or not coll[:, j].any()))
    categories = read_table(lake, "emode_categories", required=False).to_pandas() if in_emode.any() else None
    params = _params_at(mk, block, reserves, config, debt_only, categories)
    _check_protocol_override(config, reserves, params["protocol_fee"])
    schedule = _schedule(mk, block, reserves, config, debt_only, categories) if scenario.anchor == "absolute" else []
    if config.protocol:
        row_protocol[:] = config.protocol
    return Book(protocol=row_protocol, accounts=accounts, assets=[a for _, a, _, _ in reserves],
                reserve_protocol=[p for p, _, _, _ in reserves], price_assets=price_assets,
                reserve_asset=np.array([price_assets.index(a) for _, a, _, _ in reserves], dtype=int),
                collateral=coll, debt=debt, prices=np.array([by_asset[a] for a in price_assets]),
                block_number=block, timestamp=ts, schedule=schedule,
                reserve_emode=np.array([k for _, _, k, _ in reserves], dtype=np.int64), emode=account_emode,
                reserve_ilk=ilk_names(reserves) if ilk_market.any() else None, **params), con


def load_pools(lake: Path, book: Book, config: RunConfig) -> Router:
    """Every venue of the book's assets at its block — Uniswap v2 and v3 pools, order-book depth
    curves — re-anchored to the book's prices and scaled by `pool_depth_scale` (docs/markets.md)."""
    return load_venues(lake, book.price_assets, book.prices, book.block_number, config)


def load_inputs(config: RunConfig, scenario: Scenario) -> ReplayInputs:
    from backtest.scenarios.paths import gas_path, scenario_paths, step_times
    lake = Path(config.lake)
    if not lake.is_dir():
        raise InputError("lake folder not found (make one with `backtest sample-data`)", file=lake)
    book, con = _load_book(lake, scenario, config)
    pools = load_pools(lake, book, config)
    read_table(lake, "gas", required=False)    # checked here: SQL reads it for the gas path
    paths = scenario_paths(con, scenario, book.price_assets, book.prices)
    times = step_times(scenario)
    since = (times - np.datetime64(book.timestamp.replace(tzinfo=None), "us")) / np.timedelta64(12, "s")
    carried = None
    if config.mode == "excess":
        from backtest.inputs.carried import load_carried_flow
        carried = load_carried_flow(lake, scenario, book.price_assets, paths.prices)
    return ReplayInputs(book=book, pools=pools, times=times, exogenous=paths.prices, gas_gwei=gas_path(con, scenario),
                        step_blocks=book.block_number + np.floor(since).astype(np.int64), sources=paths.sources,
                        era_prices=paths.era, carried_flow=carried)
