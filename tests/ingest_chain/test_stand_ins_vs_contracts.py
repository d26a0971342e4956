"""Compound v2, Comet and Maker positions rebuilt from logs ingested over RPC equal the contracts' own view,
exactly in raw units, at several blocks. The contracts are the project's stand-ins (backtest/devnet/
stand_ins): they emit mainnet's event layout and hold the real contracts' state, but are not mainnet
bytecode, which npm does not carry."""

from __future__ import annotations

from web3 import Web3

from backtest.cli import main as cli
from backtest.ingest.pipeline import ingest
from backtest.ingest.rpc import RpcClient
from backtest.ingest.tables import chain_query, connect_chain
from backtest.lake.io import read_table
from tests.ingest_chain.drive_stand_ins import drive_comet, drive_compound, drive_maker


def snapshot(net, lake, block, protocol) -> dict:
    """`backtest snapshot` at `block`; that protocol's rows as {(account, asset): (collateral, debt)}."""
    assert cli(["snapshot", "--block", str(block), "--lake", str(lake), "--rpc", net.chain.url]) == 0
    rows = [r for r in read_table(lake, "positions").to_pylist() if r["protocol"] == protocol]
    assert all(r["block_number"] == block for r in rows)
    out = {(r["account"], r["asset"]): (r["collateral"], r["debt"]) for r in rows}
    assert len(out) == len(rows)
    return out


def read_positions_after_snapshot(net, lake, block, protocol) -> dict:
    """The same keyed by (market, account, asset): a Maker vault is one per ilk."""
    assert cli(["snapshot", "--block", str(block), "--lake", str(lake), "--rpc", net.chain.url]) == 0
    rows = [r for r in read_table(lake, "positions").to_pylist() if r["protocol"] == protocol]
    return {(r["market"], r["account"], r["asset"]): (r["collateral"], r["debt"]) for r in rows}


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
    # backtest snapshot: token units (USDC 6 decimals, WETH 18), collateral = cTokens x exchange rate
    last = driven.blocks[-1]
    positions = snapshot(net, tmp_path, last, "compound-v2")
    symbol_of = {"cUSDC": "USDC", "cWETH": "WETH"}
    for name, tok in ctokens.items():
        f = tok.functions
        rate = net.chain.call_many([f.exchangeRateStored()], last)[0]
        unit = 10 ** net.assets[symbol_of[name]].decimals
        for u in driven.users:
            bal, owed = net.chain.call_many([f.balanceOf(u), f.borrowBalanceStored(u)], last)
            row = positions.pop((u.lower(), symbol_of[name]), None)
            assert (row is None) if (bal, owed) == (0, 0) else \
                (row == ((bal * rate // 10**18) / unit, owed / unit)), (name, u)
    assert not positions
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
    last = driven.blocks[-1]
    positions = snapshot(net, tmp_path, last, "comet")
    f = comet.functions
    for u in driven.users:
        supplied, owed, *held = net.chain.call_many([f.balanceOf(u), f.borrowBalanceOf(u)]
                                                    + [f.collateralBalanceOf(u, a) for a in assets], last)
        if (supplied, owed) != (0, 0):
            assert positions.pop((u.lower(), "USDC")) == (supplied / 10**6, owed / 10**6)
        for s, h in zip(("WETH", "WBTC"), held):
            if h:
                assert positions.pop((u.lower(), s)) == (h / 10**net.assets[s].decimals, 0.0)
    assert not positions
    markets = {r["asset"]: r for r in read_table(tmp_path, "markets").to_pylist()}
    assert (markets["WETH"]["ltv"], markets["WETH"]["liquidation_threshold"], markets["WBTC"]["liquidation_bonus"]) \
        == (0.825, 0.895, 1 - 0.9)
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
    last = driven.blocks[-1]
    positions = read_positions_after_snapshot(net, tmp_path, last, "maker")
    for ilk in ilks:
        name = ilk.rstrip(b"\0").decode()
        rate = net.chain.call_many([vat.functions.ilks(ilk)], last)[0][1]
        for u in driven.users:
            ink, art = net.chain.call_many([vat.functions.urns(ilk, u)], last)[0]
            if (ink, art) != (0, 0):
                gem = {"ETH-A": "WETH", "WBTC-A": "WBTC"}[name]          # the join adapters' tokens
                assert positions.pop((name, u.lower(), gem)) == (ink / 1e18, 0.0)
                assert positions.pop((name, u.lower(), "DAI")) == (0.0, art * rate / 10**45)   # int / int
    assert not positions
    print(f"maker stand-in proof: {driven.counts}; {compared} urns (ink, art, art x rate) equal at "
          f"{len(driven.blocks)} blocks")
