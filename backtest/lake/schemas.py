"""Arrow schemas of the lake tables; the names the rest of the code and the tests rely on.

Amounts are token units (float64) unless a column ends in `_raw` or holds a uint160/uint128
on-chain value (decimal strings: they overflow DECIMAL(38)). Times are UTC.
"""

from __future__ import annotations

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")

# cryo's `logs` dataset, exactly (crates/freeze/src/datasets/logs.rs): binary columns, u32 numbers.
LOGS = pa.schema([
    ("block_number", pa.uint32()),
    ("transaction_index", pa.uint32()),
    ("log_index", pa.uint32()),
    ("transaction_hash", pa.binary()),
    ("address", pa.binary()),
    ("topic0", pa.binary()),
    ("topic1", pa.binary()),
    ("topic2", pa.binary()),
    ("topic3", pa.binary()),
    ("data", pa.binary()),
    ("n_data_bytes", pa.uint32()),
    ("chain_id", pa.uint64()),
])

MARKETS = pa.schema([
    ("protocol", pa.string()),           # aave-v3, aave-v2, compound-v2, comet, maker
    ("market", pa.string()),             # e.g. ethereum-main; Maker: the ilk (ETH-A), a reserve of its own
    ("asset", pa.string()),              # symbol used everywhere else (WETH, USDC, ...)
    ("asset_address", pa.string()),
    ("decimals", pa.int32()),
    ("ltv", pa.float64()),
    ("liquidation_threshold", pa.float64()),
    ("liquidation_bonus", pa.float64()),  # 0.05 = 5% extra collateral
    ("close_factor", pa.float64()),
    ("protocol_fee", pa.float64()),       # share of the bonus that goes to the treasury
    ("supply_cap", pa.float64()),
    ("borrow_cap", pa.float64()),
    ("emode_category", pa.int32()),
    ("valid_from_block", pa.int64()),
    ("unknown", pa.string()),            # what the lake lacks for this row (decimals: those columns are null)
])

POSITIONS = pa.schema([
    ("protocol", pa.string()),
    ("market", pa.string()),             # Maker: the vault's ilk (ETH-A); its markets row has the same market
    ("account", pa.string()),
    ("asset", pa.string()),
    ("collateral", pa.float64()),
    ("debt", pa.float64()),
    ("block_number", pa.int64()),
    ("timestamp", UTC_TS),
])
# The lake's positions schema adds optional columns after the core ones above (what the ingest
# builders construct tables with); a file without them reads as nulls.
POSITIONS_LAKE = pa.schema(list(POSITIONS) + [
    ("emode_category", pa.int32()),      # the account's Aave v3 e-mode category; null or 0 = none
    ("unknown", pa.string()),            # what the lake could not compute for this row (its amount is null)
])

# Aave v3 e-mode categories (DataTypes.EModeCategory): an asset whose markets row has
# emode_category k uses these values for an account in category k (docs/engine.md).
EMODE_CATEGORIES = pa.schema([
    ("protocol", pa.string()),           # aave-v3, aave-v3.3
    ("market", pa.string()),
    ("category", pa.int32()),            # 1..255 (uint8 on chain; 0 means no e-mode)
    ("ltv", pa.float64()),
    ("liquidation_threshold", pa.float64()),
    ("liquidation_bonus", pa.float64()),  # 0.01 = 1% extra collateral
    ("label", pa.string()),
    ("valid_from_block", pa.int64()),
])

PRICES = pa.schema([
    ("asset", pa.string()),
    ("timestamp", UTC_TS),
    ("price_usd", pa.float64()),
    ("source", pa.string()),
    ("outlier", pa.bool_()),              # kept, never silently used as an oracle price
    # A bar's range (Binance klines, OHLCV files): `timestamp` is the bar's END, `price_usd` its
    # close, and the bar began `bar_seconds` earlier. Null for point prices (CoinGecko, Chainlink,
    # ratios) and in lakes written before these columns existed: those read as closes only.
    ("open", pa.float64()),
    ("high", pa.float64()),
    ("low", pa.float64()),
    ("volume", pa.float64()),
    ("bar_seconds", pa.int32()),
])

POOLS = pa.schema([
    ("dex", pa.string()),                 # uniswap-v2, uniswap-v3
    ("pool", pa.string()),
    ("token0", pa.string()),
    ("token1", pa.string()),
    ("fee", pa.float64()),                # 0.003 = 30 bps
    ("block_number", pa.int64()),
    ("timestamp", UTC_TS),
    ("reserve0", pa.float64()),           # v2
    ("reserve1", pa.float64()),
    ("sqrt_price_x96", pa.string()),      # v3, uint160 as decimal text
    ("tick", pa.int32()),
    ("liquidity", pa.string()),           # v3, uint128 as decimal text
    ("unknown", pa.string()),             # what the lake lacks for this row (those columns are null)
])

POOL_TICKS = pa.schema([
    ("pool", pa.string()),
    ("block_number", pa.int64()),
    ("tick", pa.int32()),
    ("liquidity_net", pa.string()),       # int128 as decimal text
])

GAS = pa.schema([
    ("timestamp", UTC_TS),
    ("gas_price_gwei", pa.float64()),
])

SCHEMAS: dict[str, pa.Schema] = {
    "logs": LOGS,
    "markets": MARKETS,
    "positions": POSITIONS_LAKE,
    "prices": PRICES,
    "pools": POOLS,
    "pool_ticks": POOL_TICKS,
    "gas": GAS,
    "emode_categories": EMODE_CATEGORIES,
}

# Columns a file must have; the rest may be absent and are filled with nulls.
REQUIRED: dict[str, tuple[str, ...]] = {
    "logs": ("block_number", "log_index", "address", "topic0", "data"),
    "markets": ("protocol", "asset", "decimals", "ltv", "liquidation_threshold", "liquidation_bonus",
                "valid_from_block"),
    "positions": ("protocol", "account", "asset", "collateral", "debt", "block_number", "timestamp"),
    "prices": ("asset", "timestamp", "price_usd"),
    "pools": ("dex", "pool", "token0", "token1", "fee", "block_number"),
    "pool_ticks": ("pool", "block_number", "tick", "liquidity_net"),
    "gas": ("timestamp", "gas_price_gwei"),
    "emode_categories": ("protocol", "category", "ltv", "liquidation_threshold", "liquidation_bonus",
                         "valid_from_block"),
}
