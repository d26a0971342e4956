"""`health`: each (account, snapshot) priced as of its timestamp, with the parameters in force at its block."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest

from backtest.lake import connect, run_query, write_table
from backtest.protocols.rules import health_factor, rules_for

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def lake(tmp_path):
    markets = [
        dict(protocol="aave-v3", asset="WETH", decimals=18, ltv=0.80, liquidation_threshold=0.825,
             liquidation_bonus=0.05, valid_from_block=100),
        dict(protocol="aave-v3", asset="WETH", decimals=18, ltv=0.78, liquidation_threshold=0.80,
             liquidation_bonus=0.05, valid_from_block=200),    # governance lowers LT at block 200
        dict(protocol="aave-v3", asset="USDC", decimals=6, ltv=0.77, liquidation_threshold=0.80,
             liquidation_bonus=0.045, valid_from_block=100),
    ]
    write_table(tmp_path, "markets", pa.Table.from_pylist(markets))
    write_table(tmp_path, "prices", pa.Table.from_pylist([
        dict(asset="WETH", timestamp=T0, price_usd=2000.0, outlier=False),
        dict(asset="WETH", timestamp=T0 + timedelta(hours=1), price_usd=1800.0),
        dict(asset="WETH", timestamp=T0 + timedelta(hours=1, minutes=30), price_usd=100.0, outlier=True),
        dict(asset="USDC", timestamp=T0, price_usd=1.0),
    ]))
    pos = [
        # snapshot 1 at block 150, 00:30: WETH priced 2000 (as of 00:00), LT 0.825
        dict(protocol="aave-v3", account="0xa", asset="WETH", collateral=1.0, debt=0.0, block_number=150,
             timestamp=T0 + timedelta(minutes=30)),
        dict(protocol="aave-v3", account="0xa", asset="USDC", collateral=0.0, debt=1000.0, block_number=150,
             timestamp=T0 + timedelta(minutes=30)),
        # snapshot 2 at block 250, 01:45: WETH 1800 (the 100 print is an outlier), LT 0.80
        dict(protocol="aave-v3", account="0xa", asset="WETH", collateral=1.0, debt=0.0, block_number=250,
             timestamp=T0 + timedelta(hours=1, minutes=45)),
        dict(protocol="aave-v3", account="0xa", asset="USDC", collateral=0.0, debt=1000.0, block_number=250,
             timestamp=T0 + timedelta(hours=1, minutes=45)),
        dict(protocol="aave-v3", account="0xb", asset="USDC", collateral=500.0, debt=0.0, block_number=250,
             timestamp=T0 + timedelta(hours=1, minutes=45)),
    ]
    write_table(tmp_path, "positions", pa.Table.from_pylist(pos))
    return tmp_path


def test_health_uses_as_of_prices_and_the_parameters_in_force(lake):
    rows = run_query(connect(lake), "health").to_pylist()
    by_key = {(r["account"], r["block_number"]): r for r in rows}
    first, second = by_key[("0xa", 150)], by_key[("0xa", 250)]
    assert first["collateral_usd"] == 2000.0 and first["debt_usd"] == 1000.0
    assert first["health_factor"] == pytest.approx(2000 * 0.825 / 1000)      # 1.65
    assert second["collateral_usd"] == 1800.0
    assert second["health_factor"] == pytest.approx(1800 * 0.80 / 1000)      # 1.44
    assert by_key[("0xb", 250)]["health_factor"] == float("inf")
    assert len(rows) == 3


def test_sql_health_agrees_with_the_engine_on_the_sample(small_lake):
    from backtest.config import RunConfig
    from backtest.inputs.book import load_book
    from backtest.scenarios import load_scenario
    book = load_book(small_lake, load_scenario("stylised-eth-crash"), RunConfig("x", str(small_lake)))
    floors = np.array([rules_for(p).floors_average_lt for p in book.protocol])
    engine = health_factor(book.collateral * book.reserve_prices, book.debt * book.reserve_prices,
                           book.liquidation_threshold, floors)
    sql = run_query(connect(small_lake), "health").to_pandas().set_index(["protocol", "account"])
    sql = sql.loc[list(zip(book.protocol, book.accounts))]
    finite = np.isfinite(engine)
    assert finite.sum() > 2000 and set(book.protocol) == {"aave-v2", "aave-v3", "aave-v3.3",
                                                                    "compound-v2", "comet", "maker"}
    # Aave floors the average LT to whole bps as GenericLogic does, Compound, Comet and Maker do not: one
    # definition per protocol, two implementations (SQL and numpy).
    np.testing.assert_allclose(sql["health_factor"].to_numpy()[finite], engine[finite], rtol=1e-9)
    assert np.array_equal(np.isinf(sql["health_factor"].to_numpy()), ~finite)
