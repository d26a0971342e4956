"""Real gas-price files -> the lake's `gas` table (timestamp, gas_price_gwei), for paths whose gas moves.

One family so far: the stablesims feeds (BerkeleyBlockchain/stablesims `feeds/gas/DAY.json`, MANIFEST.md):
a pandas "table" JSON (`schema` + `data`) with, per 10 minutes, the average and the 30th/60th/90th/100th
percentiles of the gas prices paid, in wei. `percentile` picks the column: what a transaction had to pay
to be in that share of the block's transactions (90: a keeper that wants to be mined soon).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from backtest.errors import InputError

PERCENTILES = ("30", "60", "90", "100", "avg")


def _column(percentile: str) -> str:
    return "avgGasDay" if percentile == "avg" else f"{percentile}.0 Perc"


def read_stablesims_gas(path: Path, percentile: str = "90") -> pa.Table:
    """The file's `percentile` column in gwei, one row per 10-minute bucket, sorted by time."""
    if percentile not in PERCENTILES:
        raise InputError(f"percentile must be one of {', '.join(PERCENTILES)}", column="--percentile")
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"cannot read gas file ({exc.strerror})", file=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at line {exc.lineno})", file=path) from None
    rows = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(rows, list) or not rows:
        raise InputError("no `data` rows (expected a stablesims feeds/gas JSON: schema + data)", file=path)
    column = _column(percentile)
    times, gwei = [], []
    for k, row in enumerate(rows, start=1):
        for name in ("timestamp", column):
            if not isinstance(row, dict) or name not in row:
                raise InputError("missing", file=path, column=name, row=k)
        try:
            t = np.datetime64(str(row["timestamp"]).rstrip("Z"), "us")
        except ValueError:
            raise InputError(f"not a time: {row['timestamp']!r}", file=path, column="timestamp", row=k) from None
        value = row[column]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not np.isfinite(value):
            raise InputError(f"gas price must be a positive number of wei, got {value!r}", file=path, column=column,
                             row=k)
        times.append(t)
        gwei.append(float(value) / 1e9)
    order = np.argsort(np.array(times), kind="stable")
    stamps = np.array(times)[order]
    if (np.diff(stamps.astype(np.int64)) == 0).any():
        k = int(order[1:][np.diff(stamps.astype(np.int64)) == 0][0]) + 1
        raise InputError("repeated time", file=path, column="timestamp", row=k)
    return pa.table({"timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
                     "gas_price_gwei": pa.array(np.array(gwei)[order], pa.float64())})


def lake_file_name(table: pa.Table, percentile: str) -> str:
    """gas__stablesims-pNN__FIRST-LAST.parquet: importing the same file again replaces it."""
    first, last = (table["timestamp"][k].as_py().strftime("%Y%m%dT%H%M") for k in (0, -1))
    return f"gas__stablesims-p{percentile}__{first}-{last}.parquet"
