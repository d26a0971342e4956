"""Dune CSV exports of `lending.borrow` / `lending.supply` into the lake, checked row by row.

Column layouts and signs are spellbook's (dbt_subprojects/hourly_spellbook/models/_sector/lending/
borrow/lending_base_borrow.sql, supply/lending_base_supply.sql, plus the lending_enrich_* macros):
repay, borrow_liquidation, withdraw, repay_with_atokens and deposit_liquidation are negative.
Dune writes times as `2023-03-11 01:23:47.000 UTC` and uint256 amounts as plain digits.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from backtest.errors import InputError
from backtest.lake.io import write_parquet

BORROW_COLUMNS = ("blockchain", "project", "version", "transaction_type", "loan_type", "symbol", "token_address",
                  "borrower", "on_behalf_of", "repayer", "liquidator", "amount", "amount_raw", "amount_usd",
                  "block_month", "block_time", "block_number", "project_contract_address", "tx_hash", "evt_index")
SUPPLY_COLUMNS = ("blockchain", "project", "version", "transaction_type", "symbol", "token_address", "depositor",
                  "on_behalf_of", "withdrawn_to", "liquidator", "amount", "amount_raw", "amount_usd", "block_month",
                  "block_time", "block_number", "project_contract_address", "tx_hash", "evt_index")
KINDS = {
    "lending_borrow": (BORROW_COLUMNS, {"borrow": 1, "repay": -1, "borrow_liquidation": -1}),
    "lending_supply": (SUPPLY_COLUMNS, {"deposit": 1, "withdraw": -1, "repay_with_atokens": -1,
                                        "deposit_liquidation": -1}),
}
_FLOAT = {"amount", "amount_usd"}
_INT = {"block_number", "evt_index"}
KEY = ("blockchain", "project", "version", "transaction_type", "token_address", "tx_hash", "evt_index")
# Columns with few distinct values: dictionary-encoded in the lake file, the others stored plain.
FEW_VALUES = ("blockchain", "project", "version", "transaction_type", "loan_type", "symbol", "token_address",
              "project_contract_address", "block_month")


def schema(columns) -> pa.Schema:
    def typ(c):
        if c in _FLOAT:
            return pa.float64()
        if c in _INT:
            return pa.int64()
        if c == "block_time":
            return pa.timestamp("us", tz="UTC")
        if c == "block_month":
            return pa.date32()
        return pa.string()
    return pa.schema([(c, typ(c)) for c in columns])


SCHEMAS = {name: schema(cols) for name, (cols, _) in KINDS.items()}


def _time(text: str, file, row, column="block_time") -> datetime:
    t = text.strip().removesuffix(" UTC").replace("T", " ").removesuffix("Z")
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(t, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise InputError(f"not a Dune timestamp (found {text!r})", file=file, column=column, row=row)


def _num(text, typ, file, column, row):
    if text is None or text == "":
        return None
    try:
        return typ(text) if typ is float else int(float(text)) if "e" in text.lower() else int(text)
    except ValueError:
        raise InputError(f"not a number (found {text!r})", file=file, column=column, row=row) from None


def read_dune_csv(path: Path) -> tuple[str, pa.Table, int]:
    """(table name, rows conformed to the spellbook layout, duplicates dropped)."""
    path = Path(path)
    try:
        raw = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
            column_types={}, strings_can_be_null=True, auto_dict_encode=False),
            read_options=pcsv.ReadOptions(autogenerate_column_names=False))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable CSV file ({str(exc).splitlines()[0]})", file=path) from None
    names = set(raw.column_names)
    kind = "lending_borrow" if "borrower" in names else "lending_supply" if "depositor" in names else None
    if kind is None:
        raise InputError("neither a lending.borrow (borrower column) nor a lending.supply (depositor column) export",
                         file=path)
    columns, signs = KINDS[kind]
    for c in columns:
        if c not in names:
            raise InputError(f"missing a column of Dune's {kind.replace('_', '.')}", file=path, column=c)
    rows = {c: [None if v is None else str(v) for v in raw[c].to_pylist()] for c in columns}
    out: dict[str, list] = {c: [] for c in columns}
    seen, dropped = set(), 0
    for i in range(raw.num_rows):
        row = i + 1
        r = {c: rows[c][i] for c in columns}
        tt = r["transaction_type"]
        if tt not in signs:
            raise InputError(f"transaction_type must be one of {', '.join(signs)} (found {tt!r})",
                             file=path, column="transaction_type", row=row)
        amount = _num(r["amount"], float, path, "amount", row)
        raw_amount = _num(r["amount_raw"], int, path, "amount_raw", row)
        for col, v in (("amount", amount), ("amount_raw", raw_amount)):
            if v is not None and v != 0 and (v > 0) != (signs[tt] > 0):
                sign = "positive" if signs[tt] > 0 else "negative"
                raise InputError(f"a {tt} is {sign} in Dune's convention (found {v})", file=path, column=col, row=row)
        key = tuple(r[k] for k in KEY)
        if key in seen:
            dropped += 1
            continue
        seen.add(key)
        for c in columns:
            v = r[c]
            if c == "amount":
                v = amount
            elif c == "amount_raw":
                v = None if raw_amount is None else str(raw_amount)
            elif c in _FLOAT:
                v = _num(v, float, path, c, row)
            elif c in _INT:
                v = _num(v, int, path, c, row)
            elif c == "block_time":
                v = _time(v, path, row) if v else None
            elif c == "block_month":
                v = _time(v, path, row, "block_month").date() if v else None
            elif v is not None and v.startswith("0x"):
                v = v.lower()
            out[c].append(v)
    for c in ("block_time", "block_number"):
        if None in out[c]:
            raise InputError("must not be empty", file=path, column=c, row=out[c].index(None) + 1)
    return kind, pa.table(out, schema=SCHEMAS[kind]), dropped


def position_order(table: pa.Table) -> pa.Table:
    """Rows clustered by position (market, owner, token), each position's rows in chain order.

    A snapshot (queries/lending_flows_at_block.sql) groups and sorts by exactly that key; DuckDB does
    both about twice as fast when the file already holds each position's rows together (docs/ingest.md,
    "Snapshot speed"). The owner is on_behalf_of when given, else the borrower / depositor, as in the query.
    """
    who = "borrower" if "borrower" in table.column_names else "depositor"
    tail = [c for c in ("block_number", "evt_index", "tx_hash", "transaction_type") if c in table.column_names]
    keys = ["blockchain", "project", "version", f"coalesce(on_behalf_of, {who})", "token_address", *tail]
    rows = table.select(["blockchain", "project", "version", "on_behalf_of", who, "token_address", *tail])
    rows = rows.append_column("row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    con = duckdb.connect()
    try:                # DuckDB's own bar would print to stdout, files too
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:  # in Jupyter without ipywidgets it refuses the change (and draws no bar)
        pass
    con.register("rows", rows)
    order = con.sql(f"SELECT row FROM rows ORDER BY {', '.join(keys)}, row").fetchnumpy()["row"]
    con.close()
    return table.take(pa.array(order))


def write_lending_rows(table: pa.Table, path: Path) -> Path:
    """The lake layout of lending.borrow / lending.supply rows: position order, few-valued columns as dictionaries."""
    return write_parquet(position_order(table), path, dictionary=list(FEW_VALUES))


def import_dune_csv(path: Path, lake: Path) -> tuple[str, Path, int, int]:
    """Write one lake file per export (`<table>/dune__<file stem>.parquet`); importing again replaces it."""
    kind, table, dropped = read_dune_csv(path)
    out = write_lending_rows(table, Path(lake) / kind / f"dune__{Path(path).stem}.parquet")
    return kind, out, table.num_rows, dropped
