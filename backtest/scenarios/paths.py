"""Turn a scenario into exogenous price paths on its step grid, one column per book asset.

With `anchor = "book"` every path is a relative move applied to the book's own snapshot prices,
so a 2020 crash can be replayed on today's book; with "absolute" the lake's prices are used as
they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa

from backtest.errors import InputError
from backtest.lake.catalog import run_query
from backtest.scenarios import intrabar
from backtest.scenarios.intrabar import Prints
from backtest.scenarios.library import Scenario
from backtest.scenarios.moves import (LAKE_NAMES, USD_STABLECOINS, Move, PathSources, beta_path, default_reference,
                                      proxy_move)


def step_times(s: Scenario) -> np.ndarray:
    start = np.datetime64(s.start.replace(tzinfo=None), "us")
    return start + np.arange(s.n_steps) * np.timedelta64(s.step_seconds, "s")


def stylised_multiplier(legs: list, hours: np.ndarray) -> np.ndarray:
    """Piecewise log-linear path through the cumulative leg changes; flat after the last leg."""
    knots_t = np.concatenate([[0.0], np.cumsum([l[0] for l in legs])])
    knots_v = np.concatenate([[0.0], np.cumsum([np.log1p(l[1]) for l in legs])])
    return np.exp(np.interp(hours, knots_t, knots_v))


class MissingSeries(InputError):
    """A lake series the scenario needs is absent or ends early; `scenario_paths` lists them all at once."""


def get_command(s: Scenario, lake_asset: str, spec: dict) -> str:
    """The scenario's own `get`, else a fetch-prices over the window (a day either side)."""
    if spec.get("get"):
        return spec["get"]
    day = np.timedelta64(1, "D")
    start, end = ((t + d).astype("datetime64[D]") for t, d in ((step_times(s)[0], -day), (step_times(s)[-1], day)))
    return f"`backtest fetch-prices {lake_asset} --from {start} --to {end}` or `backtest import-prices FILE --asset " \
        f"{lake_asset}`"


def lake_prints(con, s: Scenario, lake_asset: str) -> Prints:
    """The rows of one lake asset that shape the window (queries/price_bars.sql)."""
    rows = run_query(con, "price_bars", {"asset": lake_asset, "start": s.start, "end": s.end})
    col = lambda name: rows[name].to_numpy(zero_copy_only=False).astype(float)  # noqa: E731  (null -> NaN)
    times = rows["timestamp"].cast(pa.int64()).to_numpy(zero_copy_only=False)
    bars = rows["bar_seconds"].fill_null(0).cast(pa.int64()).to_numpy(zero_copy_only=False) * 1_000_000
    return Prints(times, col("price_usd"), col("open"), col("high"), col("low"), bars)


def lake_series(con, s: Scenario, asset: str, spec: dict) -> np.ndarray:
    """One lake asset's path on the step grid, bars walked through their range (intrabar.py)."""
    lake_asset = spec.get("lake_asset", asset)
    prints = lake_prints(con, s, lake_asset)
    grid = step_times(s).astype("datetime64[us]").astype(np.int64)
    prices = intrabar.path(prints, grid)
    how = f"; get it with: {get_command(s, lake_asset, spec)}"
    if not len(prices) or np.isnan(prices[0]):
        raise MissingSeries(f"no {lake_asset} price at or before the scenario start {s.start:%Y-%m-%d %H:%M}Z in the "
                            "lake" + how, file=s.path, column=f"assets.{asset}")
    last = prints.time_us[prints.time_us <= grid[-1]][-1]
    if (grid[-1] - last) / 1e6 > max(6 * 3600, 10 * s.step_seconds):
        seen = np.datetime64(int(last), "us").astype(datetime)
        raise MissingSeries(f"the lake's {lake_asset} prices stop at {seen:%Y-%m-%d %H:%M}Z, long before the "
                            f"scenario end {s.end:%Y-%m-%d %H:%M}Z" + how, file=s.path, column=f"assets.{asset}")
    return prices


@dataclass(frozen=True)
class ScenarioPaths:
    prices: np.ndarray               # [steps, assets] USD
    sources: PathSources             # how each asset moves (the replay summary lists the unnamed ones)
    era: np.ndarray = None           # [steps, assets] USD in the path's own era: an asset's lake series where
                                     # it has one (2020's ETH on a 2020 path), else `prices` (gas is paid at these)


def exogenous_paths(con, s: Scenario, assets: list[str], book_prices: np.ndarray) -> np.ndarray:
    """[steps, assets] USD prices (scenario_paths without the sources)."""
    return scenario_paths(con, s, assets, book_prices).prices


def scenario_paths(con, s: Scenario, assets: list[str], book_prices: np.ndarray) -> ScenarioPaths:
    """Every book asset's path: the scenario's own for the assets it names, and for the others
    their own lake series or a beta to a named asset (moves.py); flat only when neither exists."""
    hours = (np.arange(s.n_steps) * s.step_seconds) / 3600.0
    rel: dict[str, np.ndarray] = {}
    absolute: dict[str, np.ndarray] = {}
    missing: list[MissingSeries] = []

    def collect(asset: str, spec: dict) -> np.ndarray:          # every missing series, not just the first
        try:
            return lake_series(con, s, asset, spec)
        except MissingSeries as exc:
            missing.append(exc)
            return np.ones(s.n_steps)
    for asset, spec in s.assets.items():
        source = spec.get("source", "constant")
        if "follows" in spec:
            continue
        if source == "stylised":
            rel[asset] = stylised_multiplier(spec["legs"], hours)
        elif source == "lake":
            series = collect(asset, spec)
            absolute[asset] = series
            rel[asset] = series / series[0]
    for asset, spec in s.assets.items():
        if "follows" in spec:
            m = rel.get(spec["follows"], np.ones(s.n_steps))
            if "ratio_asset" in spec:
                ratio = collect(asset, {"lake_asset": spec["ratio_asset"], "get": spec.get("get")})
                m = m * ratio / ratio[0]
            rel[asset] = m
    if len(missing) == 1:
        raise missing[0]
    if missing:
        raise MissingSeries(f"the lake lacks {len(missing)} price series this scenario needs:\n"
                            + "\n".join(f"  {e.column}: {e.message}" for e in missing), file=s.path)
    found = {a: _unnamed(con, s, a) for a in assets if a not in s.assets}
    for asset, (move, series) in found.items():
        if series is not None:
            absolute[asset] = series
            rel[asset] = series / series[0]
        elif move.how == "beta":
            rel[asset] = beta_path(rel.get(move.proxy, np.ones(s.n_steps)), move.beta)
    moves = tuple(found[a][0] if a in found else Move(a, "scenario") for a in assets)
    out = np.empty((s.n_steps, len(assets)))
    for j, asset in enumerate(assets):
        if s.anchor == "absolute" and asset in absolute:
            out[:, j] = absolute[asset]
        else:
            out[:, j] = book_prices[j] * rel.get(asset, np.ones(s.n_steps))
    era = out.copy()
    for j, asset in enumerate(assets):
        if asset in absolute:
            era[:, j] = absolute[asset]
    return ScenarioPaths(out, PathSources(moves), era)


def _unnamed(con, s: Scenario, asset: str) -> tuple[Move, np.ndarray | None]:
    """An asset the scenario does not name: in a historical scenario its own lake series if the lake
    covers the window; else its [proxy]; else a USD stablecoin stays at peg; else (historical) a
    beta estimated to the default reference; else flat, and said."""
    if s.kind == "historical":
        for name in dict.fromkeys((asset, LAKE_NAMES.get(asset, asset))):
            try:
                return Move(asset, "own series", f"(lake {name})"), lake_series(con, s, asset, {"lake_asset": name})
            except MissingSeries:
                continue
    if asset in s.proxy:
        return proxy_move(con, s, asset, s.proxy[asset]), None
    if asset in USD_STABLECOINS:
        return Move(asset, "flat", "(USD stablecoin held at its peg: no series of its own for the window)"), None
    if s.kind != "historical":
        return Move(asset, "flat", "(stylised scenario: no path and no [proxy] for it)"), None
    ref = default_reference(s)
    if ref is None:
        return Move(asset, "flat", "(no series of its own and no named lake asset to estimate a beta to)"), None
    return proxy_move(con, s, asset, {"asset": ref}), None


def gas_path(con, s: Scenario) -> np.ndarray:
    """Gwei per step: the scenario's constant, else the lake's gas table (refused when it has nothing at the
    start and the scenario names a `get` for its gas), else 30 gwei."""
    if "gwei" in s.gas:
        return np.full(s.n_steps, float(s.gas["gwei"]))
    rows = run_query(con, "gas_path", {"start": s.start, "end": s.end, "step_seconds": s.step_seconds})
    gwei = rows["gas_price_gwei"].to_numpy(zero_copy_only=False).astype(float)
    if s.gas.get("get") and (not len(gwei) or np.isnan(gwei[0])):
        raise MissingSeries(f"no gas price at or before the scenario start {s.start:%Y-%m-%d %H:%M}Z in the lake; get "
                            f"it with: {s.gas['get']}", file=s.path, column="gas")
    if np.all(np.isnan(gwei)):
        return np.full(s.n_steps, 30.0)
    first = gwei[~np.isnan(gwei)][0]
    gwei = np.where(np.isnan(gwei), first, gwei)
    return gwei
