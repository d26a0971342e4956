"""For each historical scenario, the low its path reaches against the low that traded: the check
that intra-bar paths keep the crash's bottom (docs/prices-and-scenarios.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.errors import InputError
from backtest.lake.catalog import connect, run_query
from backtest.scenarios.library import Scenario
from backtest.scenarios.paths import lake_series, step_times


@dataclass(frozen=True)
class Low:
    scenario: str
    asset: str                 # lake asset
    traded: float              # lowest bar low (or print) wholly inside the window
    traded_bar: str            # "03-13 01:00-02:00" (UTC; one time for a point print)
    path: float                # lowest value of the replay's path
    path_at: str
    closes: float              # lowest value the last-close-as-of path had (before intra-bar paths)


def _hm(t) -> str:
    return f"{t:%m-%d %H:%M}"


def scenario_lows(lake, scenarios: list[Scenario]) -> list[Low]:
    """One row per lake series a historical scenario names (`lake_asset`); series absent from the
    lake are skipped."""
    con = connect(lake)
    out = []
    for s in scenarios:
        if s.kind != "historical":
            continue
        times = step_times(s)
        for asset, spec in s.assets.items():
            if spec.get("source") != "lake":
                continue
            name = spec.get("lake_asset", asset)
            try:
                path = lake_series(con, s, asset, spec)
            except InputError:
                continue
            row = run_query(con, "window_low", {"asset": name, "start": s.start, "end": s.end}).to_pylist()[0]
            closes = run_query(con, "price_path", {"asset": name, "start": s.start, "end": s.end,
                                                   "step_seconds": s.step_seconds})["price_usd"]
            a, b = row["bar_start"], row["bar_end"]
            bar = _hm(a) if a == b else f"{_hm(a)}-{b:%H:%M}"
            i = int(np.nanargmin(path))
            out.append(Low(s.name, name, row["low"], bar, float(path[i]),
                           str(times[i].astype("datetime64[m]"))[5:].replace("T", " "),
                           float(np.nanmin(closes.to_numpy(zero_copy_only=False).astype(float)))))
    return out
