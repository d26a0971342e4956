"""Readers of the real files used by the calibration (../shared/data/real, MANIFEST.md there).

Each returns plain arrays for `fits`; a missing column or a bad cell raises InputError naming the
file, the column and the data row (1-based, counted below the header).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.errors import InputError
from backtest.ingest.price_files import parse_times


@dataclass(frozen=True)
class HourlyBars:
    times_s: np.ndarray       # bar open, unix seconds
    close: np.ndarray
    quote_volume: np.ndarray  # USD(T) traded in the bar
    dropped: int = 0          # bars without a volume (the day then counts as incomplete)


@dataclass(frozen=True)
class LiquidationMinutes:
    times_s: np.ndarray
    log_mid: np.ndarray       # log of the geometric mean of ask and bid
    long_usd: np.ndarray      # forced sells (long positions liquidated), USD at the row's mid
    short_usd: np.ndarray     # forced buys


def _table(path: Path) -> pd.DataFrame:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ({exc})", file=path) from None
    first = 0
    while first < len(lines) and "," not in lines[first]:
        first += 1                       # CryptoDataDownload puts a URL banner above the header
    if first >= len(lines) - 1:
        raise InputError("no CSV header and rows", file=path)
    frame = pd.read_csv(io.StringIO("\n".join(lines[first:])), dtype=str, keep_default_na=False)
    frame.columns = [c.strip().lower() for c in frame.columns]
    return frame


def _column(frame: pd.DataFrame, names: tuple[str, ...], path: Path) -> str:
    for name in names:
        if name in frame.columns:
            return name
    raise InputError(f"missing column (looked for {', '.join(names)}; found {', '.join(frame.columns)})",
                     file=path, column=names[0])


MISSING = ("", "nan", "NaN", "NULL", "None")


def _numbers(frame: pd.DataFrame, col: str, path: Path, *, positive: bool = False,
             missing_ok: bool = False) -> np.ndarray:
    """Numbers of one column; with missing_ok an empty/nan cell becomes NaN (the caller drops it)."""
    text = frame[col].str.strip()
    v = pd.to_numeric(text, errors="coerce").to_numpy(float)
    bad = ~np.isfinite(v) | ((v <= 0) if positive else (v < 0))
    if missing_ok:
        bad &= ~text.isin(MISSING).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        want = "a positive number" if positive else "a non-negative number"
        raise InputError(f"not {want} (found {frame[col].iloc[i]!r})", file=path, column=col, row=i + 1)
    return v


def read_hourly(path: Path) -> HourlyBars:
    """Binance 1h klines in the three layouts of the real data (misrori, ingiorn, hopeffy).

    A bar whose volume cell is empty or 'nan' (one in the ingiorn ETH file, 2019-11-07 03:00) is
    dropped and counted, so its day has fewer than 24 bars and `daily_stats` leaves it out.
    """
    path = Path(path)
    frame = _table(path)
    tcol = _column(frame, ("unix", "date", "timestamp", "open_time"), path)
    times = parse_times(frame[tcol], path, tcol).astype("datetime64[s]").astype(np.int64)
    close = _numbers(frame, _column(frame, ("close",), path), path, positive=True)
    quote = next((c for c in frame.columns if c.startswith("volume ") and c[7:] in ("usdt", "usd", "busd")), None)
    if quote is not None:
        volume = _numbers(frame, quote, path, missing_ok=True)
    else:
        volume = _numbers(frame, _column(frame, ("volume",), path), path, missing_ok=True) * close
    keep = np.isfinite(volume)
    return HourlyBars(times[keep], close[keep], volume[keep], int((~keep).sum()))


def read_liquidation_minutes(path: Path) -> LiquidationMinutes:
    """The Risk-DAO Binance-futures minute file: bid/ask and long/short liquidation volumes (base units)."""
    path = Path(path)
    frame = _table(path)
    tcol = _column(frame, ("timestamp_x",), path)
    times = parse_times(frame[tcol], path, tcol).astype("datetime64[us]").astype(np.int64) / 1e6
    back = np.flatnonzero(np.diff(times) <= 0)
    if back.size:
        raise InputError("times do not increase", file=path, column=tcol, row=int(back[0]) + 2)
    ask = _numbers(frame, _column(frame, ("ask_price",), path), path, positive=True)
    bid = _numbers(frame, _column(frame, ("bid_price",), path), path, positive=True)
    crossed = np.flatnonzero(bid > ask)
    if crossed.size:
        raise InputError(f"bid above ask ({bid[crossed[0]]} > {ask[crossed[0]]})", file=path,
                         column="bid_price", row=int(crossed[0]) + 1)
    long_col = _column(frame, tuple(c for c in frame.columns if c.endswith("liquidation_long"))
                       or ("binance-futures_ethusdt_liquidation_long",), path)
    short_col = _column(frame, tuple(c for c in frame.columns if c.endswith("liquidation_short"))
                        or ("binance-futures_ethusdt_liquidation_short",), path)
    mid = np.sqrt(ask * bid)
    return LiquidationMinutes(times, np.log(mid), _numbers(frame, long_col, path) * mid,
                              _numbers(frame, short_col, path) * mid)


def read_pool_reserves(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """StableSims `eth_dai_liquidity/DAY.json`: the Uniswap ETH/DAI pool's (WETH, DAI) reserves per 10 min."""
    path = Path(path)
    try:
        rows = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read pool reserves ({exc})", file=path) from None
    if not isinstance(rows, list) or not rows:
        raise InputError("expected a non-empty list of {DAI, WETH} rows", file=path)
    out = {"WETH": [], "DAI": []}
    for i, row in enumerate(rows, start=1):
        for key in out:
            value = row.get(key) if isinstance(row, dict) else None
            if not isinstance(value, (int, float)) or not value > 0:
                raise InputError(f"not a positive reserve (found {value!r})", file=path, column=key, row=i)
            out[key].append(float(value))
    return np.array(out["WETH"]), np.array(out["DAI"])
