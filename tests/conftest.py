"""Shared fixtures: a small synthetic lake made by the project's own generator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# In CI, property tests draw the same examples every run: a red build is always reproducible.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def small_lake(tmp_path_factory) -> Path:
    """3,000 accounts, same shape and parameters as the shipped sample (seeded)."""
    from backtest.sample import write_sample_lake
    lake = tmp_path_factory.mktemp("lake")
    write_sample_lake(lake, seed=3, n_accounts=3000)
    return lake
