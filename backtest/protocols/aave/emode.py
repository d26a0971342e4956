"""Aave v3 e-mode in the book: which protocols have categories, the positions checks they need, and
which position rows sit on their category's reserve (the category's LTV, LT and bonus apply there)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backtest.errors import InputError
from backtest.lake.validate import first_rows

EMODE_PROTOCOLS = ("aave-v3", "aave-v3.3", "spark")      # protocols with e-mode categories


def check_positions(path, t: pa.Table) -> None:
    """An account's e-mode is one per account and snapshot, and only Aave v3 has one."""
    cat = t["emode_category"].fill_null(0)
    if not pc.any(pc.not_equal(cat, 0)).as_py():
        return
    in_emode = pc.not_equal(cat, 0).to_numpy(zero_copy_only=False)
    v3 = pc.is_in(t["protocol"], value_set=pa.array(EMODE_PROTOCOLS, pa.string())).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(in_emode & ~v3)
    if bad.size:
        raise InputError(f"{t['protocol'][int(bad[0])].as_py()} has no e-mode categories (only "
                         f"{', '.join(EMODE_PROTOCOLS)})", file=path, column="emode_category", row=int(bad[0]) + 1)
    own = cat.to_numpy(zero_copy_only=False)
    differs = np.flatnonzero(own != own[first_rows(t, ["protocol", "account", "block_number"])])
    if differs.size:
        raise InputError("an account has one e-mode category per snapshot: its rows disagree", file=path,
                         column="emode_category", row=int(differs[0]) + 1)


def rows_in_category(asset_category: dict, protocols, assets, account_emode) -> np.ndarray:
    """Per positions row: its account's e-mode category is its asset's (`asset_category`, (protocol, asset)
    -> category of the markets row in force), so the row belongs on the category's reserve."""
    asset_emode = np.array([asset_category.get((p, a), 0) for p, a in zip(protocols, assets)], dtype=np.int64)
    return (account_emode != 0) & (asset_emode == account_emode)
