"""DuckDB over the lake: every table a view, every derived table a `queries/NAME.sql`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from backtest.errors import InputError
from backtest.lake.io import table_files
from backtest.lake.schemas import SCHEMAS

if TYPE_CHECKING:
    import duckdb

# DuckDB is imported where a connection is made, not with this module (scenarios and the inputs import it for
# their queries): `backtest replay`'s parent never queries, and a process that has loaded DuckDB does not
# fork its children (backtest/run.py).

QUERIES = Path(__file__).resolve().parents[2] / "queries"
RESULT_TABLES = ("liquidations", "steps")
# Queries that other queries build on, created as views in this order.
DERIVED_VIEWS = ("positions_priced", "health", "health_bands")


def _sql_str(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


DUCK_TYPES = {pa.string(): "VARCHAR", pa.float64(): "DOUBLE", pa.int64(): "BIGINT", pa.int32(): "INTEGER",
              pa.uint32(): "UINTEGER", pa.uint64(): "UBIGINT", pa.binary(): "BLOB", pa.bool_(): "BOOLEAN",
              pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ"}


def _conformed_select(con, schema: pa.Schema, files: list[Path]) -> str:
    """SELECT over the files with every schema column cast to its lake type (NULL where a file
    set lacks an optional one), so SQL sees the same types the Python readers check; extra
    columns (cryo's decoded `event__*`, say) come after."""
    listing = ", ".join(_sql_str(f) for f in files)
    source = f"read_parquet([{listing}], union_by_name = true)"
    present = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    cols = [f'CAST("{f.name}" AS {DUCK_TYPES[f.type]}) AS "{f.name}"' if f.name in present
            else f'CAST(NULL AS {DUCK_TYPES[f.type]}) AS "{f.name}"' for f in schema]
    extra = [f'"{c}"' for c in present if c not in schema.names]
    return f"SELECT {', '.join(cols + extra)} FROM {source}"


def connect(lake: Path | None = None, results: Path | None = None,
            extra: dict[str, pa.Table] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view per lake table (empty but typed when the lake lacks it)."""
    import duckdb
    con = duckdb.connect()
    try:                # DuckDB's own bar would print to stdout, files too
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:  # in Jupyter without ipywidgets it refuses the change (and draws no bar)
        pass
    con.execute("SET TimeZone = 'UTC'")
    for name, schema in SCHEMAS.items():
        files = table_files(lake, name) if lake is not None else []
        if files:
            con.execute(f"CREATE VIEW {name} AS {_conformed_select(con, schema, files)}")
        else:
            con.register(name, schema.empty_table())
    if results is not None:
        for name in RESULT_TABLES:
            f = Path(results) / f"{name}.parquet"
            if not f.exists():
                raise InputError(f"results folder has no {name}.parquet (is it a replay's output?)", file=results)
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_sql_str(f)})")
    for name, table in (extra or {}).items():
        con.register(name, table)
    for name in DERIVED_VIEWS:
        con.execute(f"CREATE VIEW {name} AS {query_path(name).read_text()}")
    return con


def query_path(name: str) -> Path:
    path = QUERIES / f"{name}.sql"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in QUERIES.glob("*.sql")))
        raise InputError(f"no query named {name!r} (known: {known})", file=path)
    return path


def run_query(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> pa.Table:
    """Run `queries/NAME.sql`; `$param` placeholders are bound from `params`."""
    import duckdb
    sql = query_path(name).read_text()
    try:
        return con.sql(sql, params=params or {}).to_arrow_table()
    except duckdb.Error as exc:
        raise InputError(f"query failed: {str(exc).splitlines()[0]}", file=query_path(name)) from None
