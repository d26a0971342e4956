"""The lake: one folder per table of Parquet files, with DuckDB views over it.

The names below load their module on first use (PEP 562), so importing one room of the lake (its schemas,
say) does not import DuckDB: `backtest replay`'s parent never queries, and a process that has loaded
DuckDB may not fork (backtest/run.py)."""

from importlib import import_module

_HOME = {"SCHEMAS": "schemas", "REQUIRED": "schemas", "read_table": "io", "write_table": "io", "table_files": "io",
         "atomic_path": "io", "connect": "catalog", "run_query": "catalog", "query_path": "catalog"}
__all__ = list(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)
