"""The shipped sample book (data/lake): what the generator makes, its health factors against the published
target (backtest/sample/health.py), and no liquidation before prices move under the default scenario."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from backtest import api as bt
from backtest.commands.common import DEFAULT_SCENARIO, REPO
from backtest.queries import run as run_query
from backtest.sample.health import HF_FLOOR, TARGET, TOLERANCE_PP, draw_health_factors
from backtest.sample.lake import write_sample_lake
from backtest.scenarios.library import load_scenario

LAKE = REPO / "data" / "lake"


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_shipped_lake_is_what_the_seeded_generator_writes(tmp_path):
    """Byte for byte: `backtest sample-data` (seed 7, 50,000 accounts) remakes data/lake."""
    write_sample_lake(tmp_path, seed=7, n_accounts=50_000)
    assert _files(tmp_path) == _files(LAKE)


def test_draw_meets_the_debt_weighted_target():
    """Debt = adjusted collateral / HF with collateral independent of HF: the debt-weighted band shares are
    the target's (large n, equal collateral), and no HF is below the floor."""
    hf = draw_health_factors(np.random.default_rng(0), 400_000)
    debt = 1.0 / hf
    shares = [debt[(hf >= lo) & (hf < hi)].sum() / debt.sum() for lo, hi, _ in TARGET]
    assert shares == pytest.approx([s for *_, s in TARGET], abs=0.003)
    assert hf.min() >= HF_FLOOR


def test_shipped_book_health_factors_match_the_target():
    """queries/health_distribution_outside_emode.sql over data/lake: each band within TOLERANCE_PP points of
    TARGET's share; nothing liquidatable and nothing under the floor (Aave floors its weighted LT to bps)."""
    table = run_query("health_distribution_outside_emode", LAKE).to_pydict()
    got = dict(zip(table["band"], table["pct_of_debt"]))
    assert not any(band.startswith("0:") for band in got)
    for i, (lo, hi, share) in enumerate(TARGET, start=1):
        band = next(b for b in got if b.startswith(f"{i}:"))
        assert abs(got[band] - 100 * share) <= TOLERANCE_PP, (band, got[band], 100 * share)
    health = run_query("health", LAKE).to_pydict()
    lowest = min(h for h, d in zip(health["health_factor"], health["debt_usd"]) if d > 0)
    assert lowest >= HF_FLOOR - 1e-3


def test_default_scenario_liquidates_nothing_before_prices_move():
    """The default scenario's first six hours on the shipped sample: no liquidation in a step before some
    asset's path first falls 1 % below its start, and liquidations once it has fallen further."""
    crash = load_scenario(DEFAULT_SCENARIO)
    crash = dataclasses.replace(crash, end=crash.start + timedelta(hours=6))
    run = bt.replay(crash, lake=LAKE, feedback=False)
    steps = run.steps
    start = steps[steps["step"] == 0].set_index("asset")["price_exogenous"]
    fallen = steps[steps["price_exogenous"] <= 0.99 * steps["asset"].map(start)]
    first_fall = int(fallen["step"].min())
    liquidated = run.liquidations["step"]
    assert first_fall > 0 and len(liquidated) > 0
    assert int(liquidated.min()) >= first_fall, (int(liquidated.min()), first_fall)
