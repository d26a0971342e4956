"""A price path on the replay's step grid from bars and point prints (pure: arrays in, arrays out).

An hourly close stamped at the bar's end shows a crash an hour late and never shows the traded low.
A bar longer than the step is walked instead through its range in the usual order (a down bar
O->H->L->C, an up bar O->L->H->C; close >= open counts as up), its high and low placed on grid steps
inside the bar (near one and two thirds of it), log-linear between those points, so the low is
reached within the bar in which it traded. With one grid step inside a bar only the larger
excursion beyond the open-close body fits there. Point prints (CoinGecko, Chainlink, ratios) and
bars no longer than the step (minute files on a 5-minute grid) are used as they are: the last
print at or before each step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Prints:
    """One asset's rows, oldest first; times in integer microseconds (UTC). `bar_us` is 0 for a
    point print; for a bar, `time_us` is its end and `open`/`high`/`low` its range (NaN if unknown)."""
    time_us: np.ndarray
    close: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    bar_us: np.ndarray


@dataclass(frozen=True)
class Knots:
    """Points the path passes through; `linear[k]`: the path moves log-linearly from knot k-1 to k
    (inside a bar), else it holds knot k-1's value until knot k (as-of, as a point print)."""
    time_us: np.ndarray
    value: np.ndarray
    linear: np.ndarray


def _interior(t0: int, t1: int, grid0: int, step: int) -> tuple[int, int]:
    """First and last grid index strictly inside (t0, t1); last < first when there is none."""
    return (t0 - grid0) // step + 1, -((grid0 - t1) // step) - 1


def _extremes(p: Prints, i: int, grid0: int, step: int) -> list[tuple[int, float]]:
    """A bar's high and low as (grid time, price), in the order the bar visits them."""
    t1, bar = int(p.time_us[i]), int(p.bar_us[i])
    t0 = t1 - bar
    o, h, l, c = p.open[i], p.high[i], p.low[i], p.close[i]
    first, last = _interior(t0, t1, grid0, step)
    if last < first:
        return []
    order = (h, l) if c < o else (l, h)
    if last == first:           # one slot: the larger excursion beyond the body
        up, down = np.log(h / max(o, c)), np.log(min(o, c) / l)
        return [(grid0 + first * step, l if down >= up else h)]
    ideal = [t0 + bar / 3, t0 + 2 * bar / 3]
    ja, jb = (int(np.clip(round((x - grid0) / step), first, last)) for x in ideal)
    if jb <= ja:
        ja, jb = (ja, ja + 1) if ja < last else (ja - 1, ja)
    return [(grid0 + ja * step, order[0]), (grid0 + jb * step, order[1])]


def knots(p: Prints, grid0: int, step: int) -> Knots:
    """The path's knots from the prints: bars longer than `step` walked through their range."""
    t, v, lin = [], [], []
    for i in range(len(p.close)):
        ti = int(p.time_us[i])
        bar = int(p.bar_us[i])
        is_bar = bar > step and np.isfinite(p.open[i]) and np.isfinite(p.high[i]) and np.isfinite(p.low[i])
        if is_bar:
            t0 = ti - bar
            if not t or t[-1] < t0:               # first bar or after a gap: the bar starts at its open
                t.append(t0), v.append(float(p.open[i])), lin.append(False)
            for when, price in _extremes(p, i, grid0, step):
                if when > t[-1]:
                    t.append(when), v.append(float(price)), lin.append(True)
        t.append(ti), v.append(float(p.close[i])), lin.append(bool(is_bar))
    return Knots(np.array(t, np.int64), np.array(v, float), np.array(lin, bool))


def on_grid(k: Knots, grid_us: np.ndarray) -> np.ndarray:
    """The path at each grid time: a knot's value on or after it (held), log-linear inside a bar;
    NaN before the first knot."""
    out = np.full(len(grid_us), np.nan)
    if not len(k.time_us):
        return out
    j = np.searchsorted(k.time_us, grid_us, side="right") - 1
    seen = j >= 0
    jj = np.where(seen, j, 0)
    out[seen] = k.value[jj[seen]]
    nxt = np.minimum(jj + 1, len(k.time_us) - 1)
    inside = seen & (jj + 1 < len(k.time_us)) & k.linear[nxt] & (grid_us > k.time_us[jj])
    if inside.any():
        a, b = jj[inside], nxt[inside]
        frac = (grid_us[inside] - k.time_us[a]) / (k.time_us[b] - k.time_us[a])
        out[inside] = k.value[a] * np.exp(frac * np.log(k.value[b] / k.value[a]))
    return out


def path(p: Prints, grid_us: np.ndarray) -> np.ndarray:
    """Prices on a regular grid (`grid_us` evenly spaced) from one asset's prints."""
    step = int(grid_us[1] - grid_us[0]) if len(grid_us) > 1 else 1
    return on_grid(knots(p, int(grid_us[0]), step), grid_us)
