"""Positions rebuilt by SQL from ingested logs equal what the real contracts say, exactly, at several blocks."""

from __future__ import annotations

import pytest
from web3 import Web3

from backtest.cli import main as cli
from backtest.ingest.pipeline import ingest
from backtest.ingest.positions import account_data
from backtest.ingest.rpc import RpcClient
from backtest.ingest.tables import chain_query, connect_chain
from backtest.lake.io import read_table
from tests.ingest_chain.drive import drive, set_interest_rates


def contract_balances(m, net, accounts, block):
    """(account, asset) -> (aToken balanceOf, variable debt balanceOf), raw units, non-zero only."""
    keys, calls = [], []
    for a in accounts:
        for s, r in m.reserves.items():
            keys.append((a.lower(), r.asset.address.lower()))
            calls += [r.a_token.functions.balanceOf(a), r.variable_debt.functions.balanceOf(a)]
    out = net.chain.call_many(calls, block)
    got = {k: (out[2 * i], out[2 * i + 1]) for i, k in enumerate(keys)}
    return {k: v for k, v in got.items() if v != (0, 0)}


@pytest.mark.parametrize("version", [3, 2])
def test_aave_balances_rebuilt_from_logs_equal_balance_of(net, tmp_path, version):
    m = net.aave_v3 if version == 3 else net.aave_v2
    source, query = f"aave-v{version}", f"aave_v{version}_positions_at_block"
    set_interest_rates(net, m)
    driven = drive(net, m, n_ops=300 if version == 3 else 200, seed=11)
    # every kind of operation happened, liquidations included
    assert all(n > 0 for op, n in driven.counts.items() if op != "repay_with_atokens" or version == 3), driven.counts
    client = RpcClient(net.chain.url)
    report = ingest(client, source, [m.pool.address], 0, None, tmp_path, confirmations=0,
                    chunk_size=100)
    # the oracle's price sources were found through the pool; their rounds come from a chainlink ingest
    feeds = [f.address for f in net.feeds.values()]
    ingest(client, "chainlink", feeds, 0, None, tmp_path, confirmations=0, chunk_size=100)
    assert report.decoded[f"aave_v{version}_pool_liquidation_call"] == driven.counts["liquidate"]
    con = connect_chain(tmp_path)
    # the indexes really moved (rates are non-zero), so the ray maths is exercised, not skipped
    grown = con.sql(f"SELECT count(*) FROM aave_v{version}_pool_reserve_data_updated "
                    "WHERE variableBorrowIndex::HUGEINT > 10::HUGEINT ** 27").fetchall()[0][0]
    assert grown > 0
    # the same events as Dune spellbook lending.borrow / lending.supply rows, with their signs
    borrow = [r for r in chain_query(con, "lending_borrow").to_pylist() if r["block_number"] > driven.start]
    supply = [r for r in chain_query(con, "lending_supply").to_pylist() if r["block_number"] > driven.start]
    kinds = lambda rows, t: [r for r in rows if r["transaction_type"] == t]  # noqa: E731
    assert len(kinds(borrow, "borrow")) == driven.counts["borrow"]
    assert len(kinds(borrow, "repay")) == driven.counts["repay"] + driven.counts["repay_with_atokens"]
    assert len(kinds(borrow, "borrow_liquidation")) == len(kinds(supply, "deposit_liquidation")) == driven.counts["liquidate"]
    assert len(kinds(supply, "deposit")) == driven.counts["supply"]
    assert len(kinds(supply, "repay_with_atokens")) == driven.counts["repay_with_atokens"]
    assert all((r["amount"] > 0) == (r["transaction_type"] in ("borrow", "deposit")) for r in borrow + supply)
    assert {r["version"] for r in borrow} == {str(version)} and all(r["block_time"] for r in borrow)
    accounts = set(net.chain.accounts) | {net.treasury}     # users, liquidator, the devnet's LP, the treasury
    compared = accounts_compared = 0
    for block in driven.blocks:
        ts = client.block_timestamps([block])[block]
        rows = chain_query(con, query, {"block": block, "ts": ts}).to_pylist()
        rebuilt = {(r["account"], r["asset"]): (int(r["collateral_raw"]), int(r["debt_raw"])) for r in rows}
        assert {a for a, _ in rebuilt} <= {a.lower() for a in accounts}
        truth = contract_balances(m, net, accounts, block)
        assert rebuilt == truth, f"block {block}"
        compared += len(truth)
        # getUserAccountData: collateral, debt, available borrows, threshold, LTV and health factor, exactly
        data = account_data(con, source, block, ts).to_pylist()
        onchain = net.chain.call_many([m.pool.functions.getUserAccountData(Web3.to_checksum_address(r["account"]))
                                       for r in data], block)
        for r, o in zip(data, onchain):
            ours = tuple(int(r[k]) for k in ("total_collateral_base", "total_debt_base", "available_borrows_base",
                                            "current_liquidation_threshold", "ltv", "health_factor"))
            assert ours == tuple(o), (block, r["account"])
        accounts_compared += len(data)
    assert compared > 6 * len(driven.blocks)
    # backtest snapshot: the lake's positions at the last block, token units, collateral only where enabled
    last = driven.blocks[-1]
    assert cli(["snapshot", "--block", str(last), "--lake", str(tmp_path), "--rpc", net.chain.url]) == 0
    positions = read_table(tmp_path, "positions")
    assert positions.num_rows == len(truth)
    symbol = {r.asset.address.lower(): s for s, r in m.reserves.items()}
    for row in positions.to_pylist():
        (asset,) = [a for a, s in symbol.items() if s == row["asset"]]
        coll, debt = truth[(row["account"], asset)]
        unit = 10 ** net.assets[row["asset"]].decimals
        user, reserve = Web3.to_checksum_address(row["account"]), Web3.to_checksum_address(asset)
        bits = m.pool.functions.getUserConfiguration(user).call(block_identifier=last)[0]
        reserve_id = m.pool.functions.getReserveData(reserve).call(block_identifier=last)[-1 if version == 2 else 7]
        enabled = bits >> (2 * reserve_id + 1) & 1       # UserConfiguration: bit 2*id+1 = used as collateral
        assert row["debt"] == debt / unit
        assert row["collateral"] == (coll / unit if enabled else 0.0)
        assert row["block_number"] == last and row["protocol"] == source
    print(f"{source} proof: {driven.counts} ops, {report.logs} logs, {compared} (account, reserve) balances "
          f"equal at {len(driven.blocks)} blocks; getUserAccountData equal for {accounts_compared} account-blocks")
