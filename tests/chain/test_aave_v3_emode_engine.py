"""The replay engine's e-mode against the deployed Aave v3 Pool: an account in the stablecoin
category (USDC, DAI: LTV 93 %, LT 95 %, bonus 1 %) has the Pool's health factor in the engine's
book, and a liquidationCall seizes what the engine's liquidator terms predict, at the category's
bonus rather than DAI's own 4 %."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pyarrow as pa

from backtest.devnet.aave import EModeCategory, configure_emode
from backtest.devnet.builder import price_answer
from backtest.devnet.positions import MAX_UINT, account_data, liquidate, open_position
from backtest.inputs.book import load_book
from backtest.protocols.aave.v3 import terms as aave_v3_terms
from backtest.protocols.rules import Params, health_factor
from backtest.run import make_config
from backtest.lake.io import write_table
from backtest.scenarios import load_scenario
from chain_helpers import WAD, fund, fund_liquidator, rel

STABLES = EModeCategory(1, 9300, 9500, 10100, "Stablecoins", ("USDC", "DAI"))
WHEN = datetime(2024, 1, 1, tzinfo=timezone.utc)
PRICES = {"WETH": 2000.0, "WBTC": 30_000.0, "USDC": 1.0, "DAI": 0.94}


def _lake(net, lake, borrower, supplied, borrowed):
    """The same book for the engine: the devnet's reserve parameters, the category, the position."""
    write_table(lake, "markets", pa.Table.from_pylist([
        dict(protocol="aave-v3", market="devnet", asset=s, decimals=a.decimals, ltv=a.params.ltv / 1e4,
             liquidation_threshold=a.params.liquidation_threshold / 1e4,
             liquidation_bonus=a.params.liquidation_bonus / 1e4 - 1, close_factor=0.5,
             protocol_fee=a.params.protocol_fee / 1e4, emode_category=1 if s in STABLES.assets else 0,
             valid_from_block=0) for s, a in net.assets.items()]))
    write_table(lake, "emode_categories", pa.Table.from_pylist([dict(
        protocol="aave-v3", market="devnet", category=1, ltv=0.93, liquidation_threshold=0.95,
        liquidation_bonus=0.01, label="Stablecoins", valid_from_block=0)]))
    write_table(lake, "positions", pa.table({
        "protocol": ["aave-v3"] * 2, "account": [borrower.lower()] * 2, "asset": ["DAI", "USDC"],
        "collateral": [supplied, 0.0], "debt": [0.0, borrowed], "block_number": pa.array([1, 1], pa.int64()),
        "timestamp": pa.array([WHEN] * 2, pa.timestamp("us", tz="UTC")),
        "emode_category": pa.array([1, 1], pa.int32())}))
    write_table(lake, "prices", pa.table({"asset": list(PRICES),
                                          "timestamp": pa.array([WHEN] * 4, pa.timestamp("us", tz="UTC")),
                                          "price_usd": list(PRICES.values())}))


def test_engine_emode_hf_and_seizure_equal_the_pools(net, tmp_path, record):
    chain, m = net.chain, net.aave_v3
    borrower, liquidator = chain.accounts[2], chain.accounts[3]
    fund(net, m, borrower)
    fund_liquidator(net, m, liquidator)
    configure_emode(chain, m, STABLES)
    chain.send(m.pool.functions.setUserEMode(1), borrower)
    # 10,000 DAI supplied, 9,000 USDC borrowed: 90 % of the collateral, within e-mode's 93 % LTV only
    open_position(net, m, borrower, {"DAI": 10_000 * 10**18}, {"USDC": 9_000 * 10**6}, mint=False)
    net.set_prices({s: price_answer(p) for s, p in PRICES.items()})
    onchain = account_data(net, m, borrower)

    _lake(net, tmp_path / "lake", borrower, 10_000.0, 9_000.0)
    scenario = load_scenario("stylised-eth-crash")          # anchor = "book": the snapshot above
    book = load_book(tmp_path / "lake", scenario, make_config(scenario, tmp_path / "lake"))
    price = book.prices[book.reserve_asset]
    hf = float(health_factor(book.collateral * price, book.debt * price, book.liquidation_threshold,
                             np.ones(1, bool))[0])
    # DAI at 0.94: 9,400 x 0.95 / 9,000 = 0.99222 (outside e-mode 9,400 x 0.77 / 9,000 = 0.804)
    assert abs(hf - 9_400 * 0.95 / 9_000) < 1e-12
    assert rel(hf, onchain.health_factor / WAD) <= 1e-9

    # HF > 0.95: half the USDC debt; DAI seized = 4,500 x 1 / 0.94 x 1.01 = 4,835.106 (4 % would be 4,978.7)
    got = liquidate(net, m, liquidator, borrower, "DAI", "USDC", MAX_UINT, False)
    c = int(np.flatnonzero(book.collateral[0] > 0)[0])        # the e-mode DAI reserve
    d = int(np.flatnonzero(book.debt[0] > 0)[0])
    repay, taken, fee = aave_v3_terms(hf, d, c, book.collateral[0], book.debt[0], price,
                                      Params(book.liquidation_bonus, book.protocol_fee, book.close_factor), 1.0)
    assert abs(taken - 4_500 / 0.94 * 1.01) < 1e-9
    diffs = {"debt_repaid": rel(repay, got.debt_repaid / 1e6),
             "collateral_seized": rel(taken, got.collateral_seized / 1e18),
             "protocol_fee": rel(fee, got.protocol_fee / 1e18)}
    record("aave_v3_emode_engine", hf_rel_diff=rel(hf, onchain.health_factor / WAD),
           **{f"rel_diff_{k}": v for k, v in diffs.items()})
    assert max(diffs.values()) <= 1e-9, diffs
