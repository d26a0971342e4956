"""The `depth_curves` lake table: off-chain venue depth, as sellable amount per price impact.

Proposed schema (one row per point of a curve; a curve is one venue, asset and valid_from_block):

    venue             string   e.g. "binance", "coinbase", "1inch-quote"
    asset             string   symbol used in the rest of the lake (WETH, WBTC, ...)
    impact            float64  fall of the marginal price below mid, as a fraction (0.02 = 2 %)
    amount            float64  base units sellable before the marginal price falls that far
    fee               float64  taker fee on the notional (0.001 = 10 bps); empty = 0
    valid_from_block  int64    the curve holds from this block until a later curve replaces it
    source            string   where the numbers came from (optional)

Blocks rather than timestamps, so a curve lines up with `markets` and `pools` the same way
(`valid_from_block`, latest at or before the replay's block). Lives in
`<lake>/depth_curves/*.parquet`; read and written like the core tables (schema-conformed,
checked row by row, atomic writes), but kept here because it belongs to the market models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from backtest.errors import InputError
from backtest.lake import io as lake_io
from backtest.lake.io import table_files, write_parquet
from backtest.markets import depth_curve

NAME = "depth_curves"
SCHEMA = pa.schema([
    ("venue", pa.string()),
    ("asset", pa.string()),
    ("impact", pa.float64()),
    ("amount", pa.float64()),
    ("fee", pa.float64()),
    ("valid_from_block", pa.int64()),
    ("source", pa.string()),
])
REQUIRED = ("venue", "asset", "impact", "amount", "valid_from_block")


def conform(table: pa.Table, source) -> pa.Table:
    """As the core tables (backtest.lake.io.conform): required columns present, every column cast
    to the schema (numbers stored as text refused), optional ones filled with nulls."""
    return lake_io.conform(table, NAME, source, schema=SCHEMA, required=REQUIRED)


def _first_bad(table: pa.Table, source, column: str, bad: np.ndarray, what: str) -> None:
    idx = np.flatnonzero(bad)
    if idx.size:
        raise InputError(f"{what} (found {table[column][int(idx[0])].as_py()!r})", file=source, column=column,
                         row=int(idx[0]) + 1)


def validate(table: pa.Table, source) -> None:
    """Row checks first (so the message names a row), then each curve as a whole."""
    for col in REQUIRED:
        _first_bad(table, source, col, np.asarray(pc.is_null(table[col])), "must not be empty")
    impact = table["impact"].to_numpy(zero_copy_only=False).astype(float)
    amount = table["amount"].to_numpy(zero_copy_only=False).astype(float)
    fee = table["fee"].to_numpy(zero_copy_only=False).astype(float)
    with np.errstate(invalid="ignore"):
        _first_bad(table, source, "impact", ~((impact > 0) & (impact < 1)),
                   "impact must be a fraction in (0, 1), e.g. 0.02 for 2 %")
        _first_bad(table, source, "amount", ~(np.isfinite(amount) & (amount > 0)), "must be a positive number")
        _first_bad(table, source, "fee", ~np.isnan(fee) & ~((fee >= 0) & (fee < 0.5)), "must be within [0, 0.5)")
    df = table.select(["venue", "asset", "valid_from_block", "impact", "amount", "fee"]).to_pandas()
    for (venue, asset, block), rows in df.groupby(["venue", "asset", "valid_from_block"], sort=True):
        rows = rows.sort_values("impact")
        try:
            depth_curve.validate(rows["impact"].to_numpy(), rows["amount"].to_numpy(), file=source)
        except InputError as exc:
            raise InputError(f"curve {venue}/{asset} from block {block}: {exc.message}", file=source,
                             column=exc.column) from None
        if rows["fee"].fillna(0.0).nunique() > 1:
            raise InputError(f"curve {venue}/{asset} from block {block}: one fee per curve", file=source,
                             column="fee")


def read_depth_curves(lake: Path) -> pa.Table:
    """Every file of the table, conformed and checked; an empty table if there is none."""
    parts = []
    for f in table_files(lake, NAME):
        try:
            t = pq.read_table(f)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"not a readable Parquet file ({str(exc).splitlines()[0]})", file=f) from None
        t = conform(t, f)
        validate(t, f)
        parts.append(t)
    return pa.concat_tables(parts) if parts else SCHEMA.empty_table()


def write_depth_curves(lake: Path, table: pa.Table, filename: str = f"{NAME}.parquet") -> Path:
    source = f"<{NAME} being written>"
    table = conform(table, source)
    validate(table, source)
    return write_parquet(table, Path(lake) / NAME / filename)


def curves_at(table: pa.Table, block: int) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, float]]:
    """{(venue, asset): (impacts, amounts, fee)} of the latest curve at or before `block`."""
    df = table.to_pandas()
    df = df[df["valid_from_block"] <= block]
    out = {}
    for (venue, asset), rows in df.groupby(["venue", "asset"], sort=True):
        rows = rows[rows["valid_from_block"] == rows["valid_from_block"].max()].sort_values("impact")
        out[(venue, asset)] = (rows["impact"].to_numpy(float), rows["amount"].to_numpy(float),
                               float(rows["fee"].fillna(0.0).iloc[0]))
    return out
