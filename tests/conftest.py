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
def sample_lake(tmp_path_factory):
    """`sample_lake(n_accounts, seed=3, protocols=None) -> Path`: the project's SYNTHETIC sample
    (backtest.sample.lake.write_sample_lake), written once per session for each set of arguments and
    shared by every test that asks for the same one. Read it; copy it before changing it."""
    made: dict[tuple, Path] = {}

    def make(n_accounts: int, seed: int = 3, protocols=None) -> Path:
        key = (n_accounts, seed, None if protocols is None else tuple(protocols))
        if key not in made:
            from backtest.sample.lake import write_sample_lake
            lake = tmp_path_factory.mktemp(f"sample-{n_accounts}-seed{seed}")
            extra = {} if protocols is None else {"protocols": tuple(protocols)}
            write_sample_lake(lake, seed=seed, n_accounts=n_accounts, **extra)
            made[key] = lake
        return made[key]

    return make


@pytest.fixture(scope="session")
def small_lake(sample_lake) -> Path:
    """3,000 accounts, same shape and parameters as the shipped sample (seeded)."""
    return sample_lake(3000)
