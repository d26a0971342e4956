"""Positions and pools at a block: run the `queries/*_at_block.sql` files, then scale raw units to tokens.

The SQL returns exact raw integers as text (the proof against the contracts compares those); the lake
tables `positions` and `pools` get token units (float64) as the rest of the project expects.
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
