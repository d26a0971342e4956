"""Lake tables that chain ingest adds (contracts, blocks, decoded events) and a DuckDB over all of them.

Decoded event tables live at `<lake>/<event table>/<network>.parquet` (e.g. `aave_v3_pool_supply/`)
and are brought up to date from the new log files after every ingest (backtest.ingest.incremental).
Big on-chain integers are decimal text; SQL casts them to HUGEINT, and the Aave ray maths that
overflows 128 bits runs in the UDFs registered here (exact Python integers).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from backtest.ingest.events import BY_TABLE, EVENTS, NOTES, NOTES_BY_TABLE
from backtest.lake.catalog import QUERIES, connect
from backtest.lake.io import write_parquet

CONTRACTS = pa.schema([
    ("source", pa.string()), ("kind", pa.string()), ("address", pa.string()),
    ("asset", pa.string()), ("symbol", pa.string()), ("decimals", pa.int64()),
    ("token1", pa.string()), ("symbol1", pa.string()), ("decimals1", pa.int64()), ("fee", pa.float64()),
    ("phase", pa.int64()),            # Chainlink: the proxy phase an aggregator served (proxy round ids)
])
BLOCKS = pa.schema([("block_number", pa.int64()), ("timestamp", pa.int64()), ("block_hash", pa.string())])
# Parameterless queries that other queries build on: views in every chain connection.
SPELLBOOK_VIEWS = ("lending_borrow", "lending_supply", "dex_trades", "chainlink_prices")

RAY = 10**27
HALF_RAY = RAY // 2
SECONDS_PER_YEAR = 365 * 24 * 3600


def ray_mul(a, b):
    """WadRayMath.rayMul (aave/aave-v3-core contracts/protocol/libraries/math/WadRayMath.sol): half up."""
    if a is None or b is None:
        return None
    return (int(a) * int(b) + HALF_RAY) // RAY


def ray_div(a, b):
    """WadRayMath.rayDiv: (a * RAY + b / 2) / b."""
    if a is None or b is None:
        return None
    a, b = int(a), int(b)
    return (a * RAY + b // 2) // b


def linear_index(index, rate, last, now):
    """Reserve normalised income at `now` (ReserveLogic.getNormalizedIncome, MathUtils.calculateLinearInterest)."""
    if index is None:
        return None
    dt = int(now) - int(last)
    if dt <= 0:
        return int(index)
    return ray_mul(RAY + int(rate) * dt // SECONDS_PER_YEAR, index)


def compound_index(index, rate, last, now, version=3):
    """Normalised variable debt at `now` (MathUtils.calculateCompoundedInterest, binomial to 3 terms).

    v3 divides by SECONDS_PER_YEAR after the products; v2 (protocol-v2 MathUtils.sol) first turns the
    rate into a per-second rate. Both round down like the contracts.
    """
    if index is None:
        return None
    exp, rate = int(now) - int(last), int(rate)
    if exp <= 0:
        return int(index)
    e1, e2 = exp - 1, max(exp - 2, 0)
    if int(version) == 2:
        per_sec = rate // SECONDS_PER_YEAR
        p2 = ray_mul(per_sec, per_sec)
        p3 = ray_mul(p2, per_sec)
        growth = RAY + per_sec * exp + exp * e1 * p2 // 2 + exp * e1 * e2 * p3 // 6
    else:
        p2 = ray_mul(rate, rate) // (SECONDS_PER_YEAR * SECONDS_PER_YEAR)
        p3 = ray_mul(p2, rate) // SECONDS_PER_YEAR
        growth = RAY + rate * exp // SECONDS_PER_YEAR + exp * e1 * p2 // 2 + exp * e1 * e2 * p3 // 6
    return ray_mul(growth, index)


def mul_div(a, b, c):
    """floor(a * b / c) on exact integers (Compound's borrowBalanceStored, exchange-rate products)."""
    if a is None or b is None or c is None or int(c) == 0:
        return None
    return int(a) * int(b) // int(c)


def mul_div_up(a, b, c):
    """ceil(a * b / c) on exact integers (Morpho's MathLib.mulDivUp: toAssetsUp for borrow shares)."""
    if a is None or b is None or c is None or int(c) == 0:
        return None
    return (int(a) * int(b) + int(c) - 1) // int(c)


def percent_mul(value, percent):
    """PercentageMath.percentMul (aave-v3-core libraries/math/PercentageMath.sol): bps, half up."""
    if value is None or percent is None:
        return None
    return (int(value) * int(percent) + 5_000) // 10_000


def wad_div(a, b):
    """WadRayMath.wadDiv: (a * WAD + b / 2) / b."""
    if a is None or b is None or int(b) == 0:
        return None
    return (int(a) * 10**18 + int(b) // 2) // int(b)


def _udf(con: duckdb.DuckDBPyConnection) -> None:
    V = duckdb.sqltype("VARCHAR")
    B = duckdb.sqltype("BIGINT")
    # Text in and out: scaled sums fit HUGEINT, products of two rays do not.
    kw = {"null_handling": "special", "side_effects": False}
    con.create_function("ray_mul", lambda a, b: _s(ray_mul(a, b)), [V, V], V, **kw)
    con.create_function("ray_div", lambda a, b: _s(ray_div(a, b)), [V, V], V, **kw)
    con.create_function("mul_div", lambda a, b, c: _s(mul_div(a, b, c)), [V, V, V], V, **kw)
    con.create_function("mul_div_up", lambda a, b, c: _s(mul_div_up(a, b, c)), [V, V, V], V, **kw)
    con.create_function("percent_mul", lambda a, p: _s(percent_mul(a, p)), [V, V], V, **kw)
    con.create_function("wad_div", lambda a, b: _s(wad_div(a, b)), [V, V], V, **kw)
    con.create_function("linear_index", lambda i, r, t0, t1: _s(linear_index(i, r, t0, t1)), [V, V, B, B], V, **kw)
    con.create_function("compound_index", lambda i, r, t0, t1, v: _s(compound_index(i, r, t0, t1, v)),
                        [V, V, B, B, B], V, **kw)


def _s(v):
    return None if v is None else str(v)


def table_path(lake: Path, table: str, network: str) -> Path:
    return Path(lake) / table / f"{network}.parquet"


def write_decoded(lake: Path, network: str, tables: dict[str, pa.Table]) -> list[Path]:
    return [write_parquet(t, table_path(lake, name, network)) for name, t in tables.items()]


def _files(lake: Path, name: str) -> list[Path]:
    return sorted(p for p in (Path(lake) / name).glob("*.parquet") if not p.name.startswith("."))


def _empty_decoded(name: str) -> pa.Table:
    from backtest.ingest.decoders import decoder_of
    from backtest.lake.schemas import LOGS
    d = NOTES_BY_TABLE[name] if name in NOTES_BY_TABLE else BY_TABLE[name]
    return decoder_of(d)(LOGS.empty_table(), d)


def connect_chain(lake: Path, fork: str | None = None) -> duckdb.DuckDBPyConnection:
    """The lake's catalog plus a view per decoded table, `contracts`, `blocks`, and the ray UDFs.

    `fork="spark"`: an Aave v3 fork's tables stand in for Aave v3's (the `aave_v3_*` views read
    `spark_*`, and `contracts` shows the fork's rows as source aave-v3, without Aave's own), so the
    Aave v3 queries run unchanged on the fork's events.
    """
    con = connect(lake)
    _udf(con)
    from backtest.ingest.dune import SCHEMAS as DUNE
    extra = {"contracts": CONTRACTS, "blocks": BLOCKS}
    for name, dune_schema in DUNE.items():      # Dune CSV imports, kept apart from what ingest derives
        files = _files(lake, name)
        if files:
            listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            con.execute(f"CREATE VIEW imported_{name} AS SELECT * FROM read_parquet([{listing}], union_by_name = true)")
        else:
            con.register(f"imported_{name}", dune_schema.empty_table())
    for name in [e.table for e in EVENTS] + [n.table for n in NOTES] + list(extra):
        stored = f"{fork.replace('-', '_')}_{name.removeprefix('aave_v3_')}" \
            if fork and name.startswith("aave_v3_") else name
        files = _files(lake, stored)
        if files and fork and name == "contracts":        # the fork's rows as aave-v3, Aave's own left out
            listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            con.execute(f"CREATE VIEW contracts AS SELECT * EXCLUDE (filename, source), "
                        f"CASE WHEN source = '{fork}' THEN 'aave-v3' ELSE source END AS source, "
                        f"regexp_extract(filename, '([^/]+)[.]parquet$', 1) AS blockchain "
                        f"FROM read_parquet([{listing}], union_by_name = true, filename = true) "
                        f"WHERE source <> 'aave-v3'")
        elif files:
            # one file per network (<table>/<network>.parquet): the file name is the `blockchain` column
            listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            con.execute(f"CREATE VIEW {name} AS SELECT * EXCLUDE (filename), "
                        f"regexp_extract(filename, '([^/]+)[.]parquet$', 1) AS blockchain "
                        f"FROM read_parquet([{listing}], union_by_name = true, filename = true)")
        else:
            empty = extra[name].empty_table() if name in extra else _empty_decoded(name)
            con.register(name, empty.append_column("blockchain", pa.array([], pa.string())))
    for name in SPELLBOOK_VIEWS:
        con.execute(f"CREATE VIEW {name} AS {(QUERIES / f'{name}.sql').read_text()}")
    return con


def chain_query(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> pa.Table:
    sql = (QUERIES / f"{name}.sql").read_text()
    return con.sql(sql, params=params or {}).to_arrow_table()


def read_small(path: Path, schema: pa.Schema) -> pa.Table:
    """A small table of ours, with columns added since it was written filled with nulls."""
    if not Path(path).exists():
        return schema.empty_table()
    t = pq.read_table(path)
    return pa.table({f.name: t[f.name].cast(f.type) if f.name in t.column_names else pa.nulls(t.num_rows, f.type)
                     for f in schema}, schema=schema)
