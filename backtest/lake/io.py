"""Parquet I/O for the lake: atomic writes, schema-checked reads.

A lake is a folder with one sub-folder per table; every `*.parquet` inside belongs to that table.
Writers go through a temporary name and `os.replace`, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from backtest.errors import InputError
from backtest.lake.schemas import REQUIRED, SCHEMAS
from backtest.lake.validate import VALIDATORS


@contextlib.contextmanager
def atomic_path(final: Path):
    """Yield a temporary path beside `final`; move it into place only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)     # mkstemp makes 0600; a lake file is as readable as any other
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(final: Path):
    """Yield a temporary folder beside `final`; swap it in whole when the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_parquet(table: pa.Table, path: Path, dictionary: bool | list[str] = True,
                  metadata: dict[str, str] | None = None) -> Path:
    """Deterministic bytes for the same table: fixed compression, no pandas metadata.

    `dictionary` names the columns to dictionary-encode when not all: a column with about one value
    per row (account, amount) gains nothing from a dictionary and DuckDB reads it back slower.
    `metadata`: the only key-value metadata written (a sweep's note of the columns it did not compute).
    """
    table = table.replace_schema_metadata(metadata or None)
    if not isinstance(dictionary, bool):
        few = set(dictionary)
        dictionary = [c for c in table.column_names if c in few]
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=dictionary, write_statistics=True)
    return Path(path)


def table_files(lake: Path, name: str) -> list[Path]:
    folder = Path(lake) / name
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith("."))


def conform(table: pa.Table, name: str, source, *, schema: pa.Schema | None = None, required=None) -> pa.Table:
    """Check the required columns, cast to the lake schema, add missing optional columns as nulls.
    A table kept outside the core lake (inputs/depth_table.py) passes its own schema and required columns."""
    schema = SCHEMAS[name] if schema is None else schema
    missing = [c for c in (REQUIRED[name] if required is None else required) if c not in table.column_names]
    if missing:
        raise InputError(f"missing required column of table {name!r}", file=source, column=missing[0])
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(len(table), field.type))
            continue
        col = table[field.name]
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
                # numbers or times stored as text: a wrong type, even when every value would parse
                raise InputError(f"expected {field.type}, found {col.type}", file=source, column=field.name)
        try:
            columns.append(col.cast(field.type) if col.type != field.type else col)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(f"expected {field.type}, found {col.type} ({str(exc).splitlines()[0]})",
                             file=source, column=field.name) from None
    return pa.Table.from_arrays(columns, schema=schema)


def read_table(lake: Path, name: str, *, required: bool = True) -> pa.Table:
    """All files of one table, conformed to its schema; an empty table if allowed and absent."""
    parts = [t for _, t in read_files(lake, name, required=required)]
    return pa.concat_tables(parts) if parts else SCHEMAS[name].empty_table()


def read_files(lake: Path, name: str, *, required: bool = True) -> list[tuple[Path, pa.Table]]:
    """Each file of a table, checked and conformed, kept apart so errors can name file and row."""
    files = table_files(lake, name)
    if not files and required:
        raise InputError(f"lake table {name!r} has no Parquet files", file=Path(lake) / name)
    parts = []
    for f in files:
        try:
            t = pq.read_table(f)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"not a readable Parquet file ({str(exc).splitlines()[0]})", file=f) from None
        t = conform(t, name, f)
        VALIDATORS[name](t, f)
        parts.append((f, t))
    return parts


def write_table(lake: Path, name: str, table: pa.Table, filename: str | None = None) -> Path:
    """Write one file of a lake table (default `<table>.parquet`), conformed to the schema."""
    source = f"<{name} being written>"
    table = conform(table, name, source)
    VALIDATORS[name](table, source)
    return write_parquet(table, Path(lake) / name / (filename or f"{name}.parquet"))


def write_tables(lake: Path, tables: dict[str, pa.Table], filename: str) -> dict[str, Path]:
    """Write one file (`filename`) of each lake table together, or none of them.

    Every table is conformed and validated first, then written into one temporary folder in the lake,
    then each file is moved into place; an error at any point (a bad row, a full disk) puts back what
    was there before, so a failed `backtest snapshot` leaves no new files. A table given empty removes
    an older file of the same name (a rerun's tables always come from the same run)."""
    lake = Path(lake)
    checked = {}
    for name, table in tables.items():
        source = f"<{name} being written>"
        table = conform(table, name, source)
        VALIDATORS[name](table, source)
        checked[name] = table
    lake.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".write.", suffix=".tmp", dir=lake))
    moved: list[tuple[Path, Path | None]] = []      # (final, its previous version kept in staging)
    out: dict[str, Path] = {}
    try:
        for name, table in checked.items():
            if table.num_rows:
                write_parquet(table, staging / name / filename)
        for name, table in checked.items():
            final = lake / name / filename
            old = None
            if final.exists():
                old = staging / ".old" / name
                old.parent.mkdir(parents=True, exist_ok=True)
                os.replace(final, old)
            moved.append((final, old))
            if table.num_rows:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / name / filename, final)
                out[name] = final
    except BaseException:
        for final, old in reversed(moved):
            final.unlink(missing_ok=True)
            if old is not None:
                os.replace(old, final)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
