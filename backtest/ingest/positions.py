"""Positions and pools at a block: run the `queries/*_at_block.sql` files, then scale raw units to tokens.

The SQL returns exact raw integers as text (the proof against the contracts compares those); the lake
tables `positions` and `pools` get token units (float64) as the rest of the project expects.
Per protocol: Aave v2/v3 and Compound v2 from events alone; Comet collateral from events and its base
balances by eth_call (backtest.ingest.comet: principals and indexes are state, not events); Maker vaults
from the Vat's LogNotes, one market per ilk (vaults are isolated), the gem's row holding `ink` and a DAI
row holding `art x rate`; Morpho Blue from the Morpho contract's events, one market per market id
(backtest.ingest.morpho_blue).
"""

from __future__ import annotations

from datetime import datetime, timezone
import pyarrow as pa
import pyarrow.compute as pc

from backtest.errors import InputError
from backtest.ingest.tables import chain_query
from backtest.lake.schemas import POOLS, POSITIONS

# what the builders return: the core columns and `unknown` (the lake schema adds emode_category after)
POSITIONS_ROWS = pa.schema(list(POSITIONS) + [("unknown", pa.string())])

POSITION_QUERIES = {"aave-v3": "aave_v3_positions_at_block", "aave-v2": "aave_v2_positions_at_block"}
POOL_QUERIES = {"uniswap-v2": "uniswap_v2_pools_at_block", "uniswap-v3": "uniswap_v3_pools_at_block"}


def block_time(con, block: int, rpc=None) -> int:
    """Unix time of `block`: from the lake's blocks table, else asked of the node."""
    rows = con.sql("SELECT \"timestamp\" FROM blocks WHERE block_number = $b", params={"b": block}).fetchall()
    if rows:
        return int(rows[0][0])
    rows = con.sql("SELECT epoch(block_time)::BIGINT FROM (SELECT block_number, block_time FROM imported_lending_borrow "
                   "UNION ALL SELECT block_number, block_time FROM imported_lending_supply) WHERE block_number = $b "
                   "LIMIT 1", params={"b": block}).fetchall()
    if rows:                 # a Dune export's row of that very block carries its time
        return int(rows[0][0])
    if rpc is None:
        raise InputError(f"the lake has no timestamp for block {block}: pass --rpc, or ingest up to that block (a "
                         "cryo dump: put cryo's blocks dataset for that block in the dump folder, then ingest --cryo; "
                         "Dune exports: a block that one of their rows has)")
    return rpc.block_timestamps([block])[block]


def raw_positions(con, block: int, ts: int, protocols=None) -> dict[str, pa.Table]:
    return {p: chain_query(con, q, {"block": block, "ts": ts})
            for p, q in POSITION_QUERIES.items() if protocols is None or p in protocols}


def aave_tokens_note(con, block: int) -> str | None:
    """A note when an Aave pool's events are in the lake but none of its aTokens/debt tokens are (a dump
    decoded without an RPC, given only the pool): its positions cannot be rebuilt, and silence would
    read as 'no positions'."""
    missing = []
    for source in POSITION_QUERIES:
        table = f"{source.replace('-', '_')}_pool_borrow"
        used = con.sql(f"SELECT count(*) FROM {table} WHERE evt_block_number <= $b", params={"b": block}).fetchall()[0][0]
        tokens = con.sql("SELECT count(*) FROM contracts WHERE source = $s AND kind IN ('atoken', 'vtoken')",
                         params={"s": source}).fetchall()[0][0]
        if used and not tokens:
            missing.append(source)
    return (f"{', '.join(missing)}: the pool's events are in the lake but not its aTokens' and debt tokens', so no "
            "positions are rebuilt: ingest the pool with --rpc (or add atoken=0x..., vtoken=0x... addresses)"
            ) if missing else None


def _symbol_of(con) -> dict[str, tuple[str, int]]:
    """address -> (symbol, decimals) of every contract row (a Comet's row carries its base token's)."""
    rows = con.sql("SELECT address, symbol, decimals FROM contracts").fetchall()
    return {a: (s or a, None if d is None else int(d)) for a, s, d in rows}


def _rows(protocol, market, accounts, assets, collateral, debt, block, when, unknown=None) -> pa.Table:
    """Positions rows; `unknown` (per row, None = all known) says what the lake could not compute, and
    that row's amount is None rather than a made-up 0."""
    n = len(accounts)
    return pa.table({
        "protocol": pa.array([protocol] * n), "market": pa.array(market if isinstance(market, list) else [market] * n),
        "account": pa.array(accounts, pa.string()), "asset": pa.array(assets, pa.string()),
        "collateral": pa.array(collateral, pa.float64()), "debt": pa.array(debt, pa.float64()),
        "block_number": pa.array([block] * n, pa.int64()),
        "timestamp": pa.array([when] * n, POSITIONS.field("timestamp").type),
        "unknown": pa.array(unknown or [None] * n, pa.string())}, schema=POSITIONS_ROWS)


def _units(raw, decimals) -> float | None:
    """Exact text integer -> token units (one rounding); None when the amount or the decimals are unknown."""
    if raw == "0":
        return 0.0
    return None if raw is None or decimals is None else int(raw) / 10 ** int(decimals)


def _join(*parts) -> str | None:
    return "; ".join(p for p in parts if p) or None


def compound_v2_positions(con, block: int, ts: int, market: str) -> pa.Table:
    """Underlying collateral (cTokens x exchange rate, only in entered markets when the comptroller's
    events are in the lake) and borrow balances, token units. An amount the events cannot give (no
    AccrueInterest before the last borrow, decimals without an RPC) is None with the reason in `unknown`."""
    raw = chain_query(con, "compound_v2_positions_at_block", {"block": block}).to_pylist()
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    coll, debt, unknown = [], [], []
    for r in raw:
        d = r["decimals"]
        no_decimals = d is None and "decimals of the underlying: ingest the cToken with --rpc (token metadata)"
        counts = r["collateral_enabled"] is not False
        held = r["ctoken_balance_raw"] not in (None, "0")
        no_rate = held and r["collateral_raw"] is None and (
            "collateral: no AccrueInterest of the cToken in the lake, so no cash and no exchange rate")
        no_index = r["debt_raw"] is None and (
            f"debt: no AccrueInterest before the account's last Borrow/RepayBorrow (block "
            f"{r['borrow_snapshot_block']}) in the lake, so no borrow index (ingest the cToken from earlier; "
            "the pre-2019 3-field AccrueInterest is not decoded)")
        coll.append(_units(r["collateral_raw"], d) if counts and held else 0.0)
        debt.append(_units(r["debt_raw"], d))
        unknown.append(_join(no_rate if counts else None, no_index,
                             no_decimals if (held and counts) or r["debt_raw"] != "0" else None))
    return _rows("compound-v2", market, [r["account"] for r in raw],
                 [r["symbol"] or r["asset"] or r["ctoken"] for r in raw], coll, debt, block, when, unknown)


def comet_positions(con, block: int, ts: int, market: str, rpc=None) -> tuple[pa.Table, str | None]:
    """Collateral per asset (events), and the base asset's supply (as collateral) and borrow (as debt) when
    an RPC can be asked for principals and indexes; without one, every account a base event names gets a
    base row whose amounts are unknown (`unknown` says so), never a debt of 0."""
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    meta = _symbol_of(con)
    raw = [r for r in chain_query(con, "comet_positions_at_block", {"block": block}).to_pylist() if r["asset"]]
    asset = [meta.get(r["asset"], (r["asset"], None)) for r in raw]      # collateral rows name each asset
    parts = [_rows("comet", market, [r["account"] for r in raw], [s for s, _ in asset],
                   [_units(r["collateral_raw"], d) for r, (_, d) in zip(raw, asset)], [0.0] * len(raw),
                   block, when, [None if d is not None else "decimals of the collateral asset: ingest with --rpc"
                                 for _, d in asset])]
    note = None
    if rpc is None:
        named = [r for r in chain_query(con, "comet_accounts_at_block", {"block": block}).to_pylist()
                 if r["base_events"]]
        if named:
            note = (f"comet: base balances need --rpc (Comet's principals and indexes are contract state, not "
                    f"events); {len(named)} base rows written with unknown amounts (flagged in `unknown`)")
            base = [meta.get(r["comet"], (r["comet"], None))[0] for r in named]
            parts.append(_rows("comet", market, [r["account"] for r in named], base, [None] * len(named),
                               [None] * len(named), block, when,
                               ["base supply and borrow: Comet's principals are contract state; snapshot with "
                                "--rpc"] * len(named)))
    else:
        from backtest.ingest.comet import base_balances
        base = base_balances(con, rpc, block, ts).to_pylist()
        info = [meta.get(r["comet"], (r["comet"], None)) for r in base]   # a Comet's row names its base token
        parts.append(_rows("comet", market, [r["account"] for r in base], [s for s, _ in info],
                           [_units(r["supply_raw"], d) for r, (_, d) in zip(base, info)],
                           [_units(r["borrow_raw"], d) for r, (_, d) in zip(base, info)], block, when,
                           [None if d is not None else "decimals of the base asset" for _, d in info]))
    return pa.concat_tables(parts), note


# Dune's (project, version) -> the protocol names of the lake (spellbook's lending sector spells them so).
DUNE_PROTOCOLS = {("aave", "3"): "aave-v3", ("aave", "2"): "aave-v2", ("compound", "2"): "compound-v2"}


def dune_positions(con, block: int, ts: int, market: str) -> tuple[pa.Table, str | None]:
    """Positions from Dune exports (queries/dune_positions_at_block.sql): net principal per owner and token,
    supplies as collateral. A net below 0 is not a balance: its amount is None with the reason in `unknown`."""
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    raw = chain_query(con, "dune_positions_at_block", {"block": block}).to_pylist()
    if not raw:
        return POSITIONS_ROWS.empty_table(), None
    other = sorted({f"{r['project']} v{r['version']}" for r in raw if (r["project"], r["version"]) not in DUNE_PROTOCOLS})
    raw = [r for r in raw if (r["project"], r["version"]) in DUNE_PROTOCOLS]
    coll, debt, why = [], [], []
    for r in raw:
        c, d = _units(r["supplied_raw"], r["decimals"]), _units(r["borrowed_raw"], r["decimals"])
        gaps = [f"{name}: the export's flows net below 0 (interest, or rows before its first block)"
                for name, v in (("collateral", c), ("debt", d)) if v is not None and v < 0]
        if r["decimals"] is None:
            gaps.append("decimals: no row of this token with both amount and amount_raw")
        coll.append(None if c is None or c < 0 else c), debt.append(None if d is None or d < 0 else d)
        why.append("; ".join(gaps) or None)
    table = _rows("", market, [r["account"] for r in raw], [r["symbol"] or r["token_address"] for r in raw],
                  coll, debt, block, when, why)
    table = table.set_column(0, "protocol", pa.array([DUNE_PROTOCOLS[r["project"], r["version"]] for r in raw]))
    note = ("positions from Dune exports are net principal flows: interest is not in them (debt and collateral "
            "understated by what accrued), and every supply counts as collateral")
    if other:
        note += f"; left out (no replay rules): {', '.join(other)}"
    return table, note


# The token an ilk's join adapter holds, where its name does not say it (chainlog.makerdao.com:
# MCD_JOIN_ETH_A/B/C hold WETH); otherwise the ilk's name up to its last dash (WBTC-A -> WBTC).
GEMS = {"ETH": "WETH", "WSTETH": "wstETH", "RETH": "rETH"}


def gem_symbol(ilk_name: str) -> str:
    head = ilk_name.rsplit("-", 1)[0]
    return GEMS.get(head, head)


def maker_positions(con, block: int, ts: int) -> tuple[pa.Table, str | None]:
    """One market per ilk: the urn's gem row (ink, wad) and its DAI row (art x rate / 1e45)."""
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    raw = chain_query(con, "maker_vaults_at_block", {"block": block}).to_pylist()
    accounts, assets, markets, coll, debt, why = [], [], [], [], [], []
    unknown = sorted({r["ilk_name"] for r in raw if r["rate_raw"] is None and r["art_raw"] != "0"})
    for r in raw:
        gem = gem_symbol(r["ilk_name"])
        accounts.append(r["urn"]), assets.append(gem), markets.append(r["ilk_name"])
        coll.append(int(r["ink_raw"]) / 1e18), debt.append(0.0), why.append(None)
        if r["art_raw"] == "0":
            continue
        accounts.append(r["urn"]), assets.append("DAI"), markets.append(r["ilk_name"]), coll.append(0.0)
        if r["debt_rad"] is not None:
            debt.append(int(r["debt_rad"]) / 10**45), why.append(None)   # int / int: one rounding
        else:       # art known, rate not: the debt is unknown, not 0
            debt.append(None), why.append(f"debt: no init({r['ilk_name']}) in the lake, so no rate; ingest the "
                                          "Vat from before the ilk's init")
    note = (f"maker: no init(ilk) in the lake for {', '.join(unknown)}: the rate (and so the debt) is unknown; "
            "those DAI rows are flagged in `unknown`; ingest the Vat from before the ilk's init") if unknown else None
    return _rows("maker", markets, accounts, assets, coll, debt, block, when, why), note


def spark_positions(fork_con, block: int, ts: int, market: str) -> pa.Table:
    """SparkLend (an Aave v3 fork): the Aave v3 positions query over Spark's events, protocol `spark`.
    `fork_con` is connect_chain(lake, fork="spark")."""
    return lake_positions({"spark": chain_query(fork_con, "aave_v3_positions_at_block", {"block": block, "ts": ts})},
                          block, ts, market)


def morpho_blue_positions(con, block: int, ts: int) -> tuple[pa.Table, str | None]:
    """One market per Morpho market id: the borrower's collateral row and loan-token debt row."""
    from backtest.ingest.morpho_blue import positions
    return positions(con, block, ts, _rows)


def with_emode(con, positions: pa.Table, block: int, forks: dict | None = None) -> pa.Table:
    """positions plus `emode_category`: an Aave v3 account's category at `block` (0 if it never set one,
    queries/aave_emode_accounts_at_block.sql); null for the other protocols, which have none.
    `forks`: {protocol: its connect_chain(lake, fork=...)} for Aave v3 forks (spark), read the same way."""
    category = {p: {r["account"]: r["category"]
                    for r in chain_query(c, "aave_emode_accounts_at_block", {"block": block}).to_pylist()}
                for p, c in {"aave-v3": con, **(forks or {})}.items()}
    values = [category[p].get(a, 0) if p in category else None
              for p, a in zip(positions["protocol"].to_pylist(), positions["account"].to_pylist())]
    return positions.append_column("emode_category", pa.array(values, pa.int32()))


def raw_pools(con, block: int, dexes=None) -> dict[str, pa.Table]:
    return {d: chain_query(con, q, {"block": block}) for d, q in POOL_QUERIES.items() if dexes is None or d in dexes}


def _scale(raw: pa.ChunkedArray, decimals: pa.ChunkedArray) -> pa.Array:
    """Exact text integers -> token units, one rounding; None where the amount or the decimals are unknown."""
    return pa.array([_units(v, d) for v, d in zip(raw.to_pylist(), decimals.to_pylist())], pa.float64())


def lake_positions(raw: dict[str, pa.Table], block: int, ts: int, market: str) -> pa.Table:
    """Aave rows in token units. The asset is its symbol, else the reserve's address; an amount the lake
    cannot compute (no ReserveDataUpdated for the reserve yet, decimals unknown without an RPC) is None
    with the reason in `unknown`."""
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    parts = []
    for protocol, t in raw.items():
        if t.num_rows == 0:
            continue
        rows = t.to_pylist()
        for r in rows:
            if r["symbol"] is None and r["asset"] is None:
                raise InputError(f"{protocol}: account {r['account']} holds a token whose reserve is unknown (no "
                                 "asset in contracts): ingest the pool with --rpc (its aTokens' reserves, symbols "
                                 "and decimals are read by eth_call)", file="contracts", column="asset")
        enabled = [bool(r["collateral_enabled"]) for r in rows]
        coll = [_units(r["collateral_raw"], r["decimals"]) if on else 0.0 for r, on in zip(rows, enabled)]
        debt = [_units(r["debt_raw"], r["decimals"]) for r in rows]
        why = []
        for r, on in zip(rows, enabled):
            held = on and r["scaled_collateral"] not in (None, "0")
            owed = r["scaled_debt"] not in (None, "0")
            why.append(_join(
                "decimals of the reserve: ingest the pool with --rpc" if r["decimals"] is None and (held or owed)
                else None,
                f"no ReserveDataUpdated of reserve {r['asset']} at or before the block, so no index"
                if (held and r["collateral_raw"] is None) or (owed and r["debt_raw"] is None) else None))
        # an aToken balance not enabled as collateral backs nothing: 0 above
        parts.append(_rows(protocol, market, [r["account"] for r in rows],
                           [r["symbol"] or r["asset"] for r in rows], coll, debt, block, when, why))
    return pa.concat_tables(parts) if parts else POSITIONS_ROWS.empty_table()


def _pool_unknown(r: dict, v2: bool) -> str | None:
    """What a pool row lacks: token addresses (no RPC at ingest and no factory event in the lake), the
    decimals its v2 reserves need, a v3 pool's fee."""
    fix = "ingest the pool with --rpc, or its factory's creation event (--address factory=0x...)"
    gaps = [c for c, v in (("token0", r["token0"]), ("token1", r["token1"]), ("fee", r["fee"])) if v is None]
    if v2:
        gaps += [f"decimals{i} (reserves)" for i in (0, 1) if r[f"decimals{i}"] is None]
    return f"{', '.join(gaps)}: {fix}" if gaps else None


def lake_pools(raw: dict[str, pa.Table], block: int, ts: int) -> pa.Table:
    """Pools rows: a token is its symbol, else its address; what the lake lacks is None with `unknown` saying
    what (queries/uniswap_v*_pools_at_block.sql take tokens and fee from the factory event when needed)."""
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    parts = []
    for dex, t in raw.items():
        if t.num_rows == 0:
            continue
        n = t.num_rows
        v2 = dex == "uniswap-v2"
        rows = t.to_pylist()
        parts.append(pa.table({
            "dex": pa.array([dex] * n), "pool": t["pool"],
            "token0": pa.array([r["symbol0"] or r["token0"] for r in rows], pa.string()),
            "token1": pa.array([r["symbol1"] or r["token1"] for r in rows], pa.string()),
            "fee": pc.cast(t["fee"], pa.float64()),
            "block_number": pa.array([block] * n, pa.int64()),
            "timestamp": pa.array([when] * n, POOLS.field("timestamp").type),
            "reserve0": _scale(t["reserve0_raw"], t["decimals0"]) if v2 else pa.nulls(n, pa.float64()),
            "reserve1": _scale(t["reserve1_raw"], t["decimals1"]) if v2 else pa.nulls(n, pa.float64()),
            "sqrt_price_x96": pa.nulls(n, pa.string()) if v2 else t["sqrt_price_x96"],
            "tick": pa.nulls(n, pa.int32()) if v2 else pc.cast(t["tick"], pa.int32()),
            "liquidity": pa.nulls(n, pa.string()) if v2 else t["liquidity"],
            "unknown": pa.array([_pool_unknown(r, v2) for r in rows], pa.string()),
        }, schema=POOLS))
    return pa.concat_tables(parts) if parts else POOLS.empty_table()


def account_data(con, source: str, block: int, ts: int) -> pa.Table:
    """getUserAccountData of every account of an Aave market at `block`, from its positions (raw units)."""
    positions = chain_query(con, POSITION_QUERIES[source], {"block": block, "ts": ts})
    con.register("aave_positions_raw", positions)
    try:
        return chain_query(con, "aave_account_data_at_block", {"block": block, "source": source})
    finally:
        con.unregister("aave_positions_raw")
