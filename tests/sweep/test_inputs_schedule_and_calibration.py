"""Two harder cases for the sweep's inputs: a parameter change scheduled after the snapshot
(anchor = "absolute"), and Monte Carlo calibration on the real CRV series of November 2022."""

import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from backtest.overrides import apply_overrides
from backtest.inputs.book import load_inputs
from backtest.run import make_config
from backtest.lake.io import read_table, write_table
from backtest.sample.lake import SNAPSHOT_BLOCK
from backtest.scenarios.library import load_scenario
from backtest.scenarios.montecarlo import calibrate_from_lake, estimate
from backtest.sweep.inputs import InputsCache

REPO = Path(__file__).resolve().parents[2]
REAL = REPO / ".." / "shared" / "data" / "real"

ABSOLUTE = """name = "absolute-test"
kind = "stylised"
start = 2024-01-01T00:00:00Z
end = 2024-01-01T06:00:00Z
step_seconds = 600
anchor = "absolute"
[gas]
gwei = 30
[assets.CRV]
source = "stylised"
legs = [[6.0, -0.3]]
"""


def test_a_scheduled_governance_change_is_derived_with_the_overrides_applied(sample_lake, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(sample_lake(300, seed=5, protocols=("aave-v3",)), lake)     # this test adds a markets row
    markets = read_table(lake, "markets")
    later = markets.filter(pa.compute.equal(markets["asset"], "CRV")).to_pylist()[0]
    later.update(liquidation_threshold=0.35, valid_from_block=SNAPSHOT_BLOCK + 900)   # ~3 h after the snapshot
    write_table(lake, "markets", pa.concat_tables([markets, pa.Table.from_pylist([later], schema=markets.schema)]))
    (tmp_path / "absolute-test.toml").write_text(ABSOLUTE)
    scenario = load_scenario(tmp_path / "absolute-test.toml")
    base = make_config(scenario, lake)
    config = apply_overrides(base, ["liquidation_bonus.CRV=0.12", "ltv=0.5"])
    cache = InputsCache()
    cache.base(base, scenario)
    derived, loaded = cache.inputs(config, scenario), load_inputs(config, scenario)
    assert len(loaded.book.schedule) == 1 and loaded.book.schedule[0][0] == SNAPSHOT_BLOCK + 900
    (block, params), (block2, params2) = derived.book.schedule[0], loaded.book.schedule[0]
    assert block == block2 and params.keys() == params2.keys()
    for name in params:
        assert np.array_equal(params[name], params2[name]), name
    crv = derived.book.assets.index("CRV")
    assert params["liquidation_threshold"][crv] == 0.35 and params["liquidation_bonus"][crv] == 0.12
    assert np.array_equal(derived.book.liquidation_bonus, loaded.book.liquidation_bonus)


@pytest.fixture(scope="module")
def real_lake(tmp_path_factory):
    """Binance hourly CRV and ETH closes of 31 Oct - 1 Dec 2022, written as they are in the file."""
    if not (REAL / "MANIFEST.md").exists():
        pytest.skip(f"real market data not found at {REAL}")
    rows = []
    for f, asset in (("CRVUSDT_1h.csv", "CRV"), ("ETHUSDT_1h.csv", "ETH")):
        for line in (REAL / "binance_1h_misrori" / f).read_text().splitlines()[1:]:
            date, close = line.split(",")[0], line.split(",")[4]
            if "2022-10-31" <= date[:10] <= "2022-12-01":
                rows.append({"asset": asset, "timestamp": datetime.fromisoformat(date).replace(tzinfo=timezone.utc),
                             "price_usd": float(close), "source": f"binance:{f}"})
    lake = tmp_path_factory.mktemp("real-lake")
    write_table(lake, "prices", pa.Table.from_pylist(rows))
    return lake


def test_calibration_on_real_crv_and_eth_of_november_2022(real_lake):
    scenario = load_scenario("crv-aave-2022")           # WETH reads the lake's ETH; CRV its own name
    start, end = datetime(2022, 11, 1, tzinfo=timezone.utc), datetime(2022, 11, 30, tzinfo=timezone.utc)
    cal = calibrate_from_lake(real_lake, scenario, ["CRV", "USDC", "WETH", "wstETH"], start, end)
    assert cal.assets == ("CRV", "WETH")                 # USDC has no series here: it stays flat
    assert dict(cal.followers) == {"wstETH": "WETH"}
    # 29 days of 10-minute steps: 29 * 144 = 4,176 returns (hourly closes, as-of filled)
    assert cal.returns.shape == (29 * 144, 2)
    vol, corr = estimate(cal.returns)
    annual = vol * np.sqrt(365 * 144)
    # a month with FTX and the CRV squeeze: CRV far more volatile than ETH, and the two move together
    assert 0.5 < annual[1] < 1.5 and annual[0] > 1.3 * annual[1]
    assert corr[0, 1] > 0.5
    # the returns telescope: log(CRV close of the 30 Nov 00:00 bar / of the 1 Nov 00:00 bar)
    # = log(0.687 / 0.890) = -0.2589 (CRVUSDT_1h.csv lines 14490 and 13794)
    assert cal.returns[:, 0].sum() == pytest.approx(np.log(0.687 / 0.890), abs=1e-12)
