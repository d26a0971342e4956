"""A 2,000-account sample lake for the sweep tests (seeded, made once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtest.engine.run import make_config
from backtest.scenarios.library import load_scenario


@pytest.fixture(scope="session")
def sweep_lake(tmp_path_factory) -> Path:
    from backtest.sample import write_sample_lake
    lake = tmp_path_factory.mktemp("sweep-lake")
    write_sample_lake(lake, seed=3, n_accounts=2000)
    return lake


@pytest.fixture(scope="session")
def crash():
    return load_scenario("stylised-eth-crash")


@pytest.fixture
def baseline(sweep_lake, crash):
    return make_config(crash, sweep_lake)
