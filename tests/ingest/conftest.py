"""Real market files live outside the repo (../shared/data/real); tests that need them skip cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"


@pytest.fixture
def real():
    """Path to the real-data folder, or skip when this machine does not have it."""
    if not (REAL / "MANIFEST.md").exists():
        pytest.skip(f"real market data not found at {REAL}")
    return REAL
