"""A price series into the lake's prices table: one file per series, overlaps refused, replaced or filled.

`backtest import-prices` and `backtest fetch-prices` both store through here (the CLI modules stay
light so `--help` is fast; issue 19).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from backtest.errors import InputError
from backtest.ingest.price_series import PriceSeries, span
from backtest.lake.io import table_files, write_table
from backtest.numbers import number

OVERLAP = ("refuse", "replace", "fill")


def describe(series: PriceSeries, max_listed: int = 5) -> str:
    """What the terminal shows: span, outliers (each listed), gaps, rows dropped and why."""
    t = series.timestamp
    lines = [f"{series.asset}: {len(t)} prices {_ts(t[0])} .. {_ts(t[-1])} UTC from {series.source}"]
    idx = np.flatnonzero(series.outlier)
    if idx.size:
        shown = ", ".join(f"{_ts(t[i])} (close {number(series.price[i])}"
                          + (f", low {number(series.low[i])}, high {number(series.high[i])})"
                             if np.isfinite(series.low[i]) else ")") for i in idx[:max_listed])
        more = f" and {idx.size - max_listed} more" if idx.size > max_listed else ""
        lines.append(f"  outliers: {idx.size} flagged, kept but not used as oracle prices: {shown}{more}")
    else:
        lines.append("  outliers: none")
    gaps = series.gaps()
    lines.append(f"  gaps: {gaps.describe()}")
    for a, b in gaps.where[1:max_listed]:
        lines.append(f"        {span(b - a)} from {a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M}")
    for why, n in series.dropped.items():
        lines.append(f"  dropped: {n} ({why})")
    return "\n".join(lines)


def _ts(x) -> str:
    return str(np.datetime_as_string(np.datetime64(x, "m"))).replace("T", " ")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def series_filename(series: PriceSeries) -> str:
    """Same series (asset, source, span) -> same name, so a re-import replaces instead of duplicating."""
    minute = lambda x: str(np.datetime64(x, "m")).replace("-", "").replace(":", "")  # noqa: E731
    return (f"{_slug(series.asset)}__{_slug(series.source)}__"
            f"{minute(series.timestamp[0])}-{minute(series.timestamp[-1])}.parquet")


def store_series(lake: Path, series: PriceSeries, overlap: str = "refuse", *, file=None) -> str:
    """Write one series; the replay reads prices by asset, so two files must never share a time."""
    if overlap not in OVERLAP:
        raise ValueError(overlap)
    lake = Path(lake)
    name = series_filename(series)
    lo, hi = series.timestamp[0], series.timestamp[-1]
    spans = []
    for f in table_files(lake, "prices"):
        if f.name == name:
            continue
        t = pq.read_table(f, columns=["asset", "timestamp"])
        ts = t.filter(pc.equal(t["asset"], series.asset))["timestamp"].to_numpy().astype("datetime64[us]")
        if ts.size and ts.min() <= hi and ts.max() >= lo:
            spans.append((f, ts.min(), ts.max()))
    keep = np.ones(len(series.timestamp), bool)
    notes = []
    for f, a, b in spans:
        if overlap == "refuse":
            raise InputError(
                f"the lake already has {series.asset} prices {_ts(a)} .. {_ts(b)} in {f.name}, overlapping this "
                f"series ({_ts(lo)} .. {_ts(hi)}); re-run with --replace (drop the old rows in the overlap) or "
                f"--fill (add only the new rows outside it)", file=file)
        if overlap == "fill":
            keep &= ~((series.timestamp >= a) & (series.timestamp <= b))
            notes.append(f"kept clear of {f.name}")
        else:
            notes.append(_trim(lake, f, series.asset, lo, hi))
    if not keep.any():
        return f"nothing new: the lake already covers {_ts(lo)} .. {_ts(hi)} ({'; '.join(notes)})"
    if not keep.all():
        series = series.take(keep)
    path = write_table(lake, "prices", series.to_table(), filename=name)
    return f"{path} ({len(series.timestamp)} rows{'; ' + '; '.join(notes) if notes else ''})"


def _trim(lake: Path, f: Path, asset: str, lo, hi) -> str:
    """Remove one asset's rows inside [lo, hi] from another prices file (delete it if nothing is left)."""
    t = pq.read_table(f)
    ts = t["timestamp"].to_numpy().astype("datetime64[us]")
    inside = np.asarray(pc.equal(t["asset"], asset).fill_null(False)) & (ts >= lo) & (ts <= hi)
    rest = t.filter(~inside)
    if rest.num_rows == 0:
        f.unlink()
        return f"removed {f.name}"
    write_table(lake, "prices", rest, filename=f.name)
    return f"dropped {int(inside.sum())} {asset} rows from {f.name}"
