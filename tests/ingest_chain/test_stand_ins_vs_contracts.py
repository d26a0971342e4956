"""Compound v2, Comet and Maker positions rebuilt from logs ingested over RPC equal the contracts' own view,
exactly in raw units, at several blocks. The contracts are the project's stand-ins (backtest/devnet/
stand_ins): they emit mainnet's event layout and hold the real contracts' state, but are not mainnet
bytecode, which npm does not carry."""

from __future__ import annotations

from web3 import Web3

from backtest.ingest.pipeline import ingest
from backtest.ingest.rpc import RpcClient
from backtest.ingest.tables import chain_query, connect_chain
from tests.ingest_chain.drive_stand_ins import drive_comet, drive_compound, drive_maker


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


def test_comet_base_balances_and_collateral_equal_the_comet(net, tmp_path):
    from backtest.ingest.comet import base_balances
    driven = drive_comet(net)
    assert all(driven.counts.get(op, 0) > 0 for op in ("supply", "withdraw", "transfer", "supply_collateral",
                                                          "withdraw_collateral", "transfer_collateral", "absorb")), \
        driven.counts
    comet = driven.contracts["comet"]
    client = RpcClient(net.chain.url)
    ingest(client, "comet", [comet.address], 0, None, tmp_path, confirmations=0, chunk_size=50)
    con = connect_chain(tmp_path)
    assets = [net.tokens[s].address for s in ("WETH", "WBTC")]
    compared = 0
    for block in driven.blocks:
        ts = client.block_timestamps([block])[block]
        base = {r["account"]: (int(r["supply_raw"]), int(r["borrow_raw"]))
                for r in base_balances(con, client, block, ts).to_pylist()}
        coll = {(r["account"], r["asset"]): int(r["collateral_raw"])
                for r in chain_query(con, "comet_positions_at_block", {"block": block}).to_pylist()
                if r["asset"] is not None}
        f = comet.functions
        people = driven.users
        truth = net.chain.call_many([g for u in people for g in (f.balanceOf(u), f.borrowBalanceOf(u))
                                     + tuple(f.collateralBalanceOf(u, a) for a in assets)], block)
        k = 2 + len(assets)
        for i, u in enumerate(people):
            supplied, owed, *held = truth[k * i:k * (i + 1)]
            assert base.pop(u.lower(), (0, 0)) == (supplied, owed), (block, u)
            for a, h in zip(assets, held):
                assert coll.pop((u.lower(), a.lower()), 0) == h, (block, u, a)
            compared += 1
        assert not base and not coll
    assert compared == len(driven.blocks) * len(driven.users)
    print(f"comet stand-in proof: {driven.counts}; base supply/borrow and {len(assets)} collateral balances of "
          f"{len(driven.users)} accounts equal at {len(driven.blocks)} blocks")


def test_maker_vaults_rebuilt_from_lognotes_equal_the_vats_urns(net, tmp_path):
    driven = drive_maker(net)
    assert all(driven.counts.get(op, 0) > 0 for op in ("open", "draw", "wipe", "free", "grab", "fork", "fold")), \
        driven.counts
    vat = driven.contracts["vat"]
    report = ingest(RpcClient(net.chain.url), "maker", [f"vat={vat.address}"], 0, None, tmp_path, confirmations=0,
                    chunk_size=50)
    assert report.decoded["maker_vat_fold"] == driven.counts["fold"]
    con = connect_chain(tmp_path)
    ilks = [b"ETH-A".ljust(32, b"\0"), b"WBTC-A".ljust(32, b"\0")]
    compared = 0
    for block in driven.blocks:
        rows = {(r["ilk_name"], r["urn"]): r for r in
                chain_query(con, "maker_vaults_at_block", {"block": block}).to_pylist()}
        for ilk in ilks:
            name = ilk.rstrip(b"\0").decode()
            rate = net.chain.call_many([vat.functions.ilks(ilk)], block)[0][1]
            urns = net.chain.call_many([vat.functions.urns(ilk, u) for u in driven.users], block)
            for u, (ink, art) in zip(driven.users, urns):
                r = rows.pop((name, u.lower()), None)
                if (ink, art) == (0, 0):
                    assert r is None
                    continue
                assert (int(r["ink_raw"]), int(r["art_raw"]), int(r["rate_raw"]), int(r["debt_rad"])) == \
                    (ink, art, rate, art * rate), (block, name, u)
                compared += 1
        assert not rows
    assert compared > 3 * len(driven.blocks)
    print(f"maker stand-in proof: {driven.counts}; {compared} urns (ink, art, art x rate) equal at "
          f"{len(driven.blocks)} blocks")
