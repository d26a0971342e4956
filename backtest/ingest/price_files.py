"""Real price files -> one clean, sorted series per file, with outliers flagged and gaps measured.

Families: Binance klines (API JSON, data.binance.vision CSV without header, CryptoDataDownload CSV
with a URL banner and newest-first rows, python-binance dumps), CoinGecko (API `market_chart`
JSON, website export, per-symbol dumps), Chainlink `getRoundData` dumps, and generic OHLCV
(any time column plus close or price, or bid/ask). Times may be unix s/ms/us or date strings in
several formats, mixed within one file; naive times are taken as UTC. USDT and USDC quotes are
taken as USD: the `source` label keeps the pair so a reader can tell.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.errors import InputError
from backtest.ingest.price_series import PriceSeries, interval, nominal_step

FORMATS = ("auto", "binance", "coingecko", "chainlink", "ohlcv")

# data.binance.vision and /api/v3/klines: 12 fields, no header (binance-spot-api-docs, rest-api.md).
KLINE_COLUMNS = ("open_time", "open", "high", "low", "close", "volume", "close_time",
                 "quote_volume", "trades", "taker_base", "taker_quote", "ignore")

# Chainlink feeds of the real dumps (MANIFEST.md): pair and answer decimals; others need --decimals.
CHAINLINK_FEEDS = {
    "0x5f4ec3df9cbd43714fe2740f5e3616155c5b8419": ("ETH/USD", 8),
    "0xf4030086522a5beea4988f8ca5b36dbc97bee88c": ("BTC/USD", 8),
    "0x86392dc19c0b719886221c78ab11eb8cf5c52812": ("stETH/ETH", 18),
    "0xac559f25b1619171cbc396a50854a3240b6a4e99": ("ETH/BTC", 8),
}
QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "TUSD", "USD")
TIME_COLUMNS = ("unix", "open_time", "timestamp", "time_period_start", "time", "date", "datetime",
                "snapped_at", "timestamp_x", "updatedat", "update")
BAR_OPEN_COLUMNS = ("unix", "open_time", "timestamp", "time_period_start", "time", "date", "datetime")
PRICE_COLUMNS = ("close", "price_close", "price", "usd_price")
DATE_FORMATS = ("%Y-%m-%d %I-%p", "%Y-%m-%d %I:%M %p", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%d.%m.%Y %H:%M")


def read_price_file(path, fmt: str = "auto", *, asset: str | None = None,
                    decimals: int | None = None) -> PriceSeries:
    """Parse one real price file; bad rows raise InputError naming file, column and (data) row."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read price file ({exc})", file=path) from None
    return parse_price_text(text, path, fmt, asset=asset, decimals=decimals)


def parse_price_text(text: str, name, fmt: str = "auto", *, asset: str | None = None,
                     decimals: int | None = None) -> PriceSeries:
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})", file=name)
    frame, hint = _frame(text, name)
    if fmt == "auto":
        fmt = detect_format(frame, hint)
    parse = {"binance": _binance, "coingecko": _coingecko, "chainlink": _chainlink, "ohlcv": _ohlcv}[fmt]
    return parse(frame, name, hint, asset, decimals)


def _frame(text: str, name) -> tuple[pd.DataFrame, str]:
    """Strings only; `hint` says what the container looked like (json-klines, json-chart, csv, ...)."""
    stripped = text.lstrip()
    if stripped[:1] in "[{":
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg} at line {exc.lineno})", file=name) from None
        if isinstance(obj, dict) and "prices" in obj:
            return pd.DataFrame(obj["prices"], columns=["timestamp", "price"]).astype(str), "json-chart"
        if isinstance(obj, dict) and "data" in obj:
            obj = obj["data"]
        if isinstance(obj, list) and obj and isinstance(obj[0], list):
            return pd.DataFrame(obj, columns=list(KLINE_COLUMNS[:len(obj[0])])).astype(str), "json-klines"
        if isinstance(obj, list) and obj and isinstance(obj[0], dict):
            frame = pd.DataFrame(obj).astype(str)
            frame.columns = [str(c).strip().lower() for c in frame.columns]
            return frame, "json-records"
        raise InputError("JSON holds no price rows (expected klines, a market_chart or records)", file=name)
    lines = text.splitlines()
    first = 0
    while first < len(lines) - 1 and lines[first].count(",") < max(1, lines[first + 1].count(",")):
        first += 1                                   # banner lines (a URL, a title) above the table
    body = "\n".join(lines[first:])
    has_header = len(lines) - first < 2 or _numeric_fields(lines[first]) < _numeric_fields(lines[first + 1])
    frame = pd.read_csv(io.StringIO(body), dtype=str, header=0 if has_header else None,
                        keep_default_na=False, skipinitialspace=True)
    if not has_header:
        cols = KLINE_COLUMNS if frame.shape[1] >= 6 else ("timestamp", "price")
        frame.columns = list(cols[:frame.shape[1]]) + [f"extra{i}" for i in range(frame.shape[1] - len(cols))]
        return frame, "csv-bare"
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return frame, "csv"


def _numeric_fields(line: str) -> int:
    return int(pd.to_numeric(pd.Series(line.split(",")), errors="coerce").notna().sum())


def detect_format(frame: pd.DataFrame, hint: str) -> str:
    cols = set(frame.columns)
    if hint == "json-klines" or (hint == "csv-bare" and frame.shape[1] >= 6):
        return "binance"
    if hint == "json-chart" or "snapped_at" in cols or "usd_price" in cols or {"price", "market_cap"} <= cols:
        return "coingecko"
    if "answer" in cols or ("answeredinround" in cols) or (
            frame.shape[1] == 6 and list(frame.columns)[1:] == ["0", "1", "2", "3", "4"]):
        return "chainlink"
    if {"unix", "symbol"} <= cols or "ticker" in cols or "tradecount" in cols:
        return "binance"
    return "ohlcv"


def _pick(frame, names, name, what) -> str:
    for c in names:
        if c in frame.columns:
            return c
    raise InputError(f"no {what} column (looked for {', '.join(names)}; found {', '.join(frame.columns)})",
                     file=name)


def parse_times(raw: pd.Series, name, column: str) -> np.ndarray:
    """Unix numbers (s, ms, us or ns, told apart by size row by row) or date strings, mixed."""
    text = raw.astype(str).str.strip()
    nums = pd.to_numeric(text, errors="coerce").to_numpy(float)
    numeric = np.isfinite(nums)
    out = np.full(len(text), np.datetime64("NaT"), "datetime64[us]")
    if numeric.any():
        mag = np.abs(nums)
        scale = np.select([mag < 1e11, mag < 1e14, mag < 1e17], [1e6, 1e3, 1.0], 1e-3)
        out[numeric] = np.round(nums[numeric] * scale[numeric]).astype(np.int64).astype("datetime64[us]")
    rest = ~numeric
    if rest.any():
        s = text[rest].str.replace(r"\s*UTC$", "", regex=True)
        parsed = pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce")
        for fmt in DATE_FORMATS:
            todo = parsed.isna()
            if not todo.any():
                break
            parsed[todo] = pd.to_datetime(s[todo], format=fmt, utc=True, errors="coerce")
        out[rest] = parsed.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
    bad = np.flatnonzero(np.isnat(out))
    if bad.size:
        raise InputError(f"not a time (unix seconds/ms or a date; found {raw.iloc[bad[0]]!r})",
                         file=name, column=column, row=int(raw.index[bad[0]]) + 1)   # index = file row
    return out


def _numbers(frame, col, name, *, required=True) -> np.ndarray:
    if col is None or col not in frame.columns:
        return np.full(len(frame), np.nan)
    text = frame[col].astype(str).str.strip()
    v = pd.to_numeric(text, errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(v) & (required | ~text.isin(["", "nan", "NaN", "NULL", "None"])))
    if bad.size:
        raise InputError(f"not a number (found {frame[col].iloc[bad[0]]!r})", file=name, column=col,
                         row=int(bad[0]) + 1)
    return v


def _series(name, asset, source, ts, price, low, high, price_col, dropped=None, rows=None, *,
            bar=None) -> PriceSeries:
    """Common tail: positive prices, oldest first, duplicates resolved, outliers flagged.
    `bar` = (open, volume, bar_seconds) for a file of bars, whose ranges are checked here."""
    rows = np.arange(1, len(price) + 1) if rows is None else rows
    bad = np.flatnonzero(~(price > 0))
    if bad.size:
        raise InputError(f"price must be > 0 (found {price[bad[0]]!r})", file=name, column=price_col,
                         row=int(rows[bad[0]]))
    nan = np.full(len(price), np.nan)
    open_, volume, bar_seconds = bar if bar is not None else (nan, nan.copy(), 0)
    if bar is not None:
        _check_bars(name, open_, high, low, price, rows)
    newest_first = len(ts) > 1 and np.median(np.diff(ts.astype(np.int64))) < 0
    order = np.argsort(ts, kind="stable")
    ts, price, low, high, rows = ts[order], price[order], low[order], high[order], rows[order]
    open_, volume = open_[order], volume[order]
    # A repeated time: the row written last wins (the upper one in a newest-first export, which is
    # how CryptoDataDownload prepends and Chainlink dumps list rounds; the lower one otherwise).
    same = np.flatnonzero(ts[1:] == ts[:-1]) + 1
    drop = same if newest_first else same - 1
    keep = np.ones(len(ts), bool)
    keep[drop] = False
    dropped = dict(dropped or {})
    differ = int(np.count_nonzero(price[same] != price[same - 1]))
    if same.size - differ:
        dropped["repeated times, same price"] = int(same.size - differ)
    if differ:
        dropped["repeated times with different prices; kept the row written last"] = differ
    if not keep.any():
        raise InputError("no price rows", file=name)
    return PriceSeries(asset, source, ts[keep], price[keep], low[keep], high[keep], dropped=dropped,
                       open=open_[keep], volume=volume[keep], bar_seconds=bar_seconds)


def _check_bars(name, open_, high, low, close, rows) -> None:
    """A bar's low is at or below its open and close, its high at or above them (rows with a range)."""
    with np.errstate(invalid="ignore"):
        full = np.isfinite(open_) & np.isfinite(high) & np.isfinite(low)
        tol = 1e-9 * close
        for col, bad in (("open", full & ~(open_ > 0)),
                         ("low", full & ((low > np.fmin(open_, close) + tol) | ~(low > 0))),
                         ("high", full & (high < np.fmax(open_, close) - tol))):
            idx = np.flatnonzero(bad)
            if idx.size:
                i = idx[0]
                raise InputError(f"bar range does not hold its prices (open {open_[i]!r}, high {high[i]!r}, "
                                 f"low {low[i]!r}, close {close[i]!r})", file=name, column=col, row=int(rows[i]))


def _asset_of(pair: str | None, given: str | None, name) -> str:
    if given:
        return given
    if pair:
        pair = pair.replace("/", "").replace("-", "").upper()
        for q in QUOTES:
            if pair.endswith(q) and len(pair) > len(q):
                return pair[: -len(q)]
    raise InputError("cannot tell which asset this file prices; pass --asset", file=name)


def _pair_from_name(name) -> str | None:
    m = re.search(r"(?:^|[_\-])([A-Za-z0-9]+?(?:USDT|USDC|BUSD|FDUSD|TUSD|USD))(?:[_\-.]|$)",
                  Path(str(name)).name, re.I)
    return m.group(1).upper() if m else None


def _bar_end(ts: np.ndarray, step: int) -> np.ndarray:
    """A bar's close is the price at the bar's end; stamped at its open, a replay would see it early."""
    return ts + np.timedelta64(step, "s")


def _binance(frame, name, hint, asset, decimals):
    tcol = _pick(frame, ("unix", "open_time", "timestamp", "date"), name, "time")
    ts = parse_times(frame[tcol], name, tcol)
    pair = None
    for c in ("symbol", "ticker"):
        if c in frame.columns and len(frame):
            pair = str(frame[c].iloc[0]).replace("/", "").upper()
    pair = pair or _pair_from_name(name)
    price = _numbers(frame, "close", name)
    low, high = _numbers(frame, "low", name, required=False), _numbers(frame, "high", name, required=False)
    step = nominal_step(np.sort(ts))
    source = f"binance:{pair or Path(str(name)).name}:{interval(step)}:close"
    bar = (_numbers(frame, "open", name, required=False), _volume(frame, name), step)
    return _series(name, _asset_of(pair, asset, name), source, _bar_end(ts, step), price, low, high, "close",
                   bar=bar)


def _volume(frame, name) -> np.ndarray:
    """Base-asset volume (klines' `volume`; CryptoDataDownload names it `volume eth`, `volume btc`, ...)."""
    for c in ("volume", "price_volume", "volume_traded"):
        if c in frame.columns:
            return _numbers(frame, c, name, required=False)
    base = [c for c in frame.columns if c.startswith("volume ") and not c.endswith(("usdt", "usdc", "usd"))]
    return _numbers(frame, base[0] if base else None, name, required=False)


def _coingecko(frame, name, hint, asset, decimals):
    tcol = _pick(frame, ("snapped_at", "timestamp", "time", "date"), name, "time")
    pcol = _pick(frame, ("usd_price", "price"), name, "price")
    symbol = str(frame["symbol"].iloc[0]) if "symbol" in frame.columns and len(frame) else None
    if symbol is None:
        m = re.match(r"([A-Za-z0-9]+)[_\-]usd", Path(str(name)).name, re.I)
        symbol = m.group(1) if m else None
    asset = asset or symbol
    if not asset:
        raise InputError("cannot tell which coin this CoinGecko file prices; pass --asset", file=name)
    ts = parse_times(frame[tcol], name, tcol)
    price = _numbers(frame, pcol, name)
    nan = np.full(len(price), np.nan)
    return _series(name, asset, f"coingecko:{symbol or asset}:usd", ts, price, nan, nan.copy(), pcol)


def _chainlink(frame, name, hint, asset, decimals):
    cols = list(frame.columns)
    if "answer" not in cols:                      # header `,0,1,2,3,4`: round, answer, started, updated, answered
        frame = frame.rename(columns=dict(zip(cols[1:], ["round", "answer", "start", "update", "answeredinround"])))
    address = re.search(r"0x[0-9a-fA-F]{40}", str(name))
    feed = CHAINLINK_FEEDS.get(address.group(0).lower()) if address else None
    if decimals is None:
        if feed is None:
            raise InputError("unknown Chainlink feed: pass --decimals (8 for USD feeds, 18 for ETH feeds)", file=name)
        decimals = feed[1]
    tcol = _pick(frame, ("updatedat", "update", "updated_at"), name, "updatedAt")
    answer = _numbers(frame, "answer", name)
    when = _numbers(frame, tcol, name)
    invalid = (answer <= 0) | (when <= 0)         # a round never answered: 0 / 0 in getRoundData
    frame = frame.loc[~invalid]
    ts = parse_times(frame[tcol], name, tcol)
    price = answer[~invalid] / 10.0 ** decimals
    pair = feed[0] if feed else None
    if asset is None and pair is not None:
        asset = pair[:-4] if pair.endswith("/USD") else pair
    if asset is None:
        raise InputError("cannot tell which asset this Chainlink feed prices; pass --asset", file=name)
    label = address.group(0) if address else Path(str(name)).name
    nan = np.full(len(price), np.nan)
    dropped = {"unanswered rounds (answer or updatedAt 0)": int(invalid.sum())} if invalid.any() else {}
    return _series(name, asset, f"chainlink:{label}:{pair or asset}", ts, price, nan, nan.copy(), "answer", dropped,
                   rows=np.flatnonzero(~invalid) + 1)


def _ohlcv(frame, name, hint, asset, decimals):
    tcol = _pick(frame, TIME_COLUMNS, name, "time")
    ts = parse_times(frame[tcol], name, tcol)
    if "bid_price" in frame.columns and "ask_price" in frame.columns:
        pcol = "bid_price"
        price = (_numbers(frame, "bid_price", name) + _numbers(frame, "ask_price", name)) / 2
        label = "mid"
    else:
        pcol = _pick(frame, PRICE_COLUMNS, name, "close/price")
        price, label = _numbers(frame, pcol, name), "close"
    lcol = "low" if "low" in frame.columns else "price_low"
    hcol = "high" if "high" in frame.columns else "price_high"
    low, high = _numbers(frame, lcol, name, required=False), _numbers(frame, hcol, name, required=False)
    pair = _pair_from_name(name)
    step = nominal_step(np.sort(ts))
    source = f"ohlcv:{Path(str(name)).name}:{interval(step)}:{label}"
    ocol = "open" if "open" in frame.columns else "price_open"
    bar = None
    if tcol in BAR_OPEN_COLUMNS and ocol in frame.columns:
        ts = _bar_end(ts, step)
        bar = (_numbers(frame, ocol, name, required=False), _volume(frame, name), step)
    return _series(name, _asset_of(pair, asset, name), source, ts, price, low, high, pcol, bar=bar)
