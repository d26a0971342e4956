"""Aave v3.0 e-mode SQL on hand-worked numbers: logs encoded with eth_abi (as a node returns them),
decoded, and getUserAccountData rebuilt with the category's LTV and threshold where the account's
category is the asset's. Also: a string event in a non-canonical layout is skipped, not mis-read."""

from __future__ import annotations

import pyarrow as pa

from backtest.ingest.dynamic import decode_dynamic
from backtest.ingest.events import BY_TABLE
from backtest.ingest.logs import logs_to_table
from backtest.ingest.sources import _row
from backtest.ingest.tables import chain_query
from tests.ingest_chain.logmaker import encode_log
from tests.ingest_chain.test_offline_protocols import Logs, lake_of

POOL, CONF = "0x" + "a1" * 20, "0x" + "a2" * 20
DAI, WETH, USDC = "0x" + "d1" * 20, "0x" + "e1" * 20, "0x" + "c1" * 20
FEEDS = {DAI: "0x" + "f1" * 20, WETH: "0x" + "f2" * 20, USDC: "0x" + "f3" * 20}
U, V, W = "0x" + "01" * 20, "0x" + "02" * 20, "0x" + "03" * 20     # e-mode; never; entered then left
RAY = 10**27


def _lake(tmp_path):
    L = Logs()
    for asset, ltv, lt, bonus in ((DAI, 6700, 7700, 10400), (WETH, 8000, 8250, 10500), (USDC, 7700, 8000, 10450)):
        L.add("aave_v3_configurator_collateral_configuration_changed", CONF, 5, asset=asset, ltv=ltv,
              liquidationThreshold=lt, liquidationBonus=bonus)
    for asset, answer in ((DAI, 10**8), (WETH, 2000 * 10**8), (USDC, 10**8)):
        L.add("chainlink_feed_answer_updated", FEEDS[asset], 5, current=answer, roundId=1, updatedAt=1)
    L.add("aave_v3_configurator_e_mode_category_added", CONF, 10, categoryId=1, ltv=9300, liquidationThreshold=9500,
          liquidationBonus=10100, oracle="0x" + "00" * 20, label="Stablecoins")
    for asset in (DAI, USDC):
        L.add("aave_v3_configurator_e_mode_asset_category_changed", CONF, 11, asset=asset, oldCategoryId=0,
              newCategoryId=1)
    L.add("aave_v3_pool_user_e_mode_set", POOL, 12, user=U, categoryId=1)
    L.add("aave_v3_pool_user_e_mode_set", POOL, 12, user=W, categoryId=1)
    L.add("aave_v3_pool_user_e_mode_set", POOL, 13, user=W, categoryId=0)
    # block 20: the category re-parameterised (LTV 90 %, LT 93 %), a new label
    L.add("aave_v3_configurator_e_mode_category_added", CONF, 20, categoryId=1, ltv=9000, liquidationThreshold=9300,
          liquidationBonus=10200, oracle="0x" + "00" * 20, label="Stablecoins v2")
    # block 30: DAI's feed says $0.99, and category 1 takes USDC's price for its assets (priceSource)
    L.add("chainlink_feed_answer_updated", FEEDS[DAI], 30, current=99 * 10**6, roundId=2, updatedAt=2)
    L.add("aave_v3_configurator_e_mode_category_added", CONF, 30, categoryId=1, ltv=9000, liquidationThreshold=9300,
          liquidationBonus=10200, oracle=USDC, label="Stablecoins v2")
    rows = [_row("aave-v3", "pool", POOL), _row("aave-v3", "configurator", CONF)]
    for asset, symbol, decimals in ((DAI, "DAI", 18), (WETH, "WETH", 18), (USDC, "USDC", 6)):
        meta = {"asset": asset, "symbol": symbol, "decimals": decimals}
        rows += [_row("aave-v3", "atoken", "0x" + asset[2:4] * 19 + "aa", **meta),
                 _row("aave-v3", "price_source", FEEDS[asset], **meta),
                 _row("chainlink", "feed", FEEDS[asset], asset=FEEDS[asset], decimals=8)]
    return lake_of(tmp_path, L, rows, ["aave-v3", "chainlink"])


def _account_data(con, block):
    """Each of U, V, W: 3,000 DAI and 1 WETH supplied as collateral, 2,500 USDC borrowed."""
    raw = []
    for who in (U, V, W):
        raw += [{"account": who, "asset": DAI, "decimals": 18, "collateral_raw": str(3000 * 10**18), "debt_raw": "0",
                 "collateral_enabled": True},
                {"account": who, "asset": WETH, "decimals": 18, "collateral_raw": str(10**18), "debt_raw": "0",
                 "collateral_enabled": True},
                {"account": who, "asset": USDC, "decimals": 6, "collateral_raw": "0", "debt_raw": str(2500 * 10**6),
                 "collateral_enabled": False}]
    con.register("aave_positions_raw", pa.Table.from_pylist(raw))
    rows = chain_query(con, "aave_account_data_at_block", {"block": block, "source": "aave-v3"}).to_pylist()
    return {r["account"]: tuple(int(r[k]) for k in ("total_collateral_base", "total_debt_base",
                                                    "available_borrows_base", "current_liquidation_threshold",
                                                    "ltv", "health_factor")) for r in rows}


def test_account_data_uses_the_category_values_for_assets_of_the_accounts_category(tmp_path):
    con = _lake(tmp_path)
    got = _account_data(con, 15)
    # collateral 3,000 DAI ($3,000e8) + 1 WETH ($2,000e8) = 5,000e8; debt 2,500e8.
    # U (category 1; DAI is in it, WETH is not): LT (3000 x 9500 + 2000 x 8250) / 5000 = 9000,
    #   LTV (3000 x 9300 + 2000 x 8000) / 5000 = 8780; HF = 5000 x 0.90 / 2500 = 1.8;
    #   available = 5000 x 0.878 - 2500 = 1,890
    assert got[U] == (5000 * 10**8, 2500 * 10**8, 1890 * 10**8, 9000, 8780, 18 * 10**17)
    # V (never in e-mode) and W (entered, then left): LT (3000 x 7700 + 2000 x 8250) / 5000 = 7920,
    #   LTV (3000 x 6700 + 2000 x 8000) / 5000 = 7220; HF = 5000 x 0.792 / 2500 = 1.584; available 1,110
    outside = (5000 * 10**8, 2500 * 10**8, 1110 * 10**8, 7920, 7220, 1584 * 10**15)
    assert got[V] == outside and got[W] == outside
    # block 20, category LT 93 %, LTV 90 %: U's LT (3000 x 9300 + 2000 x 8250) / 5000 = 8880,
    #   LTV (3000 x 9000 + 2000 x 8000) / 5000 = 8600; HF 5000 x 0.888 / 2500 = 1.776; available 1,800
    assert _account_data(con, 20)[U] == (5000 * 10**8, 2500 * 10**8, 1800 * 10**8, 8880, 8600, 1776 * 10**15)


def test_a_category_price_source_prices_its_assets_for_accounts_in_it(tmp_path):
    got = _account_data(_lake(tmp_path), 30)
    # U: DAI (category 1) at USDC's $1.00, not its own $0.99: the same numbers as at block 20
    assert got[U] == (5000 * 10**8, 2500 * 10**8, 1800 * 10**8, 8880, 8600, 1776 * 10**15)
    # V: DAI at $0.99: collateral 2,970 + 2,000 = 4,970e8;
    #   LT floor((2970 x 7700 + 2000 x 8250) / 4970) = floor(39,369,000 / 4970 = 7921.33) = 7921;
    #   LTV floor((2970 x 6700 + 2000 x 8000) / 4970) = floor(35,899,000 / 4970 = 7223.14) = 7223;
    #   HF = 4970e8 x 0.7921 / 2500e8 = 3,936.737e8 / 2500e8 = 1.5746948; available 4970 x 0.7223 - 2500 = 1,089.831
    assert got[V] == (4970 * 10**8, 2500 * 10**8, 108_983_100_000, 7921, 7223, 1_574_694_800_000_000_000)


def test_emode_tables_at_a_block(tmp_path):
    con = _lake(tmp_path)
    accounts = chain_query(con, "aave_emode_accounts_at_block", {"block": 12}).to_pylist()
    assert [(r["account"], r["category"]) for r in accounts] == [(U, 1), (W, 1)]
    accounts = chain_query(con, "aave_emode_accounts_at_block", {"block": 13}).to_pylist()
    assert [(r["account"], r["category"]) for r in accounts] == [(U, 1), (W, 0)]
    cats = chain_query(con, "aave_emode_categories_at_block", {"block": 19}).to_pylist()
    # bps as fractions: 9300 -> 0.93, bonus 10100 -> 0.01 (the extra share)
    assert [(r["category"], r["ltv"], r["liquidation_threshold"], r["liquidation_bonus"], r["label"],
             r["valid_from_block"]) for r in cats] == [(1, 0.93, 0.95, 0.01, "Stablecoins", 10)]
    cats = chain_query(con, "aave_emode_categories_at_block", {"block": 20}).to_pylist()
    assert [(r["ltv"], r["liquidation_threshold"], r["liquidation_bonus"], r["label"]) for r in cats] == \
        [(0.9, 0.93, 0.02, "Stablecoins v2")]
    markets = chain_query(con, "aave_markets_at_block", {"block": 11, "source": "aave-v3"}).to_pylist()
    assert {r["symbol"]: (r["emode_category"], r["liquidation_bonus"], r["valid_from_block"]) for r in markets} == \
        {"DAI": (1, 0.04, 11), "WETH": (0, 0.05, 5), "USDC": (1, 0.045, 11)}
    markets = chain_query(con, "aave_markets_at_block", {"block": 10, "source": "aave-v3"}).to_pylist()
    assert {r["emode_category"] for r in markets} == {0}


def test_a_string_event_in_another_layout_is_skipped_not_misread():
    ev = BY_TABLE["aave_v3_configurator_e_mode_category_added"]
    values = {"categoryId": 3, "ltv": 1, "liquidationThreshold": 2, "liquidationBonus": 10001,
              "oracle": "0x" + "00" * 20, "label": "ab"}
    good = encode_log(ev, values, address=CONF, block=1, log_index=0)
    data = bytes.fromhex(good["data"][2:])
    moved = data[:128] + (192).to_bytes(32, "big") + bytes(32) + data[160:]   # offset 192, one spare word
    bad = dict(good, logIndex="0x1", data="0x" + moved.hex())
    short = dict(good, logIndex="0x2", data="0x" + data[:-32].hex())            # string bytes cut off
    out = decode_dynamic(logs_to_table([good, bad, short], 1), ev, [bytes.fromhex(CONF[2:])])
    assert out.to_pydict()["label"] == ["ab"] and out["evt_index"].to_pylist() == [0]
