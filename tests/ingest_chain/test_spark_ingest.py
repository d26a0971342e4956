"""SparkLend (an Aave v3 fork) ingested beside Aave v3 in one lake: each protocol's positions, rebuilt by the
Aave v3 SQL over its own events, equal its own contracts' balances and getUserAccountData, exactly.

No Spark bytecode is on npm; SparkLend is Aave v3.0 code, so a second Aave v3 market from npm
@aave/core-v3 stands in for it on the devnet. What is tested is that `--source spark` keeps its own
tables (spark_*), finds its contracts from a PoolAddressesProvider, and that the Aave v3 queries run on
them unchanged (connect_chain(lake, fork="spark")) without mixing in Aave's rows.
"""

from __future__ import annotations

from web3 import Web3

from backtest.cli import main as cli
from backtest.devnet.aave import deploy_aave_v3
from backtest.ingest.pipeline import ingest
from backtest.ingest.positions import account_data
from backtest.ingest.rpc import RpcClient
from backtest.ingest.tables import chain_query, connect_chain
from backtest.lake.io import read_table
from tests.ingest_chain.drive import drive, set_interest_rates
from tests.ingest_chain.test_positions_vs_contracts import contract_balances


def test_spark_beside_aave_v3_each_equal_to_its_contracts(net, tmp_path):
    params = {s: a.params for s, a in net.assets.items()}
    spark = deploy_aave_v3(net.chain, net.tokens, net.feeds, params, net.chain.accounts[-2])
    set_interest_rates(net, spark)
    set_interest_rates(net, net.aave_v3)
    aave_driven = drive(net, net.aave_v3, n_ops=120, seed=5)
    spark_driven = drive(net, spark, n_ops=200, seed=11)
    assert spark_driven.counts["liquidate"] > 0
    client = RpcClient(net.chain.url)
    ingest(client, "aave-v3", [net.aave_v3.pool.address], 0, None, tmp_path, confirmations=0, chunk_size=100)
    report = ingest(client, "spark", [f"provider={spark.provider.address}"], 0, None, tmp_path, confirmations=0,
                    chunk_size=100)
    ingest(client, "chainlink", [f.address for f in net.feeds.values()], 0, None, tmp_path, confirmations=0,
           chunk_size=100)
    assert report.decoded["spark_pool_liquidation_call"] == spark_driven.counts["liquidate"]
    kinds = {k for (k,) in connect_chain(tmp_path).sql("SELECT kind FROM contracts WHERE source = 'spark'").fetchall()}
    assert {"provider", "pool", "atoken", "vtoken", "configurator", "price_source"} <= kinds
    fork = connect_chain(tmp_path, fork="spark")
    aave = connect_chain(tmp_path)
    accounts = set(net.chain.accounts) | {net.treasury, spark.treasury}
    compared = 0
    for block in spark_driven.blocks:
        ts = client.block_timestamps([block])[block]
        rows = chain_query(fork, "aave_v3_positions_at_block", {"block": block, "ts": ts}).to_pylist()
        rebuilt = {(r["account"], r["asset"]): (int(r["collateral_raw"]), int(r["debt_raw"])) for r in rows}
        truth = contract_balances(spark, net, accounts, block)
        assert rebuilt == truth, f"spark at block {block}"
        data = account_data(fork, "aave-v3", block, ts).to_pylist()
        onchain = net.chain.call_many([spark.pool.functions.getUserAccountData(Web3.to_checksum_address(r["account"]))
                                       for r in data], block)
        for r, o in zip(data, onchain):
            assert tuple(int(r[k]) for k in ("total_collateral_base", "total_debt_base", "available_borrows_base",
                                             "current_liquidation_threshold", "ltv", "health_factor")) == tuple(o)
        # Aave's own positions at the same block are Aave's, untouched by Spark's events
        rows = chain_query(aave, "aave_v3_positions_at_block", {"block": block, "ts": ts}).to_pylist()
        assert {(r["account"], r["asset"]): (int(r["collateral_raw"]), int(r["debt_raw"])) for r in rows} == \
            contract_balances(net.aave_v3, net, accounts, block)
        compared += len(truth)
    assert compared > 5 * len(spark_driven.blocks) and aave_driven.counts["supply"] > 0

    last = spark_driven.blocks[-1]
    assert cli(["snapshot", "--block", str(last), "--lake", str(tmp_path)]) == 0
    positions = read_table(tmp_path, "positions").to_pylist()
    by_protocol = {}
    for p in positions:
        by_protocol.setdefault(p["protocol"], []).append(p)
    assert set(by_protocol) == {"aave-v3", "spark"}
    truth = contract_balances(spark, net, accounts, last)
    symbol = {r.asset.address.lower(): s for s, r in spark.reserves.items()}
    debts = {(a, symbol[t]): d / 10 ** net.assets[symbol[t]].decimals for (a, t), (_c, d) in truth.items() if d}
    assert {(p["account"], p["asset"]): p["debt"] for p in by_protocol["spark"] if p["debt"]} == debts
    assert all(p["emode_category"] == 0 for p in by_protocol["spark"])
    markets = [m for m in read_table(tmp_path, "markets").to_pylist() if m["protocol"] == "spark"]
    assert {m["asset"]: m["liquidation_threshold"] for m in markets} == \
        {s: a.params.liquidation_threshold / 10_000 for s, a in net.assets.items()}
