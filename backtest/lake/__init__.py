"""The lake: one folder per table of Parquet files, with DuckDB views over it."""

from backtest.lake.schemas import SCHEMAS, REQUIRED
from backtest.lake.io import read_table, write_table, table_files, atomic_path
from backtest.lake.catalog import connect, run_query, query_path

__all__ = ["SCHEMAS", "REQUIRED", "read_table", "write_table", "table_files", "atomic_path",
           "connect", "run_query", "query_path"]
