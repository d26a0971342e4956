"""The shipped sample lake: SYNTHETIC, made by a seeded generator, shaped like real lending markets.

Nothing here is on-chain data. Risk parameters resemble Aave v3/v2, Compound v2, Comet and Maker on Ethereum
(public governance values, rounded); the book's debt-weighted health factors follow a published shape
(backtest/sample/health.py: its source, its target bands, and a floor that keeps every account 2.5 % from
liquidation, so nothing is liquidated before prices move); each volatile collateral has a Uniswap v2 pool against USDC
deep enough to absorb routine flow but not a forced sale of a large share of the book.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

from backtest.lake.io import write_table
from backtest.sample.health import draw_health_factors
from backtest.sample.venues import add_sample_venues

SNAPSHOT_TIME = datetime(2024, 1, 1, tzinfo=timezone.utc)
SNAPSHOT_BLOCK = 18_908_895
SOURCE = "synthetic:sample-generator"

# asset: (address, decimals, ltv, liquidation_threshold, bonus, price at the snapshot)
ASSETS = {
    "WETH":   ("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", 18, 0.805, 0.830, 0.050, 2280.0),
    "WBTC":   ("0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599", 8, 0.730, 0.780, 0.050, 42200.0),
    "wstETH": ("0x7f39C581F595B53c5cb19bD0b3f8dA6c935E2Ca0", 18, 0.785, 0.810, 0.060, 2620.0),
    "USDC":   ("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 6, 0.770, 0.800, 0.045, 1.0),
    "USDT":   ("0xdAC17F958D2ee523a2206206994597C13D831ec7", 6, 0.740, 0.760, 0.045, 1.0),
    "DAI":    ("0x6B175474E89094C44Da98b954EedeAC495271d0F", 18, 0.630, 0.770, 0.050, 1.0),
    "CRV":    ("0xD533a949740bb3306d119CC777fa900bA034cd52", 18, 0.350, 0.410, 0.083, 0.58),
}
PRICE = {a: v[5] for a, v in ASSETS.items()}
# Other protocols' parameters where they differ from Aave v3's (ltv, liquidation_threshold, bonus);
# Compound v2's collateral factor is both its LTV and its threshold, its incentive the bonus.
OTHER_PARAMS = {
    "aave-v2": {"WETH": (0.80, 0.825, 0.05), "WBTC": (0.70, 0.75, 0.065), "wstETH": (0.69, 0.795, 0.075),
                "USDC": (0.80, 0.85, 0.045), "USDT": (0.0, 0.0, 0.0), "DAI": (0.75, 0.80, 0.05),
                "CRV": (0.55, 0.61, 0.08)},
    "compound-v2": {"WETH": (0.825, 0.825, 0.08), "WBTC": (0.70, 0.70, 0.08), "USDC": (0.855, 0.855, 0.08),
                    "USDT": (0.0, 0.0, 0.08), "DAI": (0.835, 0.835, 0.08)},
}
# protocol: (market name, share of accounts, protocol fee, close factor)
PROTOCOLS = {
    "aave-v3": ("ethereum-v3-sample", 0.60, 0.10, 0.5),
    "aave-v2": ("ethereum-v2-sample", 0.20, 0.0, 0.5),
    "compound-v2": ("ethereum-compound-sample", 0.12, 0.028, 0.5),
    "aave-v3.3": ("ethereum-v33-sample", 0.08, 0.10, 0.5),
}
# Comet and Maker, each its own mechanism (backtest/protocols/comet/mechanism.py, maker/mechanism.py); their accounts are drawn
# from a random stream of their own, so the other protocols' accounts do not change with them.
# (ltv, liquidation_threshold, liquidation_bonus) in the markets table's columns:
#   comet: (borrowCollateralFactor, liquidateCollateralFactor, 1 - liquidationFactor) near cUSDCv3's at
#          launch (compound-finance/comet deployments/mainnet/usdc/configuration.json: WETH 0.82 / 0.90 /
#          0.95, WBTC 0.70 / 0.78 / 0.95; the sample's are off by up to 0.01, synthetic); the base asset is not
#          collateral (a borrower has no base supply: Comet keeps one signed balance), so its row is all 0.
#   maker: (1/mat, 1/mat, chop - 1) of ETH-A, WBTC-A, WSTETH-A (mat 1.45, 1.45, 1.50; chop 1.13); DAI is the debt.
MECHANISM_PARAMS = {
    "comet": {"WETH": (0.825, 0.895, 0.05), "WBTC": (0.70, 0.77, 0.05), "USDC": (0.0, 0.0, 0.0)},
    "maker": {"WETH": (1 / 1.45, 1 / 1.45, 0.13), "WBTC": (1 / 1.45, 1 / 1.45, 0.13),
              "wstETH": (1 / 1.50, 1 / 1.50, 0.13), "DAI": (0.0, 0.0, 0.0)},
}
# protocol: (market name, accounts as a share of n_accounts, collateral mix, debt asset)
MECHANISMS = {
    "comet": ("ethereum-comet-usdc-sample", 0.04, {"WETH": .70, "WBTC": .30}, "USDC"),
    "maker": ("ethereum-maker-sample", 0.04, {"WETH": .65, "wstETH": .20, "WBTC": .15}, "DAI"),
}
# Aave v3 e-mode category 1 "ETH correlated" of the Aave v3 Ethereum pool before June 2023: LTV 90 %,
# LT 93 %, bonus 1 % (the "current value" column of governance.aave.com/t/arfc-emode-risk-parameters-
# aave-eth-v3-pool-update/13570). Its accounts loop wstETH against WETH; they are drawn, like Comet's
# and Maker's, from a random stream of their own, as a share of n_accounts split between the protocols.
EMODE_CATEGORY = (1, "ETH correlated", 0.90, 0.93, 0.01)
EMODE_ASSETS = ("WETH", "wstETH")
EMODE_PROTOCOLS = {"aave-v3": 0.02, "aave-v3.3": 0.005}
MAKER_DUST = 7_500.0          # DAI: the smallest vault debt (Vat ilk dust)
ALL_PROTOCOLS = tuple(PROTOCOLS) + tuple(MECHANISMS)
VOLATILE = ("WETH", "WBTC", "wstETH", "CRV")
STABLE = ("USDC", "USDT", "DAI")
# USD depth of each side of the asset/USDC pool
POOL_DEPTH_USD = {"WETH": 500e6, "WBTC": 200e6, "wstETH": 250e6, "CRV": 20e6}
COLLATERAL_MIX = {"WETH": .45, "wstETH": .18, "WBTC": .14, "USDC": .10, "DAI": .04, "USDT": .03, "CRV": .06}
DEBT_VS_VOLATILE = {"USDC": .50, "USDT": .25, "DAI": .15, "WETH": .10}
DEBT_VS_STABLE = {"WETH": .45, "WBTC": .12, "USDC": .15, "USDT": .12, "DAI": .08, "CRV": .08}


def _pick(rng, table: dict, exclude=()) -> str:
    names = [k for k in table if k not in exclude]
    p = np.array([table[k] for k in names])
    return names[rng.choice(len(names), p=p / p.sum())]


def _sig(x: np.ndarray, digits: int = 6) -> np.ndarray:
    """Round to significant digits: keeps the sample small and its numbers readable."""
    with np.errstate(divide="ignore"):
        mag = np.where(x > 0, np.floor(np.log10(np.abs(np.where(x > 0, x, 1.0)))), 0)
    scale = 10.0 ** (digits - 1 - mag)
    return np.round(x * scale) / scale


def protocol_params(protocol: str) -> dict[str, tuple[float, float, float]]:
    """(ltv, liquidation_threshold, bonus) of each asset the protocol lists."""
    base = {a: (v[2], v[3], v[4]) for a, v in ASSETS.items()}
    return OTHER_PARAMS.get(protocol, base)


def markets_table(protocols=ALL_PROTOCOLS) -> pa.Table:
    rows = []
    for protocol in protocols:
        if protocol in MECHANISMS:          # absorb / bark take everything: close factor 1, no fee
            market, fee, close, params = MECHANISMS[protocol][0], 0.0, 1.0, MECHANISM_PARAMS[protocol]
        else:
            (market, _, fee, close), params = PROTOCOLS[protocol], protocol_params(protocol)
        for a, (ltv, lt, bonus) in params.items():
            addr, dec = ASSETS[a][:2]
            rows.append(dict(protocol=protocol, market=market, asset=a, asset_address=addr, decimals=dec, ltv=ltv,
                             liquidation_threshold=lt, liquidation_bonus=bonus, close_factor=close, protocol_fee=fee,
                             supply_cap=None, borrow_cap=None,
                             emode_category=EMODE_CATEGORY[0] if protocol in EMODE_PROTOCOLS and a in EMODE_ASSETS
                             else 0, valid_from_block=16_291_127))
    return pa.Table.from_pylist(rows)


def emode_categories_table(protocols=ALL_PROTOCOLS) -> pa.Table:
    category, label, ltv, lt, bonus = EMODE_CATEGORY
    rows = [dict(protocol=p, market=PROTOCOLS[p][0], category=category, ltv=ltv, liquidation_threshold=lt,
                 liquidation_bonus=bonus, label=label, valid_from_block=16_291_127)
            for p in EMODE_PROTOCOLS if p in protocols]
    return pa.Table.from_pylist(rows)


def emode_positions(rng: np.random.Generator, n_accounts: int, protocols) -> pa.Table:
    """Accounts in e-mode category 1: mostly wstETH supplied against WETH borrowed (the staking loop),
    some the other way round. In e-mode an account borrows up to the category's LTV, so its HF
    starts at or above LT / LTV = 1.033."""
    category, _, ltv, lt, _ = EMODE_CATEGORY
    out = _rows()
    for protocol in (p for p in EMODE_PROTOCOLS if p in protocols):
        n = int(round(n_accounts * EMODE_PROTOCOLS[protocol]))
        hf = lt / ltv * (1.0 + rng.exponential(0.04, n))
        size = np.clip(np.exp(rng.normal(np.log(30000), 1.5, n)), 500, 60e6)
        looped = rng.random(n) < 0.85
        for i in range(n):
            account = "0x" + rng.bytes(20).hex()
            coll, borrowed = ("wstETH", "WETH") if looped[i] else ("WETH", "wstETH")
            rows = [(coll, size[i] / PRICE[coll], 0.0), (borrowed, 0.0, size[i] * lt / hf[i] / PRICE[borrowed])]
            _append(out, protocol, account, rows)
    table = _positions(out, PROTOCOLS)
    return table.append_column("emode_category", pa.array([category] * table.num_rows, pa.int32()))


def positions_table(rng: np.random.Generator, n_accounts: int, protocols=tuple(PROTOCOLS)) -> pa.Table:
    share = np.array([PROTOCOLS[p][1] for p in protocols])
    which = rng.choice(len(protocols), size=n_accounts, p=share / share.sum())
    size = np.clip(np.exp(rng.normal(np.log(6000), 1.7, n_accounts)), 50, 60e6)
    borrower = rng.random(n_accounts) < 0.82
    hf = draw_health_factors(rng, n_accounts)        # debt-weighted as health.TARGET (a published shape)
    accounts = ["0x" + rng.bytes(20).hex() for _ in range(n_accounts)]
    out = _rows()
    for i in range(n_accounts):
        protocol = protocols[which[i]]
        params = protocol_params(protocol)
        lt = {a: v[1] for a, v in params.items()}
        mix = {a: w for a, w in COLLATERAL_MIX.items() if lt.get(a, 0) > 0}
        colls = [_pick(rng, mix)]
        for extra in (0.30, 0.08):
            if rng.random() < extra and len(colls) < len(mix):
                colls.append(_pick(rng, mix, exclude=colls))
        cw = rng.dirichlet(np.ones(len(colls))) * size[i]
        amounts = {a: [w / PRICE[a], 0.0] for a, w in zip(colls, cw)}
        if borrower[i]:
            adjusted = sum(w * lt[a] for a, w in zip(colls, cw))
            table = DEBT_VS_STABLE if all(a in STABLE for a in colls) else DEBT_VS_VOLATILE
            table = {a: w for a, w in table.items() if a in params}
            if set(table) - set(colls):
                debts = [_pick(rng, table, exclude=colls)]
                if rng.random() < 0.2 and set(table) - set(colls) - set(debts):
                    debts.append(_pick(rng, table, exclude=colls + debts))
                for a, w in zip(debts, rng.dirichlet(np.ones(len(debts))) * adjusted / hf[i]):
                    amounts.setdefault(a, [0.0, 0.0])[1] = w / PRICE[a]
        _append(out, protocol, accounts[i], [(a, c, d) for a, (c, d) in amounts.items()])
    return _positions(out, PROTOCOLS)


def mechanism_positions(rng: np.random.Generator, n_accounts: int, protocols) -> pa.Table:
    """Comet borrowers (WETH/WBTC against USDC) and Maker vaults (one ilk each, DAI debt of at least
    dust). HF is drawn as for the other protocols (health.TARGET), but a Comet account starts within its borrow
    limit (HF >= liquidate / borrow collateral factor)."""
    out = _rows()
    for protocol in (p for p in protocols if p in MECHANISMS):
        _, share, mix, debt_asset = MECHANISMS[protocol]
        params = MECHANISM_PARAMS[protocol]
        n = int(round(n_accounts * share))
        hf = draw_health_factors(rng, n)
        size = np.clip(np.exp(rng.normal(np.log(20000 if protocol == "maker" else 8000), 1.5, n)), 200, 60e6)
        for i in range(n):
            account = "0x" + rng.bytes(20).hex()
            colls = [_pick(rng, mix)]
            if protocol == "comet" and rng.random() < 0.2:
                colls.append(_pick(rng, mix, exclude=colls))
            cw = rng.dirichlet(np.ones(len(colls))) * size[i]
            h = hf[i]
            if protocol == "comet":
                h = max(h, max(params[a][1] / params[a][0] for a in colls))
            debt = sum(w * params[a][1] for a, w in zip(colls, cw)) / h
            if protocol == "maker" and debt < MAKER_DUST:          # a vault owes at least dust: scale it up
                cw, debt = cw * MAKER_DUST / debt, MAKER_DUST
            rows = [(a, w / PRICE[a], 0.0) for a, w in zip(colls, cw)] + [(debt_asset, 0.0, debt / PRICE[debt_asset])]
            _append(out, protocol, account, rows)
    return _positions(out, MECHANISMS)


def _rows() -> dict[str, list]:
    return {k: [] for k in ("protocol", "account", "asset", "collateral", "debt")}


def _append(out: dict, protocol: str, account: str, rows: list[tuple[str, float, float]]) -> None:
    """One account's (asset, collateral, debt) rows, in asset order."""
    for a, c, d in sorted(rows):
        out["protocol"].append(protocol); out["account"].append(account); out["asset"].append(a)
        out["collateral"].append(c); out["debt"].append(d)


def _positions(out: dict, markets: dict) -> pa.Table:
    """Accumulated rows -> a positions table at the snapshot; `markets` names each protocol's market."""
    n = len(out["account"])
    return pa.table({
        "protocol": pa.array(out["protocol"], pa.string()),
        "market": pa.array([markets[p][0] for p in out["protocol"]], pa.string()),
        "account": pa.array(out["account"], pa.string()), "asset": pa.array(out["asset"], pa.string()),
        "collateral": _sig(np.array(out["collateral"], dtype=float)), "debt": _sig(np.array(out["debt"], dtype=float)),
        "block_number": pa.array([SNAPSHOT_BLOCK] * n, pa.int64()),
        "timestamp": pa.array([SNAPSHOT_TIME] * n, pa.timestamp("us", tz="UTC")),
    })


def prices_table(rng: np.random.Generator, days: int = 30) -> pa.Table:
    """Hourly synthetic history ending exactly at each asset's snapshot price."""
    hours = days * 24
    times = [SNAPSHOT_TIME - timedelta(hours=hours - 1 - h) for h in range(hours)]
    cols = {k: [] for k in ("asset", "timestamp", "price_usd")}
    for a, v in ASSETS.items():
        vol = 0.0002 if a in STABLE else 0.012
        steps = rng.normal(0, vol, hours)
        path = np.exp(np.cumsum(steps) - np.cumsum(steps)[-1]) * v[5]
        cols["asset"] += [a] * hours; cols["timestamp"] += times; cols["price_usd"] += list(_sig(path))
    n = len(cols["asset"])
    return pa.table({**cols, "source": [SOURCE] * n, "outlier": [False] * n},
                    schema=None).cast(pa.schema([("asset", pa.string()), ("timestamp", pa.timestamp("us", tz="UTC")),
                                                 ("price_usd", pa.float64()), ("source", pa.string()),
                                                 ("outlier", pa.bool_())]))


def pools_table() -> pa.Table:
    rows = []
    for a, depth in POOL_DEPTH_USD.items():
        rows.append(dict(dex="uniswap-v2", pool=f"sample:{a}-USDC", token0=a, token1="USDC", fee=0.003,
                         block_number=SNAPSHOT_BLOCK, timestamp=SNAPSHOT_TIME,
                         reserve0=float(_sig(np.array([depth / ASSETS[a][5]]))[0]), reserve1=depth))
    return pa.Table.from_pylist(rows)


def gas_table(rng: np.random.Generator, days: int = 30) -> pa.Table:
    hours = days * 24
    times = [SNAPSHOT_TIME - timedelta(hours=hours - 1 - h) for h in range(hours)]
    gwei = np.round(np.exp(rng.normal(np.log(25), 0.35, hours)), 2)
    return pa.table({"timestamp": pa.array(times, pa.timestamp("us", tz="UTC")), "gas_price_gwei": gwei})


def write_sample_lake(out: Path, seed: int = 7, n_accounts: int = 50_000,
                      protocols: tuple[str, ...] = ALL_PROTOCOLS) -> dict[str, int]:
    """The whole synthetic lake; `protocols` picks which markets the book spreads over. `n_accounts`
    are spread over the repaying protocols; Comet and Maker add 4 % of that each, Aave v3 and v3.3
    e-mode accounts 2 % and 0.5 %; "morpho-blue" (not in the shipped sample) adds 3 % of borrowers
    over a few isolated markets (backtest/sample/morpho.py)."""
    rng = np.random.default_rng(seed)
    lending = tuple(p for p in protocols if p in PROTOCOLS)
    positions = positions_table(rng, n_accounts, lending) if lending else None
    markets = markets_table(tuple(p for p in protocols if p != "morpho-blue"))
    if "morpho-blue" in protocols:
        from backtest.sample import morpho
        markets = pa.concat_tables([markets, pa.Table.from_pylist(morpho.markets_rows(ASSETS, 16_291_127),
                                                                  schema=markets.schema)])
        extra = morpho.positions_table(morpho.positions(np.random.default_rng([seed, 3]), n_accounts, ASSETS, PRICE),
                                       _sig, SNAPSHOT_BLOCK, SNAPSHOT_TIME)
        positions = extra if positions is None else pa.concat_tables([positions, extra.cast(positions.schema)])
    tables = {"markets": markets, "positions": positions,
              "prices": prices_table(rng), "pools": pools_table(), "gas": gas_table(rng)}
    if any(p in MECHANISMS for p in protocols):
        extra = mechanism_positions(np.random.default_rng([seed, 1]), n_accounts, protocols)
        tables["positions"] = extra if positions is None else pa.concat_tables(
            [positions, extra.cast(positions.schema)])
    if any(p in EMODE_PROTOCOLS for p in protocols):
        emode = emode_positions(np.random.default_rng([seed, 2]), n_accounts, protocols)
        book = tables["positions"]
        if book is not None:        # every other row: emode_category 0
            book = book.append_column("emode_category", pa.array(np.zeros(book.num_rows, np.int32)))
        tables["positions"] = emode if book is None else pa.concat_tables([book, emode.cast(book.schema)])
        tables["emode_categories"] = emode_categories_table(protocols)
    for name, table in tables.items():
        write_table(out, name, table)
    add_sample_venues(out, seed)     # Uniswap v3 pools with ticks and exchange order books
    (Path(out) / "README.md").write_text(
        "# Sample lake (SYNTHETIC)\n\nMade by `backtest sample-data` (seed %d, %d accounts). Not on-chain data: "
        "a book spread over Aave v3 (some accounts in e-mode), Aave v3.3, Aave v2, Compound v2, Comet (Compound v3) "
        "and Maker style markets, "
        "prices, Uniswap v2 and v3 pools, exchange order-book depth curves and gas, for trying the tool.\n"
        % (seed, len(set(tables["positions"]["account"].to_pylist()))))
    return {name: t.num_rows for name, t in tables.items()}
