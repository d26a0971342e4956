"""Positions and pools at a block: run the `queries/*_at_block.sql` files, then scale raw units to tokens.

The SQL returns exact raw integers as text (the proof against the contracts compares those); the lake
tables `positions` and `pools` get token units (float64) as the rest of the project expects.
Per protocol: Aave v2/v3 and Compound v2 from events alone; Comet collateral from events and its base
balances by eth_call (backtest.ingest.comet: principals and indexes are state, not events); Maker vaults
from the Vat's LogNotes, one market per ilk (vaults are isolated), the gem's row holding `ink` and a DAI
row holding `art x rate`.
"""

from __future__ import annotations

from datetime import datetime, timezone
import pyarrow as pa
import pyarrow.compute as pc

from backtest.errors import InputError
from backtest.ingest.tables import chain_query
from backtest.lake.schemas import POOLS, POSITIONS

POSITION_QUERIES = {"aave-v3": "aave_v3_positions_at_block", "aave-v2": "aave_v2_positions_at_block"}
POOL_QUERIES = {"uniswap-v2": "uniswap_v2_pools_at_block", "uniswap-v3": "uniswap_v3_pools_at_block"}


def block_time(con, block: int, rpc=None) -> int:
    """Unix time of `block`: from the lake's blocks table, else asked of the node."""
    rows = con.sql("SELECT \"timestamp\" FROM blocks WHERE block_number = $b", params={"b": block}).fetchall()
    if rows:
        return int(rows[0][0])
    if rpc is None:
        raise InputError(f"the lake has no timestamp for block {block}: pass --rpc, or ingest up to that block")
    return rpc.block_timestamps([block])[block]


def raw_positions(con, block: int, ts: int, protocols=None) -> dict[str, pa.Table]:
    return {p: chain_query(con, q, {"block": block, "ts": ts})
            for p, q in POSITION_QUERIES.items() if protocols is None or p in protocols}


def _symbol_of(con) -> dict[str, tuple[str, int]]:
    """address -> (symbol, decimals) of every contract row (a Comet's row carries its base token's)."""
    rows = con.sql("SELECT address, symbol, decimals FROM contracts").fetchall()
    return {a: (s or a, 18 if d is None else int(d)) for a, s, d in rows}


def _rows(protocol, market, accounts, assets, collateral, debt, block, when) -> pa.Table:
    n = len(accounts)
    return pa.table({
        "protocol": pa.array([protocol] * n), "market": pa.array(market if isinstance(market, list) else [market] * n),
        "account": pa.array(accounts, pa.string()), "asset": pa.array(assets, pa.string()),
        "collateral": pa.array(collateral, pa.float64()), "debt": pa.array(debt, pa.float64()),
        "block_number": pa.array([block] * n, pa.int64()),
        "timestamp": pa.array([when] * n, POSITIONS.field("timestamp").type)}, schema=POSITIONS)


def compound_v2_positions(con, block: int, ts: int, market: str) -> pa.Table:
    """Underlying collateral (cTokens x exchange rate, only in entered markets when the comptroller's
    events are in the lake) and borrow balances, token units."""
    raw = chain_query(con, "compound_v2_positions_at_block", {"block": block}).to_pylist()
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    coll, debt = [], []
    for r in raw:
        unit = 10 ** (18 if r["decimals"] is None else int(r["decimals"]))
        counts = r["collateral_enabled"] is not False and r["collateral_raw"] is not None
        coll.append(int(r["collateral_raw"]) / unit if counts else 0.0)
        debt.append(int(r["debt_raw"]) / unit)
    return _rows("compound-v2", market, [r["account"] for r in raw], [r["symbol"] or r["ctoken"] for r in raw],
                 coll, debt, block, when)


def comet_positions(con, block: int, ts: int, market: str, rpc=None) -> tuple[pa.Table, str | None]:
    """Collateral per asset (events), and the base asset's supply (as collateral) and borrow (as debt) when
    an RPC can be asked for principals and indexes; else a note saying the base rows are missing."""
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    meta = _symbol_of(con)
    raw = [r for r in chain_query(con, "comet_positions_at_block", {"block": block}).to_pylist() if r["asset"]]
    asset = [meta.get(r["asset"], (r["asset"], 18)) for r in raw]      # collateral rows name each asset
    parts = [_rows("comet", market, [r["account"] for r in raw], [s for s, _ in asset],
                   [int(r["collateral_raw"]) / 10**d for r, (_, d) in zip(raw, asset)], [0.0] * len(raw),
                   block, when)]
    note = None
    if rpc is None:
        if con.sql("SELECT count(*) FROM comet_comet_supply").fetchall()[0][0]:
            note = ("comet: base balances need --rpc (Comet's principals and indexes are contract state, not "
                    "events); wrote collateral rows only")
    else:
        from backtest.ingest.comet import base_balances
        base = base_balances(con, rpc, block, ts).to_pylist()
        info = [meta.get(r["comet"], (r["comet"], 18)) for r in base]     # a Comet's row names its base token
        parts.append(_rows("comet", market, [r["account"] for r in base], [s for s, _ in info],
                           [int(r["supply_raw"]) / 10**d for r, (_, d) in zip(base, info)],
                           [int(r["borrow_raw"]) / 10**d for r, (_, d) in zip(base, info)], block, when))
    return pa.concat_tables(parts), note


# The token an ilk's join adapter holds, where its name does not say it (chainlog.makerdao.com:
# MCD_JOIN_ETH_A/B/C hold WETH); otherwise the ilk's name up to its last dash (WBTC-A -> WBTC).
GEMS = {"ETH": "WETH", "WSTETH": "wstETH", "RETH": "rETH"}


def gem_symbol(ilk_name: str) -> str:
    head = ilk_name.rsplit("-", 1)[0]
    return GEMS.get(head, head)


def maker_positions(con, block: int, ts: int) -> tuple[pa.Table, str | None]:
    """One market per ilk: the urn's gem row (ink, wad) and its DAI row (art x rate / 1e45)."""
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    raw = chain_query(con, "maker_vaults_at_block", {"block": block}).to_pylist()
    accounts, assets, markets, coll, debt = [], [], [], [], []
    unknown = sorted({r["ilk_name"] for r in raw if r["rate_raw"] is None})
    for r in raw:
        gem = gem_symbol(r["ilk_name"])
        accounts.append(r["urn"]), assets.append(gem), markets.append(r["ilk_name"])
        coll.append(int(r["ink_raw"]) / 1e18), debt.append(0.0)
        if r["debt_rad"] is not None:
            accounts.append(r["urn"]), assets.append("DAI"), markets.append(r["ilk_name"])
            coll.append(0.0), debt.append(int(r["debt_rad"]) / 10**45)   # int / int: one rounding
    note = (f"maker: no init(ilk) in the lake for {', '.join(unknown)}: the rate (and so the debt) is unknown; "
            "ingest the Vat from before the ilk's init") if unknown else None
    return _rows("maker", markets, accounts, assets, coll, debt, block, when), note


def with_emode(con, positions: pa.Table, block: int) -> pa.Table:
    """positions plus `emode_category`: an Aave v3 account's category at `block` (0 if it never set one,
    queries/aave_emode_accounts_at_block.sql); null for the other protocols, which have none."""
    rows = chain_query(con, "aave_emode_accounts_at_block", {"block": block}).to_pylist()
    category = {r["account"]: r["category"] for r in rows}
    values = [category.get(a, 0) if p == "aave-v3" else None
              for p, a in zip(positions["protocol"].to_pylist(), positions["account"].to_pylist())]
    return positions.append_column("emode_category", pa.array(values, pa.int32()))


def raw_pools(con, block: int, dexes=None) -> dict[str, pa.Table]:
    return {d: chain_query(con, q, {"block": block}) for d, q in POOL_QUERIES.items() if dexes is None or d in dexes}


def _scale(raw: pa.ChunkedArray, decimals: pa.ChunkedArray) -> pa.Array:
    """Exact text integers -> token units: split at the decimal point so float rounding happens once."""
    out = []
    for v, d in zip(raw.to_pylist(), decimals.to_pylist()):
        out.append(0.0 if v is None else int(v) / 10 ** int(d if d is not None else 18))
    return pa.array(out, pa.float64())


def lake_positions(raw: dict[str, pa.Table], block: int, ts: int, market: str) -> pa.Table:
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    parts = []
    for protocol, t in raw.items():
        if t.num_rows == 0:
            continue
        coll = _scale(t["collateral_raw"], t["decimals"])
        enabled = t["collateral_enabled"].fill_null(False)
        coll = pc.if_else(enabled, coll, 0.0)   # an aToken balance not enabled as collateral backs nothing
        parts.append(pa.table({
            "protocol": pa.array([protocol] * t.num_rows),
            "market": pa.array([market] * t.num_rows),
            "account": t["account"],
            "asset": t["symbol"],
            "collateral": coll,
            "debt": _scale(t["debt_raw"], t["decimals"]),
            "block_number": pa.array([block] * t.num_rows, pa.int64()),
            "timestamp": pa.array([when] * t.num_rows, POSITIONS.field("timestamp").type),
        }, schema=POSITIONS))
    return pa.concat_tables(parts) if parts else POSITIONS.empty_table()


def lake_pools(raw: dict[str, pa.Table], block: int, ts: int) -> pa.Table:
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    parts = []
    for dex, t in raw.items():
        if t.num_rows == 0:
            continue
        n = t.num_rows
        v2 = dex == "uniswap-v2"
        parts.append(pa.table({
            "dex": pa.array([dex] * n), "pool": t["pool"], "token0": t["symbol0"], "token1": t["symbol1"],
            "fee": pc.cast(t["fee"], pa.float64()),
            "block_number": pa.array([block] * n, pa.int64()),
            "timestamp": pa.array([when] * n, POOLS.field("timestamp").type),
            "reserve0": _scale(t["reserve0_raw"], t["decimals0"]) if v2 else pa.nulls(n, pa.float64()),
            "reserve1": _scale(t["reserve1_raw"], t["decimals1"]) if v2 else pa.nulls(n, pa.float64()),
            "sqrt_price_x96": pa.nulls(n, pa.string()) if v2 else t["sqrt_price_x96"],
            "tick": pa.nulls(n, pa.int32()) if v2 else pc.cast(t["tick"], pa.int32()),
            "liquidity": pa.nulls(n, pa.string()) if v2 else t["liquidity"],
        }, schema=POOLS))
    return pa.concat_tables(parts) if parts else POOLS.empty_table()


def account_data(con, source: str, block: int, ts: int) -> pa.Table:
    """getUserAccountData of every account of an Aave market at `block`, from its positions (raw units)."""
    positions = chain_query(con, POSITION_QUERIES[source], {"block": block, "ts": ts})
    con.register("aave_positions_raw", positions)
    try:
        return chain_query(con, "aave_account_data_at_block", {"block": block, "source": source})
    finally:
        con.unregister("aave_positions_raw")
