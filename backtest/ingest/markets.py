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
from backtest.lake.schemas import MARKETS


def _table(rows: list[dict]) -> pa.Table:
    full = [{f.name: r.get(f.name) for f in MARKETS} for r in rows]
    return pa.Table.from_pylist(full, schema=MARKETS)


def compound_v2_markets(con, block: int, market: str) -> pa.Table:
    rows = []
    for r in chain_query(con, "compound_v2_markets_at_block", {"block": block}).to_pylist():
        if r["liquidation_bonus"] is None:
            continue                           # no NewLiquidationIncentive in the lake: not a usable row
        rows.append({"protocol": "compound-v2", "market": market, "asset": r["symbol"] or r["ctoken"],
                     "asset_address": r["asset"], "decimals": 18 if r["decimals"] is None else r["decimals"],
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
