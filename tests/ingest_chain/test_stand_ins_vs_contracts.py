"""Compound v2, Comet and Maker positions rebuilt from logs ingested over RPC equal the contracts' own view,
exactly in raw units, at several blocks. The contracts are the project's stand-ins (backtest/devnet/
stand_ins): they emit mainnet's event layout and hold the real contracts' state, but are not mainnet
bytecode, which npm does not carry."""

from __future__ import annotations

from web3 import Web3

from backtest.ingest.pipeline import ingest
from backtest.ingest.rpc import RpcClient
from backtest.ingest.tables import chain_query, connect_chain
from tests.ingest_chain.drive_stand_ins import drive_compound


def test_compound_v2_balances_borrows_and_exchange_rate_equal_the_ctokens(net, tmp_path):
    driven = drive_compound(net)
    assert all(driven.counts.get(op, 0) > 0 for op in ("mint", "redeem", "borrow", "repay", "transfer", "liquidate",
                                                          "add_reserves", "reduce_reserves", "reserve_factor")), driven.counts
    ctokens = driven.contracts
    report = ingest(RpcClient(net.chain.url), "compound-v2", [t.address for t in ctokens.values()], 0, None, tmp_path,
                    confirmations=0, chunk_size=50)
    assert report.decoded["compound_v2_ctoken_liquidate_borrow"] == driven.counts["liquidate"]
    con = connect_chain(tmp_path)
    compared = 0
    for block in driven.blocks:
        rows = chain_query(con, "compound_v2_positions_at_block", {"block": block}).to_pylist()
        rebuilt = {(r["account"], r["ctoken"]): r for r in rows}
        for name, tok in ctokens.items():
            f = tok.functions
            market = net.chain.call_many([f.exchangeRateStored(), f.getCash(), f.totalBorrows(), f.totalReserves(),
                                          f.totalSupply()], block)
            people = driven.users
            truth = net.chain.call_many([g for u in people for g in (f.balanceOf(u), f.borrowBalanceStored(u))], block)
            for i, u in enumerate(people):
                bal, owed = truth[2 * i], truth[2 * i + 1]
                r = rebuilt.pop((u.lower(), tok.address.lower()), None)
                if (bal, owed) == (0, 0):
                    assert r is None
                    continue
                got = (int(r["ctoken_balance_raw"]), int(r["debt_raw"]), int(r["exchange_rate"]), int(r["market_cash_raw"]),
                       int(r["market_total_borrows_raw"]), int(r["market_total_reserves_raw"]),
                       int(r["market_total_supply_raw"]))
                assert got == (bal, owed, *market), (block, name, u)
                assert int(r["collateral_raw"]) == bal * market[0] // 10**18
                compared += 1
        assert not rebuilt, f"rows for accounts the contracts do not know: {list(rebuilt)[:3]}"
    assert compared > 4 * len(driven.blocks)
    print(f"compound-v2 stand-in proof: {driven.counts}; {compared} (account, cToken) balances, borrow balances "
          f"and exchange rates equal at {len(driven.blocks)} blocks")
