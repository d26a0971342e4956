"""Markets rows (risk parameters) at a block, where events or calls give them.

Compound v2: the Comptroller's NewCollateralFactor / NewLiquidationIncentive / NewCloseFactor
(queries/compound_v2_markets_at_block.sql); the collateral factor is both LTV and liquidation threshold.
Comet: getAssetInfo by eth_call at the block (borrowCollateralFactor -> ltv, liquidateCollateralFactor ->
liquidation_threshold, 1 - liquidationFactor -> liquidation_bonus: absorb credits collateral at
liquidationFactor of its value, compound-finance/comet contracts/Comet.sol absorbInternal), needs an RPC.
Maker: the Spotter's mat (liquidation threshold = 1/mat, also the ltv: Maker has one ratio) and the Dog's
chop (bonus = chop - 1) per ilk (queries/maker_markets_at_block.sql); the row's market is the ilk and its
asset the ilk's gem, as in the positions rows.
"""

from __future__ import annotations

import pyarrow as pa

from backtest.ingest.tables import chain_query
from backtest.lake.schemas import EMODE_CATEGORIES, MARKETS


def _table(rows: list[dict]) -> pa.Table:
    full = [{f.name: r.get(f.name) for f in MARKETS} for r in rows]
    return pa.Table.from_pylist(full, schema=MARKETS)


def _no_decimals(decimals) -> str | None:
    """Decimals the lake lacks are left empty and said, not taken as 18 (a v3 pool venue needs them)."""
    return None if decimals is not None else ("decimals: no token metadata (ingest with --rpc) and no Dune row "
                                              "of the token")


def compound_v2_markets(con, block: int, market: str) -> pa.Table:
    rows = []
    for r in chain_query(con, "compound_v2_markets_at_block", {"block": block}).to_pylist():
        if r["liquidation_bonus"] is None:
            continue                           # no NewLiquidationIncentive in the lake: not a usable row
        rows.append({"protocol": "compound-v2", "market": market, "asset": r["symbol"] or r["ctoken"],
                     "asset_address": r["asset"], "decimals": r["decimals"], "unknown": _no_decimals(r["decimals"]),
                     "ltv": r["collateral_factor"], "liquidation_threshold": r["collateral_factor"],
                     "liquidation_bonus": r["liquidation_bonus"], "close_factor": r["close_factor"],
                     "valid_from_block": r["valid_from_block"]})
    return _table(rows)


def comet_markets(con, rpc, block: int, market: str) -> pa.Table:
    from backtest.ingest.comet import asset_infos
    meta = {a: (s, d) for a, s, d in con.sql("SELECT address, symbol, decimals FROM contracts").fetchall()}
    rows = []
    for (comet,) in con.sql("SELECT address FROM contracts WHERE source = 'comet' AND kind = 'comet' ORDER BY address")\
            .fetchall():
        for info in asset_infos(rpc, comet, block):
            symbol, decimals = meta.get(info["asset"], (info["asset"], None))
            scale = info["scale"]
            rows.append({"protocol": "comet", "market": market, "asset": symbol or info["asset"],
                         "asset_address": info["asset"],
                         "decimals": decimals if decimals is not None else len(str(scale)) - 1,
                         "ltv": info["borrow_collateral_factor"],
                         "liquidation_threshold": info["liquidate_collateral_factor"],
                         "liquidation_bonus": 1 - info["liquidation_factor"],
                         "supply_cap": info["supply_cap_raw"] / scale, "valid_from_block": block})
    return _table(rows)


def maker_markets(con, block: int) -> pa.Table:
    from backtest.ingest.positions import gem_symbol
    rows = []
    for r in chain_query(con, "maker_markets_at_block", {"block": block}).to_pylist():
        if r["liquidation_bonus"] is None:
            continue                           # no chop in the lake: not a usable row
        rows.append({"protocol": "maker", "market": r["ilk_name"], "asset": gem_symbol(r["ilk_name"]),
                     "decimals": 18, "ltv": r["liquidation_threshold"],
                     "liquidation_threshold": r["liquidation_threshold"], "liquidation_bonus": r["liquidation_bonus"],
                     "close_factor": 1.0, "valid_from_block": r["valid_from_block"]})
    return _table(rows)


def aave_markets(con, source: str, block: int, market: str) -> pa.Table:
    """Aave v2/v3 reserves from the configurator's events (queries/aave_markets_at_block.sql): bps as
    fractions, the bonus as the extra share (10500 -> 0.05), v3's protocol fee and e-mode category.
    The close factor is the 50 % default (v3.0 lifts it to 100 % below HF 0.95, a rule of the engine's)."""
    rows = []
    for r in chain_query(con, "aave_markets_at_block", {"block": block, "source": source}).to_pylist():
        rows.append({"protocol": source, "market": market, "asset": r["symbol"] or r["asset_address"],
                     "asset_address": r["asset_address"], "decimals": r["decimals"],
                     "unknown": _no_decimals(r["decimals"]),
                     "ltv": r["ltv"], "liquidation_threshold": r["liquidation_threshold"],
                     "liquidation_bonus": r["liquidation_bonus"], "close_factor": 0.5,
                     "protocol_fee": r["protocol_fee"],
                     "emode_category": r["emode_category"] if source == "aave-v3" else None,
                     "valid_from_block": r["valid_from_block"]})
    return _table(rows)


def spark_markets(fork_con, block: int, market: str) -> pa.Table:
    """SparkLend's reserves from its own configurator's events, by the Aave v3 query (fork connection)."""
    t = aave_markets(fork_con, "aave-v3", block, market)
    return t.set_column(t.schema.get_field_index("protocol"), "protocol",
                        pa.array(["spark"] * t.num_rows, pa.string()))


def aave_emode_categories(con, block: int, market: str) -> tuple[pa.Table, str | None]:
    """The lake's emode_categories rows at `block` (queries/aave_emode_categories_at_block.sql), and a note
    when a category prices its assets by its own priceSource, which the lake cannot say."""
    raw = chain_query(con, "aave_emode_categories_at_block", {"block": block}).to_pylist()
    rows = [{"protocol": r["protocol"], "market": market, "category": r["category"], "ltv": r["ltv"],
             "liquidation_threshold": r["liquidation_threshold"], "liquidation_bonus": r["liquidation_bonus"],
             "label": r["label"], "valid_from_block": r["valid_from_block"]} for r in raw]
    priced = [str(r["category"]) for r in raw if int(r["oracle"], 16)]
    note = (f"aave-v3: e-mode categories {', '.join(priced)} price their assets by their own priceSource; the "
            "lake keeps one price per asset, so a replay prices them by the asset's feed") if priced else None
    return pa.Table.from_pylist(rows, schema=EMODE_CATEGORIES), note


def spark_emode_categories(fork_con, block: int, market: str) -> tuple[pa.Table, str | None]:
    """SparkLend's e-mode categories (its configurator's EModeCategoryAdded), protocol `spark`."""
    t, note = aave_emode_categories(fork_con, block, market)
    t = t.set_column(t.schema.get_field_index("protocol"), "protocol",
                     pa.array(["spark"] * t.num_rows, pa.string()))
    return t, note and note.replace("aave-v3:", "spark:", 1)
