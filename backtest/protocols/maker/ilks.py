"""Maker ilks in the book: which positions rows are vaults of which ilk, and each collateral reserve's ilk
name (a reserve per ilk: ETH-A, ETH-B and ETH-C all hold WETH)."""

from __future__ import annotations

import numpy as np

from backtest.protocols.maker.params import ilk_name

NO_MARKET = "-"       # a Maker collateral row without a market: its reserve key's last part


def vault_markets(protocols, assets, markets, debt) -> np.ndarray:
    """Per positions row, the market naming its Maker ilk ("" for other rows and for the debt asset,
    DAI, which every ilk shares). Rows of one asset under one market stay one reserve, as before."""
    out = np.full(len(protocols), "", dtype=object)
    maker = protocols == "maker"
    if not maker.any():
        return out
    owed = set(assets[maker & (debt > 0)].tolist()) | {"DAI"}
    vault = maker & ~np.isin(assets, list(owed))
    out[vault] = np.where(markets[vault] == "", NO_MARKET, markets[vault])
    return out


def ilk_names(reserves) -> list[str]:
    """Each Maker collateral reserve's ilk (`ilk_name`), "" for the others."""
    split = {}
    for p, a, _, m in reserves:
        if m and p == "maker":
            split[a] = split.get(a, 0) + 1
    return [ilk_name(a, "" if m == NO_MARKET else m, split[a] > 1) if m and p == "maker" else ""
            for p, a, _, m in reserves]
