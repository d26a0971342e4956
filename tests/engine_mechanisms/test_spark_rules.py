"""SparkLend rows replay with the Aave v3 rules: the sample's Aave v3 book relabelled `spark` gives the
same liquidations and bad debt."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from backtest.run import make_config, run
from backtest.scenarios import load_scenario


def _relabel(lake, src: str, dst: str) -> None:
    for table in ("positions", "markets", "emode_categories"):
        for path in (lake / table).glob("*.parquet"):
            t = pq.read_table(path)
            i = t.schema.get_field_index("protocol")
            col = pc.if_else(pc.equal(t["protocol"], src), dst, t["protocol"])
            pq.write_table(t.set_column(i, "protocol", col.cast(pa.string())), path)


def test_spark_book_replays_as_aave_v3(sample_lake, tmp_path):
    aave = sample_lake(600, protocols=("aave-v3",))
    spark = tmp_path / "spark"
    shutil.copytree(aave, spark)
    _relabel(spark, "aave-v3", "spark")
    scenario = load_scenario("stylised-eth-crash")
    # the rules are the point: both books read the same Chainlink-style feeds (as deployed, Spark fixes DAI
    # at $1 and has no CAPO on wstETH, backtest/markets/oracle_table.py)
    same_feeds = ["oracle.*.kind=chainlink", "oracle.*.deviation=0.005", "oracle.*.heartbeat_seconds=3600"]
    a = run(make_config(scenario, aave, same_feeds), scenario)
    s = run(make_config(scenario, spark, same_feeds), scenario)
    assert set(s.inputs.book.protocol) == {"spark"}
    assert a.metrics["liquidations"] > 0
    for key in ("liquidations", "bad_debt_usd"):
        assert s.metrics[key] == pytest.approx(a.metrics[key], rel=1e-12), key
    liq = s.outcome.liquidations
    assert liq.num_rows == a.outcome.liquidations.num_rows
    assert set(liq["protocol"].to_pylist()) == {"spark"}
    assert liq["collateral_seized"].to_pylist() == a.outcome.liquidations["collateral_seized"].to_pylist()
