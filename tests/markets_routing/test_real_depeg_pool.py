"""A real pool state: Uniswap v3 USDC/USDT (1 bp) at the March 2023 depeg, loaded as a venue.

When USDC trades 13 % below $1 it is no longer a USD stablecoin for the loader, so its pool
against USDT becomes a venue where USDC is sold; on a normal day the same pool is ignored
(two stablecoins). The file holds the active tick and liquidity per hour, not the initialised
ticks, so the pool is walked with its in-range liquidity only.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from backtest.config import RunConfig
from backtest.lake.io import write_table
from backtest.inputs.venues import load_venues
from backtest.markets.venue_kinds import V3Pool

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"
POOL_STATE = REAL / "uniswap_v3_usdc_usdt_pool_state_quantlet" / "hourly_pool_state_full.parquet"
ASSETS = ["USDC", "USDT"]


@pytest.fixture(scope="module")
def hours():
    if not POOL_STATE.exists():
        pytest.skip("real data not present (../shared/data/real)")
    return pd.read_parquet(POOL_STATE)


def lake_at(tmp_path, row) -> Path:
    lake = tmp_path / "lake"
    write_table(lake, "markets", pa.Table.from_pylist([
        dict(protocol="aave-v3", asset=a, decimals=6, ltv=0.7, liquidation_threshold=0.75, liquidation_bonus=0.05,
             valid_from_block=1) for a in ASSETS]))
    sqrt_x96 = int(math.exp(int(row["poolTick"]) * math.log(1.0001) / 2) * 2**96)
    write_table(lake, "pools", pa.Table.from_pylist([dict(
        dex="uniswap-v3", pool="usdc-usdt-1bp", token0=row["token0"], token1=row["token1"], fee=0.0001,
        block_number=int(row["block"]), sqrt_price_x96=str(sqrt_x96), tick=int(row["poolTick"]),
        liquidity=str(int(row["poolLiquidity"])))]))
    return lake


def test_at_the_depeg_low_usdc_is_sold_into_the_thin_in_range_liquidity(hours, tmp_path):
    row = hours.loc[hours["poolTick"].idxmin()]          # 2023-03-11 08:00, tick -1363
    assert int(row["poolTick"]) == -1363
    lake = lake_at(tmp_path, row)
    usdc_price = 1.0001 ** -1363                         # 0.87260 USDT per USDC, the pool's own price
    cfg = RunConfig(scenario="usdc-depeg", lake=str(lake))
    router = load_venues(lake, ASSETS, np.array([usdc_price, 1.0]), int(row["block"]), cfg)
    (pool,) = router.venues
    assert isinstance(pool, V3Pool) and (pool.asset, pool.quote_asset) == (0, 1)
    assert pool.mid() == pytest.approx(0.8726, abs=5e-5)
    # In range the pool is x*y=k on virtual reserves x = L/sqrtP USDC and y = L sqrtP USDT (raw,
    # 6 decimals both). L = 155,948,365,522 at the low: x = 166,944 USDC, y = 145,676 USDT, so
    # 10,000 USDC (less the 1 bp fee) fetch y x 9,999 / (x + 9,999) = 8,232 USDT, 0.823 each.
    liq, sp = float(row["poolLiquidity"]), math.sqrt(usdc_price)
    x, y = liq / sp / 1e6, liq * sp / 1e6
    expected = y * 9_999.0 / (x + 9_999.0)
    assert router.sell_quote(0, 10_000.0) == pytest.approx(expected, rel=1e-9)
    assert 8_200 < expected < 8_260


def test_on_a_normal_day_the_pool_of_two_stablecoins_is_not_a_venue(hours, tmp_path):
    row = hours.iloc[0]                                  # 2022-01-01 00:00, tick -1: both at $1
    lake = lake_at(tmp_path, row)
    cfg = RunConfig(scenario="quiet", lake=str(lake))
    router = load_venues(lake, ASSETS, np.array([0.9999, 1.0]), int(row["block"]), cfg)
    assert router.venues == [] and router.sell_quote(0, 10_000.0) == pytest.approx(9_999.0)
