"""Row checks for each lake table: the first bad value is reported by file, column and row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backtest.errors import InputError


def _num(table: pa.Table, col: str) -> np.ndarray:
    return table[col].to_numpy(zero_copy_only=False).astype(float)


def _first(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def _check(table, source, col, bad: np.ndarray, what: str):
    row = _first(bad)
    if row is not None:
        value = table[col][row].as_py()
        raise InputError(f"{what} (found {value!r})", file=source, column=col, row=row + 1)


def _not_null(table, source, cols, unknown=None):
    """Empty values are refused, except on rows whose `unknown` column says what the lake lacks."""
    for col in cols:
        empty = np.asarray(pc.is_null(table[col]))
        if unknown is not None:
            _check(table, source, col, empty & ~unknown, "must not be empty (or the row's `unknown` says why)")
        else:
            _check(table, source, col, empty, "must not be empty")


def unknown_rows(table) -> np.ndarray:
    """[N] rows whose `unknown` column names something the lake could not compute (their amounts are null)."""
    if "unknown" not in table.column_names:
        return np.zeros(table.num_rows, bool)
    return ~np.asarray(pc.is_null(table["unknown"]))


def _finite(table, source, col, *, low=None, strict=False, high=None, unknown=None):
    v = _num(table, col)
    with np.errstate(invalid="ignore"):
        absent = np.asarray(pc.is_null(table[col])) & (unknown if unknown is not None else False)
        _check(table, source, col, ~np.isfinite(v) & ~absent,
               "must be a finite number" + (" (or the row's `unknown` says why)" if unknown is not None else ""))
        if low is not None:
            bad = v <= low if strict else v < low
            _check(table, source, col, bad, f"must be {'>' if strict else '>='} {low}")
        if high is not None:
            _check(table, source, col, v > high, f"must be <= {high}")


def validate_prices(t: pa.Table, source):
    _not_null(t, source, ["asset", "timestamp", "price_usd"])
    _finite(t, source, "price_usd", low=0, strict=True)


def validate_positions(t: pa.Table, source):
    _not_null(t, source, ["protocol", "account", "asset", "block_number", "timestamp"])
    unknown = unknown_rows(t)
    _finite(t, source, "collateral", low=0, unknown=unknown)
    _finite(t, source, "debt", low=0, unknown=unknown)
    _category(t, source, "emode_category", low=0)


def _category(t, source, col, low):
    """An e-mode category id is a uint8 on chain (setUserEMode(uint8)); null reads as 0."""
    v = t[col].fill_null(0).to_numpy(zero_copy_only=False)
    _check(t, source, col, (v < low) | (v > 255), f"must be an e-mode category within {low}..255")


def validate_emode_categories(t: pa.Table, source):
    """PoolConfigurator.setEModeCategory's checks: ltv <= lt, lt * (1 + bonus) <= 1; the table's
    bonus is the extra (0.01), the contract's 10100."""
    _not_null(t, source, ["protocol", "category", "valid_from_block"])
    _category(t, source, "category", low=1)
    _finite(t, source, "ltv", low=0, high=1)
    _finite(t, source, "liquidation_threshold", low=0, strict=True, high=1)
    _finite(t, source, "liquidation_bonus", low=0)
    lt, bonus, ltv = _num(t, "liquidation_threshold"), _num(t, "liquidation_bonus"), _num(t, "ltv")
    _check(t, source, "liquidation_threshold", lt < ltv, "must be >= ltv")
    _check(t, source, "liquidation_bonus", lt * (1 + bonus) > 1 + 1e-12,
           "liquidation_threshold * (1 + liquidation_bonus) must be <= 1")
    _check(t, source, "category", repeats(t, ["protocol", "category", "valid_from_block"]),
           "duplicated (protocol, category, valid_from_block)")


def first_rows(t: pa.Table, keys: list[str]) -> np.ndarray:
    """[N] the index of the first row with each row's key: one arrow hash group-by, no text keys."""
    rows = t.select(keys).append_column("_row", pa.array(np.arange(t.num_rows, dtype=np.int64)))
    groups = rows.group_by(keys, use_threads=False).aggregate([("_row", "min"), ("_row", "list")])
    members = groups["_row_list"].combine_chunks()
    first = np.empty(t.num_rows, dtype=np.int64)
    first[members.flatten().to_numpy()] = np.repeat(groups["_row_min"].to_numpy(),
                                                    pc.list_value_length(members).to_numpy())
    return first


def repeats(t: pa.Table, keys: list[str]) -> np.ndarray:
    """True where an earlier row already had the same key."""
    return first_rows(t, keys) != np.arange(t.num_rows)


def validate_markets(t: pa.Table, source):
    _not_null(t, source, ["protocol", "asset", "valid_from_block"])
    _not_null(t, source, ["decimals"], unknown_rows(t))
    _finite(t, source, "ltv", low=0, high=1)
    _finite(t, source, "liquidation_threshold", low=0, high=1)
    _finite(t, source, "liquidation_bonus", low=0, high=1)
    lt, bonus, ltv = _num(t, "liquidation_threshold"), _num(t, "liquidation_bonus"), _num(t, "ltv")
    _check(t, source, "ltv", ltv > lt, "ltv must not exceed liquidation_threshold")
    # PoolConfigurator.configureReserveAsCollateral: threshold.percentMul(bonus) <= 100%, else a
    # liquidation at HF just below 1 would seize more collateral than the account holds.
    _check(t, source, "liquidation_bonus", lt * (1 + bonus) > 1 + 1e-12,
           "liquidation_threshold * (1 + liquidation_bonus) must be <= 1")
    for col in ("close_factor", "protocol_fee"):
        v = _num(t, col)
        present = ~np.isnan(v)
        _check(t, source, col, present & ((v < 0) | (v > 1)), "must be within [0, 1]")
    _category(t, source, "emode_category", low=0)


def validate_pools(t: pa.Table, source):
    unknown = unknown_rows(t)
    _not_null(t, source, ["dex", "pool", "block_number"])
    _not_null(t, source, ["token0", "token1"], unknown)
    _finite(t, source, "fee", low=0, high=0.5, unknown=unknown)
    v2 = np.asarray(pc.equal(t["dex"], "uniswap-v2").fill_null(False))
    for col in ("reserve0", "reserve1"):
        r = _num(t, col)
        with np.errstate(invalid="ignore"):
            _check(t, source, col, v2 & ~(r > 0) & ~(unknown & np.isnan(r)),
                   "a uniswap-v2 pool needs positive reserves (empty pool)")


def validate_gas(t: pa.Table, source):
    _not_null(t, source, ["timestamp", "gas_price_gwei"])
    _finite(t, source, "gas_price_gwei", low=0)


def validate_none(t: pa.Table, source):
    return None


VALIDATORS = {
    "prices": validate_prices,
    "positions": validate_positions,
    "markets": validate_markets,
    "pools": validate_pools,
    "gas": validate_gas,
    "emode_categories": validate_emode_categories,
    "pool_ticks": validate_none,
    "logs": validate_none,
}


class UnknownAmountsWarning(UserWarning):
    """Positions rows whose amounts the lake could not compute were left out (their accounts whole)."""


def drop_unknown(t: pa.Table, source) -> pa.Table:
    """`t` without the accounts (protocol, market, account, block) that have a row flagged in `unknown`:
    an account missing one amount would get a wrong health factor, so it is left out whole, with a
    warning naming how many and the first reason (never replayed as if the amount were 0)."""
    flagged = unknown_rows(t)
    if not flagged.any():
        return t
    keys = ["protocol", "market", "account", "block_number"]
    bad = t.filter(pa.array(flagged)).select(keys).group_by(keys).aggregate([])
    marked = t.select(keys).append_column("_row", pa.array(np.arange(t.num_rows)))
    hit = marked.join(bad, keys, join_type="inner")["_row"].to_numpy()
    keep = np.ones(t.num_rows, bool)
    keep[hit] = False
    first = int(np.flatnonzero(flagged)[0])
    row = {k: t[k][first].as_py() for k in ("protocol", "account", "asset", "unknown")}
    import warnings
    warnings.warn(UnknownAmountsWarning(
        f"{source}: {bad.num_rows} accounts left out ({int((~keep).sum())} rows): amounts the lake cannot compute, "
        f"e.g. {row['protocol']} {row['account']} {row['asset']}: {row['unknown']} (all in the `unknown` column)"),
        stacklevel=2)
    return t.filter(pa.array(keep))
