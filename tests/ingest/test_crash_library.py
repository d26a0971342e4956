"""The crash library: nine historical scenarios whose `get` commands deliver the prices they read."""

from __future__ import annotations

import argparse
import shlex
import tomllib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from backtest.commands import fetch_prices, import_prices
from backtest.lake.io import read_table

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "data" / "scenarios"
REAL = REPO / ".." / "shared" / "data" / "real"

# name -> a moment the crash was under way (MANIFEST.md "Reality check" and public record)
CRASHES = {
    "black-thursday-2020": "2020-03-13T02:00",
    "may-19-2021": "2021-05-19T13:00",
    "luna-2022": "2022-05-12T06:00",
    "steth-depeg-2022": "2022-06-18T20:00",
    "ftx-2022": "2022-11-09T22:00",
    "crv-aave-2022": "2022-11-22T10:00",
    "usdc-depeg-2023": "2023-03-11T07:50",
    "aug-5-2024": "2024-08-05T01:00",
    "oct-10-2025": "2025-10-10T21:00",
}


def load(name: str) -> dict:
    return tomllib.loads((SCENARIOS / f"{name}.toml").read_text())


def lake_reads(spec: dict) -> list[tuple[str, str, str]]:
    """(book asset, lake asset, get command) for every series the scenario reads from the lake."""
    out = []
    for asset, a in spec["assets"].items():
        if a.get("source") == "lake":
            out.append((asset, a.get("lake_asset", asset), a.get("get")))
        if "ratio_asset" in a:
            out.append((asset, a["ratio_asset"], a.get("get")))
    return out


@pytest.mark.parametrize("name", sorted(CRASHES))
def test_each_crash_names_its_window_assets_gas_and_where_its_prices_come_from(name):
    spec = load(name)
    assert spec["name"] == name and spec["kind"] == "historical"
    start, end = spec["start"], spec["end"]
    assert start < datetime.fromisoformat(CRASHES[name]).replace(tzinfo=timezone.utc) < end
    assert spec["anchor"] == "book" and spec["step_seconds"] in (300, 600, 1800)
    assert isinstance(spec["gas"]["gwei"], int) and spec["gas"]["note"]
    reads = lake_reads(spec)
    assert any(lake == "ETH" or lake == "USDC" for _, lake, _ in reads)
    for asset, lake, get in reads:
        assert get and get.startswith("backtest import-prices "), (asset, get)
        assert f"--asset {lake}" in get, (asset, lake, get)      # the command fills the series read
    for asset, a in spec["assets"].items():
        assert a.get("follows", "WETH") in spec["assets"], asset


def run_get(get: str, lake: Path, real: Path) -> None:
    argv = shlex.split(get)
    assert argv[0] == "backtest"
    for i, arg in enumerate(argv):
        if arg.startswith("../shared/data/real/"):
            assert (REPO / arg).exists(), f"{arg} is not where the command says (relative to the repo)"
            argv[i] = str(real / arg.removeprefix("../shared/data/real/"))
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    import_prices.register(sub)
    fetch_prices.register(sub)
    args = parser.parse_args(argv[1:] + ["--lake", str(lake)])
    assert args.func(args) == 0


@pytest.fixture(scope="module")
def library_lake(tmp_path_factory):
    """One lake holding every series the library reads, built by running each `get` once, in file order."""
    if not (REAL / "MANIFEST.md").exists():
        pytest.skip("real market data not found")
    lake = tmp_path_factory.mktemp("library") / "lake"
    seen = []
    for name in sorted(CRASHES):
        for _, _, get in lake_reads(load(name)):
            if get not in seen:
                seen.append(get)
                run_get(get, lake, REAL)
    return read_table(lake, "prices")


def series(prices, asset):
    t = prices.filter(pc.and_(pc.equal(prices["asset"], asset), pc.invert(prices["outlier"])))
    t = t.sort_by("timestamp")
    return t["timestamp"].to_numpy().astype("datetime64[us]"), t["price_usd"].to_numpy()


@pytest.mark.parametrize("name", sorted(CRASHES))
def test_the_get_commands_cover_each_window_without_repeated_times(library_lake, name):
    spec = load(name)
    start = np.datetime64(spec["start"].replace(tzinfo=None), "us")
    end = np.datetime64(spec["end"].replace(tzinfo=None), "us")
    for asset, lake, _ in lake_reads(spec):
        t, p = series(library_lake, lake)
        assert np.all(np.diff(t.astype(np.int64)) > 0), f"{lake}: repeated or unsorted times"
        assert t[t <= start].size, f"{lake}: no price at or before {start}"
        inside = (t > start) & (t <= end)
        # Hourly (or finer) data throughout the window: no step is left more than 6 h stale.
        stamps = np.r_[t[t <= start][-1], t[inside], end]
        assert np.diff(stamps).max() <= np.timedelta64(6, "h"), lake


def test_the_library_lake_shows_each_crash(library_lake):
    # Lowest non-outlier hourly closes in each window, against MANIFEST's lows (which are wicks,
    # so the closes sit a little above them).
    def low(asset, a, b):
        t, p = series(library_lake, asset)
        return p[(t >= np.datetime64(a)) & (t <= np.datetime64(b))].min()
    assert 86 <= low("ETH", "2020-03-12", "2020-03-14") < 100         # low 86, close 96.62
    assert 1888 <= low("ETH", "2021-05-19", "2021-05-20") < 2400       # low 1888, closes 2365
    assert 0.874 < low("USDC", "2023-03-10T12", "2023-03-13T12") < 0.876   # MANIFEST: min 0.875
    assert low("stETH/ETH", "2022-06-13", "2022-06-19") == pytest.approx(0.9306, abs=5e-5)
    assert 0.401 <= low("CRV", "2022-11-22", "2022-11-23") < 0.42
    assert 3435 <= low("ETH", "2025-10-10", "2025-10-12") < 3800
