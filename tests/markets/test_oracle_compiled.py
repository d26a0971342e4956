"""Oracles.update compiled (backtest/markets/oracle_compiled.py) gives the Python path's bits: every column's
price, every feed's answer, round and round time, block after block, over the deployed feeds of the sample
book's seven assets (Chainlink with and without CAPO's cap, LST adapters, fixed prices in USD and in ETH, the
Compound v2 anchor, Maker's OSM) on paths that jump past deviations, caps and the anchor's bounds."""

import numpy as np
from hypothesis import given, settings, strategies as st

from backtest import compiled
from backtest.config import RunConfig
from backtest.markets.oracles import Oracles
from backtest.overrides import apply_overrides

ASSETS = ["CRV", "DAI", "USDC", "USDT", "WBTC", "WETH", "wstETH"]
FIRST = np.array([0.5, 1.0, 1.0, 1.0, 30_000.0, 2_000.0, 2_300.0])
COLUMNS = [("aave-v2", "CRV"), ("aave-v3", "CRV"), ("aave-v2", "DAI"), ("aave-v3", "DAI"), ("compound-v2", "DAI"),
           ("maker", "DAI"), ("aave-v2", "USDC"), ("aave-v3", "USDC"), ("comet", "USDC"), ("compound-v2", "USDC"),
           ("aave-v2", "USDT"), ("aave-v3", "USDT"), ("compound-v2", "USDT"), ("aave-v2", "WBTC"), ("aave-v3", "WBTC"),
           ("comet", "WBTC"), ("compound-v2", "WBTC"), ("maker", "WBTC"), ("aave-v2", "WETH"), ("aave-v3", "WETH"),
           ("comet", "WETH"), ("compound-v2", "WETH"), ("maker", "WETH"), ("aave-v2", "wstETH"),
           ("aave-v3", "wstETH"), ("maker", "wstETH")]
# feeds read in other quotes than deployed (an LST adapter on WBTC/USDC, ETH in USDT, DAI at a fixed price in
# ETH, a cap CRV crosses): every product of round, quote price, rate and cap is then a rounding of its own
TWISTED = ["oracle.aave_v3.wstETH.quote=USDC", "oracle.aave_v3.wstETH.base=WBTC", "oracle.aave_v3.WETH.quote=USDT",
           "oracle.aave_v3.CRV.price_cap=0.52", "oracle.maker.DAI.quote=WETH", "oracle.maker.DAI.fixed_price=0.0005"]


def _state(o: Oracles, out: np.ndarray) -> bytes:
    return b"".join(np.asarray(x, dtype=float).tobytes() for x in (out, o.answer, o.round, o.updated_at))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), day=st.sampled_from(["2022-06-01", "2024-06-01"]),
       steps=st.integers(1, 400), scale=st.sampled_from([0.001, 0.01, 0.05]), twisted=st.booleans())
def test_the_compiled_update_is_the_python_one_bit_for_bit(seed, day, steps, scale, twisted):
    rng = np.random.default_rng(seed)
    moves = rng.normal(0, scale, (steps, len(ASSETS))) * (rng.random((steps, len(ASSETS))) < 0.3)
    path = FIRST * np.exp(np.cumsum(moves, axis=0))
    gaps = np.where(rng.random(steps) < 0.02, rng.choice([3_600.0, 86_400.0], steps), 12.0)   # heartbeats pass
    now = np.concatenate([[0.0], np.cumsum(gaps[1:])])
    config = apply_overrides(RunConfig(scenario="s", lake="l"), TWISTED if twisted else []).oracle
    build = lambda: Oracles(COLUMNS, ASSETS, config, FIRST, np.datetime64(day))   # noqa: E731
    fast = build()
    with compiled.python_path():
        plain = build()
    for k in range(steps):
        t = np.float64(now[k])                  # the engine's block times are numpy floats
        got = fast.update(t, path[k])
        with compiled.python_path():
            want = plain.update(t, path[k])
        assert _state(fast, got) == _state(plain, want), k
        if rng.random() < 0.3:
            fast.observe(t, path[k])
            plain.observe(t, path[k])


def test_a_feed_set_with_every_kind_takes_the_compiled_path():
    o = Oracles(COLUMNS, ASSETS, RunConfig(scenario="s", lake="l").oracle, FIRST, np.datetime64("2024-06-01"))
    kinds = set(o.kind.tolist())
    assert {"chainlink", "lst", "fixed", "anchored", "osm"} <= kinds and o._rate_static and (o.price_cap > 0).any()
    o.update(12.0, FIRST * 1.1)
    assert (o.__dict__.get("_tick_plan") is not None) == compiled.ON
