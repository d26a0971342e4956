"""The committed impact table is what `backtest calibrate` computes from the real data folder."""

from __future__ import annotations

import pytest

from backtest.calibration.table import calibrate, params, real_data_folder
from backtest.markets import impact_params

REAL = real_data_folder()


@pytest.mark.skipif(not (REAL / "MANIFEST.md").exists(),
                    reason=f"real data folder {REAL} absent (set BACKTEST_REAL_DATA)")
def test_committed_table_equals_the_calibration():
    cal = calibrate(REAL, bootstrap=0, robustness=False)             # point estimates do not depend on the bootstrap
    table, default, fit_src = params(cal)
    assert set(table) == set(impact_params.IMPACT)
    for asset, row in table.items():
        got = impact_params.IMPACT[asset]
        assert (got.daily_volume_usd, got.daily_volatility, got.y, got.permanent_share,
                got.half_life_seconds, got.source) == (*row[:5], row[5] + fit_src), asset
    d = impact_params.DEFAULT
    assert (d.daily_volume_usd, d.daily_volatility, d.y, d.permanent_share, d.half_life_seconds,
            d.source) == (*default[:5], default[5] + fit_src)
    # the real pool is far shallower than the reference market on every crash day in the data
    assert len(cal.pool_depth) == 6 and all(0 < r["ratio"] < 1 for r in cal.pool_depth)


def test_every_lake_asset_has_a_row():
    import pyarrow.parquet as pq
    from pathlib import Path

    lake = Path(__file__).resolve().parents[2] / "data" / "lake" / "prices" / "prices.parquet"
    assets = set(pq.read_table(lake, columns=["asset"]).column("asset").to_pylist())
    assert assets <= set(impact_params.IMPACT)
