"""`backtest import-prices FILE`: a real price file becomes one file of the lake's `prices` table."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from backtest.errors import InputError
from backtest.ingest.price_files import FORMATS, read_price_file
from backtest.ingest.price_series import PriceSeries, divide, span
from backtest.lake.io import table_files, write_table

REPO = Path(__file__).resolve().parents[2]


def default_lake() -> Path:
    """The lake `backtest replay` reads by default, so imported prices are where it looks."""
    return Path(os.environ.get("BACKTEST_LAKE", REPO / "data" / "lake"))

OVERLAP = ("refuse", "replace", "fill")

EPILOG = """\
examples:
  backtest import-prices ../shared/data/real/binance_1h_ingiorn/Binance_ETHUSDT_1h.csv --asset ETH
  backtest import-prices coingecko/stETH_usd.csv --lake mylake
  backtest import-prices 0x86392dC19c0b719886221c78AB11eb8Cf5c52812.csv          # Chainlink stETH/ETH
  backtest import-prices BTCUSD_1m.csv --divide-by BTCUSDC_1m.csv --asset USDC      # USDC/USD
  backtest import-prices hopeffy/ETHUSDT_1h.csv --asset ETH --fill                  # extend, keep old rows

One lake file per series (prices/<asset>__<source>__<first>-<last time>.parquet): importing the same
file again replaces it. A series that overlaps another file's rows of the same asset is refused
unless --replace (drop the old rows inside the new series' span) or --fill (keep only the new
rows outside the spans already in the lake). Outliers are kept and flagged; the replay skips them.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "import-prices", help="turn a real price file (Binance, CoinGecko, Chainlink, OHLCV) into lake prices",
        description="Import a price file into the lake's prices table, flagging outliers and reporting gaps.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, help="CSV or JSON price file")
    p.add_argument("--asset", help="asset name in the lake (default: read from the file: ETHUSDT -> ETH)")
    p.add_argument("--format", choices=FORMATS, default="auto", help="file family (default: detect)")
    p.add_argument("--lake", type=Path, default=None, help="lake folder (default data/lake, or $BACKTEST_LAKE)")
    p.add_argument("--decimals", type=int, help="Chainlink answer decimals, for a feed not known by address")
    p.add_argument("--divide-by", type=Path, metavar="FILE2",
                   help="store FILE's price divided by FILE2's at the nearest time (BTCUSD / BTCUSDC = USDC in USD)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--replace", dest="overlap", action="store_const", const="replace", default="refuse",
                     help="drop other files' rows of this asset inside this series' span")
    how.add_argument("--fill", dest="overlap", action="store_const", const="fill",
                     help="keep only this series' rows outside the spans already in the lake")
    p.set_defaults(func=run)


def run(args) -> int:
    series = read_price_file(args.file, args.format, asset=args.asset, decimals=args.decimals)
    if args.divide_by is not None:
        other = read_price_file(args.divide_by, args.format, decimals=args.decimals)
        series = divide(series, other, args.asset or series.asset)
    print(describe(series))
    print(f"  stored: {store_series(args.lake or default_lake(), series, args.overlap, file=args.file)}")
    return 0


def describe(series: PriceSeries, max_listed: int = 5) -> str:
    """What the terminal shows: span, outliers (each listed), gaps, rows dropped and why."""
    t = series.timestamp
    lines = [f"{series.asset}: {len(t)} prices {_ts(t[0])} .. {_ts(t[-1])} UTC from {series.source}"]
    idx = np.flatnonzero(series.outlier)
    if idx.size:
        shown = ", ".join(f"{_ts(t[i])} (close {series.price[i]:.6g}"
                          + (f", low {series.low[i]:.6g}, high {series.high[i]:.6g})" if np.isfinite(series.low[i])
                             else ")") for i in idx[:max_listed])
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
        series = PriceSeries(series.asset, series.source, series.timestamp[keep], series.price[keep],
                             series.low[keep], series.high[keep], outlier=series.outlier[keep])
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
