"""Two real replays on the small synthetic lake: the baseline and a thinner-pool variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtest.cli import main


@pytest.fixture(scope="session")
def baseline(small_lake, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "baseline"
    assert main(["replay", "--lake", str(small_lake), "--out", str(out), "--json"]) == 0
    return out


@pytest.fixture(scope="session")
def thin_pools(small_lake, tmp_path_factory) -> Path:
    """Pools at a tenth of their depth: the same crash cascades deeper (a visible comparison)."""
    out = tmp_path_factory.mktemp("runs") / "thin-pools"
    assert main(["replay", "--lake", str(small_lake), "--out", str(out), "--json",
                 "--set", "pool_depth_scale=0.1"]) == 0
    return out


@pytest.fixture(scope="session")
def baseline_report(baseline, tmp_path_factory) -> Path:
    """The baseline's report, rendered once for the tests that only read it."""
    out = tmp_path_factory.mktemp("reports") / "baseline.html"
    assert main(["report", str(baseline), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def compare_report(baseline, thin_pools, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reports") / "compare.html"
    assert main(["report", str(baseline), "--compare", str(thin_pools), "--out", str(out)]) == 0
    return out
