"""A hand-made lake for e-mode: Aave v3 WETH and wstETH in category 1 "ETH correlated"
(LTV 0.90, LT 0.93, bonus 0.01), the same position held by an account in e-mode and by one
outside it, deep Uniswap v2 pools against USDC, and a scenario file."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from backtest.lake.io import write_parquet, write_table
from backtest.lake.schemas import EMODE_CATEGORIES

BLOCK = 19_000_000
WHEN = datetime(2024, 1, 1, tzinfo=timezone.utc)
IN_EMODE, OUTSIDE, SAVER = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40
# asset: (ltv, liquidation_threshold, liquidation_bonus, emode_category, price)
MARKETS = {"WETH": (0.80, 0.83, 0.05, 1, 2000.0), "wstETH": (0.78, 0.81, 0.06, 1, 2000.0),
           "USDC": (0.77, 0.80, 0.045, 0, 1.0)}
CATEGORY = dict(protocol="aave-v3", market="m", category=1, ltv=0.90, liquidation_threshold=0.93,
                liquidation_bonus=0.01, label="ETH correlated", valid_from_block=1)


def markets(protocol="aave-v3") -> pa.Table:
    return pa.Table.from_pylist([dict(protocol=protocol, market="m", asset=a, decimals=18, ltv=v[0],
                                      liquidation_threshold=v[1], liquidation_bonus=v[2], close_factor=0.5,
                                      protocol_fee=0.0, emode_category=v[3], valid_from_block=1)
                                 for a, v in MARKETS.items()])


def positions(emode=True, protocol="aave-v3") -> pa.Table:
    """10 wstETH supplied, 9 WETH borrowed, by an account in category 1 and by one in none."""
    rows = [(IN_EMODE, "wstETH", 10.0, 0.0, 1), (IN_EMODE, "WETH", 0.0, 9.0, 1),
            (OUTSIDE, "wstETH", 10.0, 0.0, 0), (OUTSIDE, "WETH", 0.0, 9.0, 0),
            (SAVER, "USDC", 1000.0, 0.0, 0)]
    cols = {"protocol": [protocol] * len(rows), "market": ["m"] * len(rows), "account": [r[0] for r in rows],
            "asset": [r[1] for r in rows], "collateral": [r[2] for r in rows], "debt": [r[3] for r in rows],
            "block_number": pa.array([BLOCK] * len(rows), pa.int64()),
            "timestamp": pa.array([WHEN] * len(rows), pa.timestamp("us", tz="UTC"))}
    if emode:
        cols["emode_category"] = pa.array([r[4] for r in rows], pa.int32())
    return pa.table(cols)


def make_lake(root: Path, emode=True, categories=(CATEGORY,), protocol="aave-v3") -> Path:
    lake = Path(root)
    write_table(lake, "markets", markets(protocol))
    write_table(lake, "positions", positions(emode, protocol))
    write_table(lake, "prices", pa.table({"asset": list(MARKETS),
                                          "timestamp": pa.array([WHEN] * 3, pa.timestamp("us", tz="UTC")),
                                          "price_usd": [v[4] for v in MARKETS.values()], "source": ["hand"] * 3}))
    write_table(lake, "pools", pa.Table.from_pylist([
        dict(dex="uniswap-v2", pool=f"{a}-USDC", token0=a, token1="USDC", fee=0.003, block_number=BLOCK,
             timestamp=WHEN, reserve0=1e9 / 2000.0, reserve1=1e9) for a in ("WETH", "wstETH")]))
    if categories:            # written as a user's file would be: unchecked until read
        write_parquet(pa.Table.from_pylist([dict(c) for c in categories], schema=EMODE_CATEGORIES),
                      lake / "emode_categories" / "categories.parquet")
    return lake


def scenario_file(root: Path, wsteth_move: float) -> Path:
    """Two 10-minute steps: WETH flat, wstETH moved by `wsteth_move` in the first (gas 1 gwei)."""
    path = Path(root) / "emode-scenario.toml"
    path.write_text(f'''name = "emode-scenario"
title = "wstETH moves against WETH"
kind = "stylised"
start = 2024-01-01T00:00:00Z
end = 2024-01-01T00:20:00Z
step_seconds = 600
anchor = "book"

[gas]
gwei = 1

[assets.WETH]
source = "stylised"
legs = [[0.1, 0.0]]

[assets.wstETH]
source = "stylised"
legs = [[0.1, {wsteth_move}]]
''')
    return path
