"""Turn a scenario into exogenous price paths on its step grid, one column per book asset.

With `anchor = "book"` every path is a relative move applied to the book's own snapshot prices,
so a 2020 crash can be replayed on today's book; with "absolute" the lake's prices are used as
they are.
"""

from __future__ import annotations

import numpy as np

from backtest.errors import InputError
from backtest.lake.catalog import run_query
from backtest.scenarios.library import Scenario


def step_times(s: Scenario) -> np.ndarray:
    start = np.datetime64(s.start.replace(tzinfo=None), "us")
    return start + np.arange(s.n_steps) * np.timedelta64(s.step_seconds, "s")


def stylised_multiplier(legs: list, hours: np.ndarray) -> np.ndarray:
    """Piecewise log-linear path through the cumulative leg changes; flat after the last leg."""
    knots_t = np.concatenate([[0.0], np.cumsum([l[0] for l in legs])])
    knots_v = np.concatenate([[0.0], np.cumsum([np.log1p(l[1]) for l in legs])])
    return np.exp(np.interp(hours, knots_t, knots_v))


class MissingSeries(InputError):
    """A lake series the scenario needs is absent or ends early; `exogenous_paths` lists them all at once."""


def get_command(s: Scenario, lake_asset: str, spec: dict) -> str:
    """The scenario's own `get`, else a fetch-prices over the window (a day either side)."""
    if spec.get("get"):
        return spec["get"]
    day = np.timedelta64(1, "D")
    start, end = ((t + d).astype("datetime64[D]") for t, d in ((step_times(s)[0], -day), (step_times(s)[-1], day)))
    return f"`backtest fetch-prices {lake_asset} --from {start} --to {end}` or `backtest import-prices FILE --asset " \
        f"{lake_asset}`"


def lake_series(con, s: Scenario, asset: str, spec: dict) -> np.ndarray:
    lake_asset = spec.get("lake_asset", asset)
    rows = run_query(con, "price_path", {"asset": lake_asset, "start": s.start, "end": s.end,
                                         "step_seconds": s.step_seconds})
    prices = rows["price_usd"].to_numpy(zero_copy_only=False).astype(float)
    how = f"; get it with: {get_command(s, lake_asset, spec)}"
    if np.isnan(prices[0]):
        raise MissingSeries(f"no {lake_asset} price at or before the scenario start {s.start:%Y-%m-%d %H:%M}Z in the "
                            "lake" + how, file=s.path, column=f"assets.{asset}")
    observed = rows["observed_at"].to_pylist()
    if observed[-1] is not None and (s.end - observed[-1]).total_seconds() > max(6 * 3600, 10 * s.step_seconds):
        raise MissingSeries(f"the lake's {lake_asset} prices stop at {observed[-1]:%Y-%m-%d %H:%M}Z, long before the "
                            f"scenario end {s.end:%Y-%m-%d %H:%M}Z" + how, file=s.path, column=f"assets.{asset}")
    return prices


def exogenous_paths(con, s: Scenario, assets: list[str], book_prices: np.ndarray) -> np.ndarray:
    """[steps, assets] USD prices. Assets the scenario does not name stay at the book's price."""
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
    out = np.empty((s.n_steps, len(assets)))
    for j, asset in enumerate(assets):
        if s.anchor == "absolute" and asset in absolute:
            out[:, j] = absolute[asset]
        else:
            out[:, j] = book_prices[j] * rel.get(asset, np.ones(s.n_steps))
    return out


def gas_path(con, s: Scenario) -> np.ndarray:
    """Gwei per step: the scenario's constant, else the lake's gas table, else 30 gwei."""
    if "gwei" in s.gas:
        return np.full(s.n_steps, float(s.gas["gwei"]))
    rows = run_query(con, "gas_path", {"start": s.start, "end": s.end, "step_seconds": s.step_seconds})
    gwei = rows["gas_price_gwei"].to_numpy(zero_copy_only=False).astype(float)
    if np.all(np.isnan(gwei)):
        return np.full(s.n_steps, 30.0)
    first = gwei[~np.isnan(gwei)][0]
    gwei = np.where(np.isnan(gwei), first, gwei)
    return gwei
