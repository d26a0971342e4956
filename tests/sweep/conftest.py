"""A 2,000-account sample lake for the sweep tests (seeded, made once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtest.run import make_config
from backtest.scenarios.library import load_scenario


@pytest.fixture(scope="session")
def sweep_lake(sample_lake) -> Path:
    return sample_lake(2000)            # tests/conftest.py


@pytest.fixture(scope="session")
def crash():
    return load_scenario("stylised-eth-crash")


@pytest.fixture
def baseline(sweep_lake, crash):
    return make_config(crash, sweep_lake)
