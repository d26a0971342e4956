"""`backtest snapshot --block N`: positions and pools rebuilt from the lake's chain events at one block."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from backtest.commands.common import replay_hint
from backtest.errors import InputError

EPILOG = """\
examples:
  backtest snapshot --block 16300000 --lake mylake
  backtest snapshot --block 16300000 --rpc $ETH_RPC_URL      # block time asked of the node if not in the lake

Writes <lake>/positions/chain__<block>.parquet: Aave v2/v3 and SparkLend (aToken/spToken and debt-token
events; collateral counts only when enabled; a v3 account's e-mode category from its last UserEModeSet), Compound v2
(cTokens x the exchange rate rebuilt from events; borrow balances), Comet (collateral from events; base
supply and borrow need --rpc: principals and indexes are contract state), Maker vaults (the Vat's
LogNotes; market = ilk), Morpho Blue (the Morpho contract's events; market = the market id, a
borrower's collateral row and loan-token debt row, borrow shares to assets with the market's totals).
<lake>/markets/chain__<block>.parquet: Aave v2/v3 and SparkLend from the configurator's
events (with v3's e-mode category per asset), Compound v2 from the Comptroller's events, Maker from the
Spotter's mat and the Dog's chop, Morpho Blue from CreateMarket (LLTV, incentive factor), Comet's
getAssetInfo with --rpc.
<lake>/emode_categories/chain__<block>.parquet: Aave v3.0's and SparkLend's e-mode categories (EModeCategoryAdded).
<lake>/pools/chain__<block>.parquet (Uniswap v2 reserves, v3 price, tick and active liquidity) and
<lake>/pool_ticks/chain__<block>.parquet. Needs `backtest ingest` of the same contracts up to at least
that block; --rpc must serve state at that block (an archive node) for Comet.

A lake of Dune exports only (`backtest ingest --dune`) gives positions as net principal (no interest);
the note printed names the command that fills missing markets rows. The five files land together or
not at all. An amount the lake cannot compute (a Compound borrow with no index, a Maker ilk without
its init, Comet base balances without --rpc, unknown decimals) is left empty with the reason in the
row's `unknown` column, never 0; `backtest health` and the replay report such rows.
"""


# Where a protocol's markets rows (risk parameters) come from when the lake lacks them: its configurator's
# or comptroller's events (mainnet addresses: aave-address-book AaveV3Ethereum/AaveV2Ethereum
# POOL_CONFIGURATOR, compound-protocol networks/mainnet.json Comptroller).
MARKETS_FIX = {
    "aave-v3": "ingest the configurator's events: backtest ingest --source aave-v3 --address "
               "configurator=0x64b761D848206f447Fe2dd461b0c635Ec39EbB27 --from-block 16291127 (--rpc URL, or --cryo DIR)",
    "aave-v2": "ingest the configurator's events: backtest ingest --source aave-v2 --address "
               "configurator=0x311Bb771e4F8952E6Da169b425E7e92d6Ac45756 --from-block 11362579 (--rpc URL, or --cryo DIR)",
    "compound-v2": "ingest the comptroller's events: backtest ingest --source compound-v2 --address "
                   "comptroller=0x3d9819210A31b4961b30EF54bE2aeD79B9c9Cd3B --from-block 7710671 (--rpc URL, or --cryo DIR)",
}


def register(sub) -> None:
    p = sub.add_parser("snapshot", help="rebuild positions and pools at a block from ingested events",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--block", type=int, required=True,
                   help="block whose positions, markets and pools to rebuild (its time from the lake's blocks, a "
                        "Dune row of that block, or --rpc)")
    p.add_argument("--lake", type=Path, default=Path(os.environ.get("BACKTEST_LAKE", "lake")),
                   help="lake folder read and written (default ./lake in the current folder, as `backtest ingest`, "
                        "or $BACKTEST_LAKE if set)")
    p.add_argument("--rpc", default=os.environ.get("ETH_RPC_URL"),
                   help="to read the block's time if needed, and Comet's balances and parameters (eth_call)")
    p.add_argument("--market", default=None, help="market label of the positions (default: the network name)")
    p.set_defaults(func=main)


def main(args) -> int:
    import pyarrow as pa

    from backtest.ingest.markets import aave_emode_categories, aave_markets, comet_markets, compound_v2_markets, \
        maker_markets, spark_emode_categories, spark_markets
    from backtest.ingest.morpho_blue import markets as morpho_blue_markets
    from backtest.ingest.positions import POOL_QUERIES, POSITION_QUERIES, aave_tokens_note, block_time, \
        comet_positions, compound_v2_positions, dune_positions, lake_pools, lake_positions, maker_positions, \
        morpho_blue_positions, raw_pools, raw_positions, spark_positions, with_emode
    from backtest.ingest.rpc import RpcClient, RpcError
    from backtest.ingest.tables import chain_query, connect_chain
    from backtest.lake.io import write_tables
    lake = Path(args.lake)
    dune = [p for name in ("lending_borrow", "lending_supply") for p in (lake / name).glob("*.parquet")]
    if not (lake / "contracts").is_dir() and not dune:
        raise InputError("no ingested contracts and no Dune export in this lake: run `backtest ingest` first",
                         file=lake / "contracts")
    con = connect_chain(lake)
    networks = sorted(p.stem for p in (lake / "contracts").glob("*.parquet")) or [b for (b,) in con.sql(
        "SELECT DISTINCT blockchain FROM imported_lending_borrow UNION SELECT blockchain FROM imported_lending_supply "
        "ORDER BY 1").fetchall() if b]
    market = args.market or "-".join(networks)
    spark = connect_chain(lake, fork="spark")       # SparkLend's events through the Aave v3 queries
    client = RpcClient(args.rpc) if args.rpc else None
    tag = f"chain__{args.block:08}.parquet"
    try:
        ts = block_time(con, args.block, client)
        parts = [lake_positions(raw_positions(con, args.block, ts, list(POSITION_QUERIES)), args.block, ts, market),
                 compound_v2_positions(con, args.block, ts, market)]
        comet, comet_note = comet_positions(con, args.block, ts, market, client)
        maker, maker_note = maker_positions(con, args.block, ts)
        morpho, morpho_note = morpho_blue_positions(con, args.block, ts)
        parts += [comet, maker, morpho, spark_positions(spark, args.block, ts, market)]
        from_events = {p for t in parts for p in t["protocol"].to_pylist()}
        imported, dune_note = dune_positions(con, args.block, ts, market)
        keep = [p not in from_events for p in imported["protocol"].to_pylist()]   # events are exact: they win
        if not all(keep):
            dune_note = (dune_note or "") + "; Dune rows of protocols whose events are ingested are left out"
        parts.append(imported.filter(pa.array(keep, pa.bool_())))
        markets = [aave_markets(con, source, args.block, market) for source in POSITION_QUERIES]
        markets += [compound_v2_markets(con, args.block, market), maker_markets(con, args.block),
                    morpho_blue_markets(con, args.block), spark_markets(spark, args.block, market)]
        categories, emode_note = aave_emode_categories(con, args.block, market)
        spark_categories, spark_note = spark_emode_categories(spark, args.block, market)
        categories = pa.concat_tables([categories, spark_categories])
        notes = [n for n in (aave_tokens_note(con, args.block), comet_note, maker_note, morpho_note, emode_note,
                             spark_note, dune_note) if n]
        if client is not None:
            markets.append(comet_markets(con, client, args.block, market))
    except RpcError as exc:
        raise InputError(str(exc)) from None
    positions = with_emode(con, pa.concat_tables(parts), args.block, forks={"spark": spark})
    markets_table = pa.concat_tables(markets)
    pools = lake_pools(raw_pools(con, args.block, list(POOL_QUERIES)), args.block, ts)
    ticks = chain_query(con, "uniswap_v3_pool_ticks_at_block", {"block": args.block}).select(
        ["pool", "block_number", "tick", "liquidity_net"])
    tables = {"positions": positions, "markets": markets_table, "emode_categories": categories, "pools": pools,
              "pool_ticks": ticks}
    if not any(t.num_rows for t in tables.values()):
        raise InputError(f"nothing to write: no position or pool exists at block {args.block} in this lake"
                         + "".join(f" ({n})" for n in notes))
    # all five files land together or none does: a bad row anywhere leaves the lake as it was
    paths = write_tables(lake, tables, tag)
    written = [f"{name} {tables[name].num_rows} rows -> {path}" for name, path in paths.items()]
    priced = {(p, a) for p, a in zip(markets_table["protocol"].to_pylist(), markets_table["asset"].to_pylist())}
    bare = sorted({p for p, a, c in zip(positions["protocol"].to_pylist(), positions["asset"].to_pylist(),
                                        positions["collateral"].to_pylist()) if c and (p, a) not in priced})
    for protocol in bare:
        notes.append(f"{protocol}: some collateral assets have no markets row (risk parameters); {MARKETS_FIX[protocol]}"
                     if protocol in MARKETS_FIX else f"{protocol}: some collateral assets have no markets row")
    unknown = [u for u in positions["unknown"].to_pylist() + pools["unknown"].to_pylist() if u]
    if unknown:
        notes.append(f"{len(unknown)} rows have amounts the lake cannot compute, flagged in their `unknown` "
                     f"column (replay leaves those accounts out and says so), e.g. {unknown[0]}")
    print(f"snapshot at block {args.block}:")
    for line in written:
        print("  " + line)
    for note in notes:
        print("  note: " + note)
    print(replay_hint(lake))
    return 0
