"""A price series as the lake keeps it, and the checks every imported series goes through: outliers
flagged (never silently used as an oracle price), gaps measured, one series divided by another.
Pure over arrays; the file formats that produce a series are in backtest/ingest/price_files.py."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from backtest.errors import InputError
from backtest.lake.schemas import UTC_TS


@dataclass(frozen=True)
class Gaps:
    step_seconds: int
    count: int
    missing_steps: int
    where: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]  # (last row before, first row after), longest first

    def describe(self) -> str:
        if not self.count:
            return f"no gaps (step {interval(self.step_seconds)})"
        a, b = self.where[0]
        return (f"{self.count} gap(s), {self.missing_steps} missing step(s) of {interval(self.step_seconds)}; "
                f"largest {span(b - a)} from {a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M} UTC")


@dataclass
class PriceSeries:
    """One imported series, oldest first; `open`/`low`/`high`/`volume` are NaN where the file has
    no bar, and `bar_seconds` is 0 for point prices (then `timestamp` is the print's time, not a
    bar's end)."""
    asset: str
    source: str
    timestamp: np.ndarray            # datetime64[us], UTC
    price: np.ndarray
    low: np.ndarray
    high: np.ndarray
    outlier: np.ndarray = field(default=None)
    dropped: dict[str, int] = field(default_factory=dict)
    open: np.ndarray = field(default=None)
    volume: np.ndarray = field(default=None)
    bar_seconds: int = 0

    def __post_init__(self):
        if self.outlier is None:
            self.outlier = flag_outliers(self.price, self.low, self.high)
        nan = np.full(len(self.price), np.nan)
        self.open = nan if self.open is None else self.open
        self.volume = nan.copy() if self.volume is None else self.volume

    def take(self, keep: np.ndarray) -> "PriceSeries":
        """The rows where `keep` is true, every column (and the outlier flags) kept with them."""
        return PriceSeries(self.asset, self.source, self.timestamp[keep], self.price[keep], self.low[keep],
                           self.high[keep], outlier=self.outlier[keep], dropped=self.dropped, open=self.open[keep],
                           volume=self.volume[keep], bar_seconds=self.bar_seconds)

    @property
    def step_seconds(self) -> int:
        return nominal_step(self.timestamp)

    def gaps(self) -> Gaps:
        return find_gaps(self.timestamp)

    def to_table(self) -> pa.Table:
        n = len(self.price)
        return pa.table({
            "asset": pa.array([self.asset] * n, pa.string()),
            "timestamp": pa.array(self.timestamp.astype("datetime64[us]"), UTC_TS),
            "price_usd": pa.array(self.price, pa.float64()),
            "source": pa.array([self.source] * n, pa.string()),
            "outlier": pa.array(self.outlier, pa.bool_()),
            "open": pa.array(self.open, pa.float64(), from_pandas=True),
            "high": pa.array(self.high, pa.float64(), from_pandas=True),
            "low": pa.array(self.low, pa.float64(), from_pandas=True),
            "volume": pa.array(self.volume, pa.float64(), from_pandas=True),
            "bar_seconds": pa.array(np.full(n, self.bar_seconds) if self.bar_seconds else [None] * n, pa.int32()),
        })


# ---------------------------------------------------------------- checks (pure, arrays in and out)

def flag_outliers(price, low=None, high=None, *, neighbours: int = 3, window: int = 49,
                  min_move: float = float(np.log(1.5)), min_z: float = 20.0) -> np.ndarray:
    """A print is an outlier when it is far from where the market was just before AND just after.

    Hampel-style identifier (median level, 1.4826*MAD scale; e.g. cran/pracma R/hampel.R) on logs,
    with the level taken on each side separately: `before` = median of the `neighbours` closes
    before the bar, `after` = median of those after it (at the file's ends, the bar's own close).
    A close, low or high is flagged when it is, on both sides and in the same direction, more than
    `min_move` (log; 0.405 = 50%) AND more than `min_z` scales away, scale = 1.4826 * median
    |log-return| over a centred `window`. A crash that stays down sits near its `after` level; a
    3.99 USDC wick that reverts within its hour sits far from both.
    """
    logp = np.log(np.asarray(price, float))
    n = logp.size
    if n < 2:
        return np.zeros(n, bool)
    padded = np.pad(logp, neighbours, constant_values=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # all-NaN windows at the ends
        before = np.nanmedian(np.stack([padded[neighbours - k: neighbours - k + n]
                                        for k in range(1, neighbours + 1)]), axis=0)
        after = np.nanmedian(np.stack([padded[neighbours + k: neighbours + k + n]
                                       for k in range(1, neighbours + 1)]), axis=0)
    before = np.where(np.isnan(before), logp, before)      # at the ends the bar's own close stands in:
    after = np.where(np.isnan(after), logp, after)         # a close there is never flagged, a wick can be
    moves = pd.Series(np.abs(np.diff(logp, prepend=np.nan)))
    scale = 1.4826 * moves.rolling(window, center=True, min_periods=3).median().to_numpy()
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1e-6)
    bar = np.maximum(min_move, min_z * scale)
    flagged = np.zeros(n, bool)
    for values in (price, low, high):
        if values is None:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.log(np.asarray(values, float))
        db, da = x - before, x - after
        flagged |= (np.sign(db) == np.sign(da)) & (np.fmin(np.abs(db), np.abs(da)) > bar)
    return flagged


def nominal_step(ts: np.ndarray) -> int:
    """The file's bar length in seconds: the median spacing, rounded to the second."""
    if len(ts) < 2:
        return 0
    diffs = np.diff(np.asarray(ts, "datetime64[us]").astype(np.int64))
    return int(round(float(np.median(diffs)) / 1e6))


def find_gaps(ts: np.ndarray, step_seconds: int | None = None, factor: float = 1.5) -> Gaps:
    """Intervals longer than `factor` bars: where the file is silent."""
    step = step_seconds or nominal_step(ts)
    if len(ts) < 2 or step <= 0:
        return Gaps(step, 0, 0, ())
    t = np.asarray(ts, "datetime64[us]")
    diffs = np.diff(t.astype(np.int64)) / 1e6
    idx = np.flatnonzero(diffs > factor * step)
    idx = idx[np.argsort(-diffs[idx], kind="stable")]
    missing = int(np.sum(np.round(diffs[idx] / step) - 1))
    where = tuple((pd.Timestamp(t[i], tz="UTC"), pd.Timestamp(t[i + 1], tz="UTC")) for i in idx)
    return Gaps(step, int(idx.size), missing, where)


def span(delta) -> str:
    """166d 12h, 5h, 3m 22s: a duration the way a person reads it."""
    total = int(round(pd.Timedelta(delta).total_seconds()))
    parts = [(total // 86400, "d"), (total % 86400 // 3600, "h"), (total % 3600 // 60, "m"), (total % 60, "s")]
    return " ".join(f"{n}{u}" for n, u in parts if n) or "0s"


def interval(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# ---------------------------------------------------------------- combining

def divide(numerator: PriceSeries, denominator: PriceSeries, asset: str) -> PriceSeries:
    """Price of one asset in another from two series: USDC/USD = (BTC/USD) / (BTC/USDC).

    Each numerator row takes the nearest denominator row within half a bar (CoinGecko stamps
    drift by seconds); rows without a partner are dropped and counted. The bar range of a ratio
    is not known (the two extremes need not fall at the same instant): low/high stay empty.
    """
    ta = numerator.timestamp.astype(np.int64)
    tb = denominator.timestamp.astype(np.int64)
    j = np.clip(np.searchsorted(tb, ta), 1, max(len(tb) - 1, 1))
    j = np.where(np.abs(tb[j - 1] - ta) <= np.abs(tb[np.minimum(j, len(tb) - 1)] - ta), j - 1, j)
    j = np.minimum(j, len(tb) - 1)
    ok = np.abs(tb[j] - ta) * 2 <= numerator.step_seconds * 1_000_000
    if not ok.any():
        raise InputError("the two files share no times", file=denominator.source)
    price = numerator.price[ok] / denominator.price[j[ok]]
    nan = np.full(int(ok.sum()), np.nan)
    dropped = {"rows without a partner in the other file": int((~ok).sum())} if (~ok).any() else {}
    return PriceSeries(asset, f"{numerator.source}/{denominator.source}", numerator.timestamp[ok], price,
                       nan, nan.copy(), dropped=dropped)
