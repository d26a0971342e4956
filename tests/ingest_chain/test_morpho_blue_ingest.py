"""Morpho Blue markets and positions rebuilt by SQL from ingested logs equal the real contract's state.

The Morpho contract (npm @morpho-org/morpho-blue, compiled here) is driven on anvil; `backtest ingest
--source morpho-blue` fetches and decodes its logs; queries/morpho_blue_markets_at_block.sql and
morpho_blue_positions_at_block.sql must give `market(id)`, `idToMarketParams(id)` and `position(id, user)`
exactly at every compared block, and the assets the contract's SharesMathLib gives for the shares.
"""

from __future__ import annotations

import pytest

from backtest.cli import main as cli
from backtest.devnet.chain import Chain
from backtest.ingest.morpho_blue import raw_markets, raw_positions
from backtest.ingest.pipeline import ingest
from backtest.ingest.rpc import RpcClient
from backtest.ingest.tables import connect_chain
from backtest.lake.io import read_table
from backtest.protocols.morpho_blue import MarketState, Position, exact
from tests.ingest_chain.drive_morpho import DECIMALS, drive


@pytest.fixture(scope="module")
def driven(anvil):
    chain = Chain(anvil.url)
    snap = chain.snapshot()
    try:
        yield drive(chain)
    finally:
        chain.revert(snap)


def test_markets_and_positions_rebuilt_from_logs_equal_the_contract(driven, tmp_path):
    d, mb = driven, driven.mb
    chain = mb.chain
    assert all(d.counts[op] > 0 for op in d.counts), d.counts        # every kind of operation happened
    client = RpcClient(chain.url)
    report = ingest(client, "morpho-blue", [mb.morpho.address], 0, None, tmp_path, confirmations=0, chunk_size=200)
    assert report.decoded["morpho_blue_morpho_liquidate"] == d.counts["liquidate"]
    con = connect_chain(tmp_path)
    markets = list(mb.markets.values())
    accounts = d.users + [mb.morpho.address, "0x" + "00" * 20]
    compared = 0
    for block in d.blocks:
        rows = {r["market_id"]: r for r in raw_markets(con, block).to_pylist()}
        assert set(rows) == {m.id for m in markets}
        for m in markets:
            r = rows[m.id]
            onchain = MarketState(*chain.call_many([mb.morpho.functions.market(m.id)], block)[0])
            ours = (int(r["total_supply_assets"]), int(r["total_supply_shares"]), int(r["total_borrow_assets"]),
                    int(r["total_borrow_shares"]), int(r["fee_raw"]))
            assert ours == (onchain.total_supply_assets, onchain.total_supply_shares, onchain.total_borrow_assets,
                            onchain.total_borrow_shares, onchain.fee), f"block {block} market {m.id}"
            assert (r["loan_token"], r["collateral_token"], r["oracle"], r["irm"], int(r["lltv_raw"])) == \
                tuple(x.lower() if isinstance(x, str) else x for x in m.args)
        pos = {(r["market_id"], r["account"]): r for r in raw_positions(con, block).to_pylist()}
        for m in markets:
            state = MarketState(*chain.call_many([mb.morpho.functions.market(m.id)], block)[0])
            for a in accounts:
                truth = Position(*chain.call_many([mb.morpho.functions.position(m.id, a)], block)[0])
                r = pos.get((m.id, a.lower()))
                if r is None:
                    assert truth == Position(0, 0, 0), f"block {block}: {a} missing in {m.id}"
                    continue
                assert (int(r["supply_shares"]), int(r["borrow_shares"]), int(r["collateral_raw"])) == \
                    (truth.supply_shares, truth.borrow_shares, truth.collateral), f"block {block} {a} {m.id}"
                assert int(r["debt_raw"]) == exact.borrowed(truth, state)
                assert int(r["supply_raw"]) == exact.to_assets_down(truth.supply_shares, state.total_supply_assets,
                                                                     state.total_supply_shares)
                compared += 1
        assert len(pos) <= len(accounts) * len(markets)
    assert compared > 5 * len(d.blocks)

    # backtest snapshot: a borrower's collateral and debt rows per market id, token units; markets rows
    last = d.blocks[-1]
    assert cli(["snapshot", "--block", str(last), "--lake", str(tmp_path)]) == 0
    positions = read_table(tmp_path, "positions").to_pylist()
    truth = {(r["market_id"], r["account"]): r for r in raw_positions(con, last).to_pylist()}
    assert positions and all(p["protocol"] == "morpho-blue" for p in positions)
    for p in positions:
        r = truth[(p["market"], p["account"])]
        if p["collateral"]:
            assert p["asset"] == r["collateral_symbol"]
            assert p["collateral"] == int(r["collateral_raw"]) / 10 ** DECIMALS[p["asset"]]
        else:
            assert p["asset"] == r["loan_symbol"] and p["debt"] == int(r["debt_raw"]) / 10 ** DECIMALS[p["asset"]]
    borrowers = {k for k, r in truth.items() if int(r["borrow_shares"])}
    assert {(p["market"], p["account"]) for p in positions if p["debt"]} == borrowers
    market_rows = read_table(tmp_path, "markets").to_pylist()
    by_key = {(r["market"], r["asset_address"]): r for r in market_rows}
    assert len(by_key) == 2 * len(markets)
    for m in markets:
        row = by_key[(m.id, m.params.collateral_token.lower())]
        assert row["liquidation_threshold"] == m.params.lltv / 1e18
        assert row["liquidation_bonus"] == exact.liquidation_incentive_factor(m.params.lltv) / 1e18 - 1
        loan = by_key[(m.id, m.params.loan_token.lower())]
        assert loan["liquidation_threshold"] == 0.0 and loan["liquidation_bonus"] == 0.0
    # the same rows through `backtest query` (it stages the markets query at the same block)
    assert cli(["query", "morpho_blue_positions_at_block", "--lake", str(tmp_path), "--param", f"block={last}",
                "--limit", "0"]) == 0
    print(f"morpho-blue proof: {d.counts} ops, {report.logs} logs, {compared} (market, account) positions equal "
          f"at {len(d.blocks)} blocks")
