"""Aave v3.0 e-mode rebuilt from ingested logs equals the real Pool: each account's category, the
categories' parameters, each asset's category, and getUserAccountData of e-mode accounts exactly; the
snapshot's lake, loaded by the engine, gives the contract's health factor for them."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pytest
from web3 import Web3

from backtest.cli import main as cli
from backtest.devnet.aave import ZERO, EModeCategory, configure_emode
from backtest.inputs.book import load_book
from backtest.protocols.rules import health_factor
from backtest.run import make_config
from backtest.ingest.pipeline import ingest
from backtest.ingest.positions import account_data
from backtest.ingest.rpc import RpcClient
from backtest.ingest.tables import chain_query, connect_chain
from backtest.lake.io import read_table, write_table
from backtest.scenarios import load_scenario
from tests.ingest_chain.drive import drive, set_interest_rates

FIELDS = ("total_collateral_base", "total_debt_base", "available_borrows_base", "current_liquidation_threshold",
          "ltv", "health_factor")
STABLES = EModeCategory(1, 9300, 9500, 10100, "Stablecoins", ("USDC", "DAI"))
ETH = EModeCategory(2, 9000, 9300, 10100, "ETH correlated", ("WETH",))
# half-way: category 1 re-parameterised (a second EModeCategoryAdded) with USDC's price as its priceSource
# (so DAI is valued at USDC's price for accounts in it), and WETH taken out of category 2
STABLES_LATER = EModeCategory(1, 9000, 9300, 10200, "Stablecoins v2", ())
MAX_ASSET_LT = 8250        # the devnet's highest reserve LT (WETH): an average above it needs e-mode


def _ingest(net, m, lake):
    client = RpcClient(net.chain.url)
    ingest(client, "aave-v3", [m.pool.address], 0, None, lake, confirmations=0, chunk_size=100)
    ingest(client, "chainlink", [f.address for f in net.feeds.values()], 0, None, lake, confirmations=0,
           chunk_size=100)
    return client


@pytest.fixture
def driven(net, tmp_path):
    """500 random operations on Aave v3 with two e-mode categories, users entering and leaving them."""
    m = net.aave_v3
    set_interest_rates(net, m)
    configure_emode(net.chain, m, STABLES)
    configure_emode(net.chain, m, ETH)
    users = net.chain.accounts[2:9]
    net.chain.send_many([(m.pool.functions.setUserEMode(k), u) for u, k in zip(users, (1, 1, 1, 2, 2))])
    first = drive(net, m, n_ops=250, seed=21, emode_categories=(0, 1, 1, 2), every=25)
    configure_emode(net.chain, m, replace(STABLES_LATER, price_source=m.reserves["USDC"].asset.address))
    net.chain.send(m.configurator.functions.setAssetEModeCategory(m.reserves["WETH"].asset.address, 0))
    second = drive(net, m, n_ops=250, seed=22, emode_categories=(0, 1, 2, 2), every=25)
    counts = {k: first.counts[k] + second.counts[k] for k in first.counts}
    client = _ingest(net, m, tmp_path)
    return m, users, first.blocks + second.blocks, counts, client


def test_emode_account_data_equals_get_user_account_data(net, tmp_path, driven):
    m, users, blocks, counts, client = driven
    assert counts["emode"] >= 10 and counts["liquidate"] > 0 and counts["borrow"] > 0, counts
    con = connect_chain(tmp_path)
    accounts = set(net.chain.accounts) | {net.treasury}
    data_provider = m.extra["AaveProtocolDataProvider"]
    compared = in_emode = above_asset_lt = 0
    for block in blocks:
        ts = client.block_timestamps([block])[block]
        # each account's category: the last UserEModeSet, 0 without one
        ours = {r["account"]: r["category"] for r in
                chain_query(con, "aave_emode_accounts_at_block", {"block": block}).to_pylist()}
        truth = net.chain.call_many([m.pool.functions.getUserEMode(a) for a in sorted(accounts)], block)
        assert {a.lower(): ours.get(a.lower(), 0) for a in sorted(accounts)} == \
            {a.lower(): k for a, k in zip(sorted(accounts), truth)}, block
        # the categories' parameters: the last EModeCategoryAdded per id
        for r in chain_query(con, "aave_emode_categories_at_block", {"block": block}).to_pylist():
            c = m.pool.functions.getEModeCategoryData(r["category"]).call(block_identifier=block)
            assert (int(r["ltv_bps"]), int(r["liquidation_threshold_bps"]), int(r["liquidation_bonus_bps"]),
                    r["oracle"], r["label"]) == (c[0], c[1], c[2], c[3].lower(), c[4])
        # each asset's category and risk parameters, in the markets rows (bps -> fractions, 10500 -> 0.05)
        for r in chain_query(con, "aave_markets_at_block", {"block": block, "source": "aave-v3"}).to_pylist():
            asset = Web3.to_checksum_address(r["asset_address"])
            want = data_provider.functions.getReserveEModeCategory(asset).call(block_identifier=block)
            conf = data_provider.functions.getReserveConfigurationData(asset).call(block_identifier=block)
            fee = data_provider.functions.getLiquidationProtocolFee(asset).call(block_identifier=block)
            assert r["emode_category"] == want, (block, r["symbol"])
            assert (r["ltv"], r["liquidation_threshold"], r["liquidation_bonus"], r["protocol_fee"]) == \
                (conf[1] / 1e4, conf[2] / 1e4, (conf[3] - 10_000) / 1e4, fee / 1e4)
        # getUserAccountData, all six fields, exactly
        data = account_data(con, "aave-v3", block, ts).to_pylist()
        onchain = net.chain.call_many([m.pool.functions.getUserAccountData(Web3.to_checksum_address(r["account"]))
                                       for r in data], block)
        for r, o in zip(data, onchain):
            assert tuple(int(r[k]) for k in FIELDS) == tuple(o), (block, r["account"])
            if ours.get(r["account"], 0) and o[1] > 0:
                in_emode += 1
                above_asset_lt += o[3] > MAX_ASSET_LT
        compared += len(data)
    # e-mode really moved the numbers: averages no reserve's own threshold can give
    assert in_emode >= 10 and above_asset_lt >= 5, (in_emode, above_asset_lt)
    by_source = _priced_by_source(net, m, users, blocks)
    assert by_source >= 3
    # the re-parameterised category is what the last block sees
    last = chain_query(con, "aave_emode_categories_at_block", {"block": blocks[-1]}).to_pylist()
    assert [(r["category"], r["ltv"], r["liquidation_threshold"], r["liquidation_bonus"], r["label"]) for r in last] \
        == [(1, 0.9, 0.93, 0.02, "Stablecoins v2"), (2, 0.9, 0.93, 0.01, "ETH correlated")]
    print(f"e-mode proof: {counts} ops; getUserAccountData equal for {compared} account-blocks at {len(blocks)} "
          f"blocks, {in_emode} of them e-mode accounts with debt ({above_asset_lt} above any reserve's own LT); "
          f"{by_source} account-blocks valued DAI at the category's priceSource (USDC)")


def _priced_by_source(net, m, users, blocks) -> int:
    """Account-blocks where the priceSource mattered: in category 1 after USDC became its price source,
    holding DAI (collateral or debt) while DAI's feed and USDC's disagree."""
    dai, n = m.reserves["DAI"], 0
    for block in blocks:
        if not int(m.pool.functions.getEModeCategoryData(1).call(block_identifier=block)[3], 16):
            continue
        answers = net.chain.call_many([net.feeds[s].functions.latestAnswer() for s in ("DAI", "USDC")], block)
        for u in users:
            held = net.chain.call_many([dai.a_token.functions.balanceOf(u), dai.variable_debt.functions.balanceOf(u),
                                        m.pool.functions.getUserEMode(u)], block)
            n += held[2] == 1 and (held[0] or held[1]) and answers[0] != answers[1]
    return n


def _prices(net, block, ts) -> pa.Table:
    """The oracle's prices at `block` (8-decimal feed answers) as the lake's prices rows at the block's time."""
    symbols = sorted(net.feeds)
    answers = net.chain.call_many([net.feeds[s].functions.latestAnswer() for s in symbols], block)
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    return pa.table({"asset": symbols, "timestamp": pa.array([when] * len(symbols), pa.timestamp("us", tz="UTC")),
                     "price_usd": [a / 1e8 for a in answers], "source": ["devnet-feed"] * len(symbols),
                     "outlier": [False] * len(symbols)})


def _blocks_with_emode_debt(m, users, blocks) -> list[int]:
    """Blocks where some e-mode account borrows against collateral of its category (LT above any reserve's)."""
    out = []
    for block in blocks:
        modes = [m.pool.functions.getUserEMode(u).call(block_identifier=block) for u in users]
        data = [m.pool.functions.getUserAccountData(u).call(block_identifier=block) for u in users]
        if any(k and d[1] and d[3] > MAX_ASSET_LT for k, d in zip(modes, data)):
            out.append(block)
    return out


def test_snapshot_lake_replayed_by_the_engine_gives_the_contract_health_factor(net, tmp_path, driven, capsys):
    m, users, blocks, counts, client = driven
    scenario = load_scenario("stylised-eth-crash")        # anchor = book: the snapshot's own block
    checked = emode_checked = skipped = 0
    worst = 0.0
    for block in _blocks_with_emode_debt(m, users, blocks)[:5] + [blocks[-1]]:
        assert cli(["snapshot", "--block", str(block), "--lake", str(tmp_path), "--rpc", net.chain.url]) == 0
        tag = f"chain__{block:08}.parquet"
        book_lake = tmp_path / f"book_{block}"
        for name in ("positions", "markets", "emode_categories"):
            (book_lake / name).mkdir(parents=True)
            shutil.copy(tmp_path / name / tag, book_lake / name / tag)
        # a category with a priceSource values its assets at another asset's price: the lake (one price
        # per asset) cannot say that, and the snapshot says so
        sources = [m.pool.functions.getEModeCategoryData(k).call(block_identifier=block)[3] for k in (1, 2)]
        priced = {k for k, source in zip((1, 2), sources) if int(source, 16)}
        assert ("priceSource" in capsys.readouterr().out) == bool(priced)
        ts = client.block_timestamps([block])[block]
        write_table(book_lake, "prices", _prices(net, block, ts))
        positions = read_table(book_lake, "positions")
        onchain_emode = dict(zip(users, net.chain.call_many([m.pool.functions.getUserEMode(u) for u in users], block)))
        for row in positions.to_pylist():
            assert row["emode_category"] == onchain_emode.get(Web3.to_checksum_address(row["account"]), 0)
        categories = read_table(book_lake, "emode_categories").to_pylist()
        assert {r["category"] for r in categories} == {1, 2} and all(r["protocol"] == "aave-v3" for r in categories)
        book = load_book(book_lake, scenario, make_config(scenario, book_lake))
        price = book.reserve_prices
        hf = health_factor(book.collateral * price, book.debt * price, book.liquidation_threshold,
                           np.ones(len(book.accounts), bool))
        onchain = net.chain.call_many([m.pool.functions.getUserAccountData(Web3.to_checksum_address(a))
                                       for a in book.accounts], block)
        for a, ours, o, k in zip(book.accounts, hf, onchain, book.emode):
            coll_base, debt_base, lt_bps, hf_wad = o[0], o[1], o[3], o[5]
            if k in priced:
                skipped += 1
                continue
            if debt_base == 0:
                assert ours == np.inf or book.debt[list(book.accounts).index(a)].sum() * 1e8 < 1, a
                continue
            # the contract floors each reserve to whole base units (1e-8 USD) and HF to 1e-18; the engine
            # works in float64 on token units: they agree within those floors, relative
            tolerance = 4 / debt_base + 4 / max(coll_base, 1) + 1e-12
            assert ours == pytest.approx(hf_wad / 1e18, rel=tolerance), (block, a, k, lt_bps)
            checked += 1
            worst = max(worst, abs(ours / (hf_wad / 1e18) - 1))
            emode_checked += bool(k) and lt_bps > MAX_ASSET_LT
    assert checked >= 8 and emode_checked >= 2, (checked, emode_checked)
    print(f"engine HF = contract HF for {checked} account-snapshots with debt, {emode_checked} of them e-mode "
          f"accounts above any reserve's own LT; largest relative difference {worst:.1e}; {skipped} accounts of a "
          "category with a priceSource left out")
