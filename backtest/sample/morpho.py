"""A few SYNTHETIC Morpho Blue markets for the sample lake (`backtest sample-data --morpho`): isolated
markets over the sample's own assets, so their liquidators sell into the sample's venues.

Market ids are computed as the contract does from (loan token, collateral token, oracle, IRM, LLTV) with
the sample's token addresses, Morpho's AdaptiveCurveIrm on Ethereum (docs.morpho.org addresses page) and
a zero oracle address (the sample has no oracle contracts): labels of synthetic markets, not mainnet ones.
LLTVs 86 % and 94.5 % are among the values Morpho's governance enabled (their incentive factors 1.0438
and 1.0168); which markets and how much is borrowed in each is made up.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from backtest.protocols.morpho_blue import MarketParams, exact
from backtest.protocols.morpho_blue.params import WAD

ADAPTIVE_CURVE_IRM = "0x870aC11D48B15DB9a138Cf899d20F13F79Ba00BC"
ZERO = "0x" + "00" * 20
# (collateral, loan, LLTV in 1e-3, share of the Morpho borrowers)
MARKETS = (("WETH", "USDC", 860, 0.40), ("WBTC", "USDC", 860, 0.25), ("wstETH", "WETH", 945, 0.25),
           ("WETH", "USDT", 915, 0.10))
SHARE = 0.03              # Morpho borrowers as a share of n_accounts


def market_ids(assets: dict) -> list[str]:
    return [MarketParams(assets[loan][0], assets[coll][0], ZERO, ADAPTIVE_CURVE_IRM, lltv * 10**15).id
            for coll, loan, lltv, _ in MARKETS]


def markets_rows(assets: dict, valid_from_block: int) -> list[dict]:
    """Two rows per market, as `backtest snapshot` writes them: the collateral (LLTV, incentive - 1) and
    the loan token (backs nothing there)."""
    rows = []
    for mid, (coll, loan, lltv, _) in zip(market_ids(assets), MARKETS):
        bonus = exact.liquidation_incentive_factor(lltv * 10**15) / WAD - 1.0
        for asset, lt, b in ((coll, lltv / 1000, bonus), (loan, 0.0, 0.0)):
            rows.append(dict(protocol="morpho-blue", market=mid, asset=asset, asset_address=assets[asset][0],
                             decimals=assets[asset][1], ltv=lt, liquidation_threshold=lt, liquidation_bonus=b,
                             close_factor=1.0, protocol_fee=0.0, supply_cap=None, borrow_cap=None, emode_category=0,
                             valid_from_block=valid_from_block))
    return rows


def positions(rng: np.random.Generator, n_accounts: int, assets: dict, price: dict) -> dict[str, list]:
    """(protocol, market, account, asset, collateral, debt) columns: one collateral row and one debt row
    per borrower and market; a fifth of the borrowers also borrow in a second market."""
    ids = market_ids(assets)
    n = max(int(round(n_accounts * SHARE)), len(MARKETS))
    share = np.array([m[3] for m in MARKETS])
    which = rng.choice(len(MARKETS), size=n, p=share / share.sum())
    tail = rng.random(n) < 0.15
    hf = np.maximum(np.where(tail, 1.0 + rng.exponential(0.05, n), 1.0 + np.exp(rng.normal(np.log(0.15), 0.6, n))),
                    1.002)
    size = np.clip(np.exp(rng.normal(np.log(40000), 1.6, n)), 500, 80e6)
    out = {k: [] for k in ("protocol", "market", "account", "asset", "collateral", "debt")}
    accounts = ["0x" + rng.bytes(20).hex() for _ in range(n)]
    second = rng.random(n) < 0.2
    for i in range(n):
        for k in {int(which[i]), int((which[i] + 1) % len(MARKETS))} if second[i] else {int(which[i])}:
            coll, loan, lltv, _ = MARKETS[k]
            debt_usd = size[i] * lltv / 1000 / hf[i]
            for asset, c, d in ((coll, size[i] / price[coll], 0.0), (loan, 0.0, debt_usd / price[loan])):
                out["protocol"].append("morpho-blue"); out["market"].append(ids[k]); out["account"].append(accounts[i])
                out["asset"].append(asset); out["collateral"].append(c); out["debt"].append(d)
    return out


def positions_table(out: dict, sig, block: int, when) -> pa.Table:
    n = len(out["account"])
    return pa.table({
        "protocol": pa.array(out["protocol"], pa.string()), "market": pa.array(out["market"], pa.string()),
        "account": pa.array(out["account"], pa.string()), "asset": pa.array(out["asset"], pa.string()),
        "collateral": sig(np.array(out["collateral"], dtype=float)), "debt": sig(np.array(out["debt"], dtype=float)),
        "block_number": pa.array([block] * n, pa.int64()),
        "timestamp": pa.array([when] * n, pa.timestamp("us", tz="UTC")),
    })
