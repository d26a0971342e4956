"""Morpho Blue from the Morpho contract's events: market tokens, and markets and positions at a block.

Markets come from CreateMarket (loan token, collateral token, oracle, IRM, LLTV; the id is the event's
topic), totals and positions from the other events by SQL (queries/morpho_blue_markets_at_block.sql,
queries/morpho_blue_positions_at_block.sql). The tokens' symbols and decimals are read by eth_call
after each ingest and kept as `contracts` rows of kind `token` (they emit nothing we fetch).
In the lake each market is its own market (keyed by id, as Maker's ilks): a borrower has a collateral
row (the collateral token) and a debt row (the loan token). Supplied loan tokens back no borrowing in
Morpho, so suppliers are not positions rows; the SQL gives their shares and assets.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from backtest.ingest.tables import chain_query, table_path
from backtest.lake.schemas import MARKETS
from backtest.protocols.morpho_blue import exact

CREATE_MARKET = "morpho_blue_morpho_create_market"


def market_tokens(lake: Path, network: str) -> list[str]:
    """Every loan and collateral token of the markets created in the lake's decoded CreateMarket table."""
    path = table_path(lake, CREATE_MARKET, network)
    if not path.exists():
        return []
    t = pq.read_table(path, columns=["loanToken", "collateralToken"])
    return sorted({a.lower() for col in t.columns for a in col.to_pylist()})


def token_rows(client, lake: Path, network: str, known: set[str], block) -> list[dict]:
    """`contracts` rows (kind token) for the market tokens not in `known`, with symbol and decimals."""
    from backtest.ingest.sources import _row, token_meta
    rows = []
    for token in market_tokens(lake, network):
        if token not in known:
            symbol, decimals = token_meta(client, token, block)
            rows.append(_row("morpho-blue", "token", token, asset=token, symbol=symbol, decimals=decimals))
    return rows


def raw_markets(con, block: int) -> pa.Table:
    return chain_query(con, "morpho_blue_markets_at_block", {"block": block})


def raw_positions(con, block: int) -> pa.Table:
    """Per (Morpho, market id, account): shares, collateral, supply and debt assets (raw, exact text)."""
    con.register("morpho_blue_markets_at_block", raw_markets(con, block))
    try:
        return chain_query(con, "morpho_blue_positions_at_block", {"block": block})
    finally:
        con.unregister("morpho_blue_markets_at_block")


def _units(raw, decimals) -> float:
    return int(raw) / 10 ** (18 if decimals is None else int(decimals))


def positions(con, block: int, ts: int, rows_of) -> tuple[pa.Table, str | None]:
    """Lake positions rows (market = the market id); `rows_of` is positions._rows. A note names the
    markets whose tokens have no symbol/decimals in the lake (ingested without an RPC)."""
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    raw = raw_positions(con, block).to_pylist()
    markets, accounts, assets, coll, debt = [], [], [], [], []
    for r in raw:
        if int(r["collateral_raw"]):
            markets.append(r["market_id"]), accounts.append(r["account"])
            assets.append(r["collateral_symbol"] or r["collateral_token"])
            coll.append(_units(r["collateral_raw"], r["collateral_decimals"])), debt.append(0.0)
        if int(r["borrow_shares"]):
            markets.append(r["market_id"]), accounts.append(r["account"])
            assets.append(r["loan_symbol"] or r["loan_token"])
            coll.append(0.0), debt.append(_units(r["debt_raw"], r["loan_decimals"]))
    unknown = sorted({r["market_id"] for r in raw if r["loan_decimals"] is None or r["collateral_decimals"] is None})
    note = (f"morpho-blue: {len(unknown)} market(s) have tokens without symbol/decimals in the lake (ingest with "
            "--rpc to read them); their amounts were scaled by 1e18") if unknown else None
    return rows_of("morpho-blue", markets, accounts, assets, coll, debt, block, when), note


def markets(con, block: int) -> pa.Table:
    """Two markets rows per Morpho market (market = its id): its collateral, with LLTV as both LTV and
    liquidation threshold (Morpho has one ratio) and incentive factor - 1 as the bonus, no close factor;
    and its loan token, which backs nothing there (LTV and threshold 0)."""
    rows = []
    for r in raw_markets(con, block).to_pylist():
        lltv = int(r["lltv_raw"])
        rows.append({"protocol": "morpho-blue", "market": r["market_id"],
                     "asset": r["collateral_symbol"] or r["collateral_token"], "asset_address": r["collateral_token"],
                     "decimals": 18 if r["collateral_decimals"] is None else r["collateral_decimals"],
                     "ltv": lltv / 1e18, "liquidation_threshold": lltv / 1e18,
                     "liquidation_bonus": exact.liquidation_incentive_factor(lltv) / 1e18 - 1.0,
                     "close_factor": 1.0, "protocol_fee": 0.0, "valid_from_block": r["block_number"]})
        rows.append({"protocol": "morpho-blue", "market": r["market_id"],
                     "asset": r["loan_symbol"] or r["loan_token"], "asset_address": r["loan_token"],
                     "decimals": 18 if r["loan_decimals"] is None else r["loan_decimals"],
                     "ltv": 0.0, "liquidation_threshold": 0.0, "liquidation_bonus": 0.0,
                     "close_factor": 1.0, "protocol_fee": 0.0, "valid_from_block": r["block_number"]})
    full = [{f.name: r.get(f.name) for f in MARKETS} for r in rows]
    return pa.Table.from_pylist(full, schema=MARKETS)
