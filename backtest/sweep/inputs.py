"""Replay inputs for many parameter sets from one read of the lake.

A sweep changes parameters, not the book. Loading the book is the slow part, so each worker loads
it once (with the market overrides and the pool depth scale taken out) and derives each task's
inputs: the per-reserve risk arrays (and any later parameter changes in the book's schedule) are
recomputed from the markets values by the loader's own resolver (backtest/inputs/params.py); pools
are rebuilt from the pools table per depth scale. tests/sweep checks that the result equals
`load_inputs(config)` array for array, so an engine change that breaks the shortcut fails there first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from backtest.config import RunConfig
from backtest.inputs.book import ReplayInputs, load_inputs, load_pools
from backtest.inputs.params import MARKET_PARAMS, check, resolve
from backtest.scenarios.library import Scenario

# RunConfig fields the loader does not read (the replay loop does). A new field not listed here
# is part of the cache key, so it costs a reload but can never be wrong.
REPLAY_ONLY = ("seed", "feedback", "arb_half_life_seconds", "block_seconds", "impact", "oracle", "liquidator")
DERIVED = ("market_overrides", "pool_depth_scale")
_DEFAULTS = RunConfig(scenario="", lake="")


def loading_key(config: RunConfig) -> str:
    """What the loaded book depends on: the config with replay-only and derived fields at defaults."""
    base = dataclasses.replace(config, **{f: getattr(_DEFAULTS, f) for f in REPLAY_ONLY + DERIVED})
    return base.to_toml()


def market_arrays(raw: dict[str, np.ndarray], assets: list[str], config: RunConfig,
                  emode=None) -> dict[str, np.ndarray]:
    """The engine's per-reserve parameters from a loaded book's (`raw`, loaded without market overrides):
    the one resolver (backtest/inputs/params.py) with the book's e-mode values as their categories'."""
    return {name: resolve(name, assets, raw[name], config, emode, raw[name]) for name in MARKET_PARAMS}


class InputsCache:
    """One per worker process: base inputs per loading key, pools per depth scale, and the last task's
    derived inputs with their (loading key, market overrides, depth scale): the tasks come set by set
    (sweep/tasks.py), so a parameter set's paths share one book object and what is worked out once per
    book (metrics.attribution.book_keys, engine.start.book_rules) is. Only the last is kept: what is kept
    per book lives while its book does (~30 MB a 100k-account book), not once per set of a grid."""

    def __init__(self):
        self._base: dict[str, ReplayInputs] = {}
        self._pools: dict[tuple[str, float], object] = {}
        self._derived: tuple = (None, None)     # (key, inputs) of the last task
        self.lake_loads = 0

    def base(self, config: RunConfig, scenario: Scenario) -> ReplayInputs:
        key = loading_key(config)
        if key not in self._base:
            plain = dataclasses.replace(config, **{f: getattr(_DEFAULTS, f) for f in DERIVED})
            self._base[key] = load_inputs(plain, scenario)
            self.lake_loads += 1
        return self._base[key]

    def inputs(self, config: RunConfig, scenario: Scenario) -> ReplayInputs:
        """The task's inputs, derived anew when the key changes (`derive`); the engine plays on copies."""
        key = (loading_key(config), config.market_overrides, float(config.pool_depth_scale))
        if self._derived[0] != key:
            self._derived = (key, self.derive(config, scenario))
        return self._derived[1]

    def derive(self, config: RunConfig, scenario: Scenario) -> ReplayInputs:
        base = self.base(config, scenario)
        assets = base.book.assets
        raw = {name: getattr(base.book, name) for name in MARKET_PARAMS}
        params = market_arrays(raw, assets, config, base.book.reserve_emode)
        schedule = [(block, market_arrays(p, assets, config, base.book.reserve_emode))
                    for block, p in base.book.schedule]
        for p in [params] + [p for _, p in schedule]:
            check(p, assets)                          # the loader's own refusal
        book = dataclasses.replace(base.book, schedule=schedule, **params)
        pools = base.pools
        if config.pool_depth_scale != _DEFAULTS.pool_depth_scale:
            key = (loading_key(config), config.market_overrides, float(config.pool_depth_scale))
            if key not in self._pools:
                self._pools[key] = load_pools(Path(config.lake), book, config)
            pools = self._pools[key]
        return dataclasses.replace(base, book=book, pools=pools)
