"""VaR and LaR over Monte Carlo paths, per parameter set and per market, as Gauntlet defines them.

Gauntlet's risk dashboards (risk.gauntlet.network/faq; "VaR Deepdive", Gauntlet, Jan 2022): VaR
is the 95th percentile, over simulations, of the net insolvent amount (Σ over insolvent accounts
of debt − collateral at the end of a run); LaR the 95th percentile of the amount liquidated.
Here: VaR = p95 over paths of `bad_debt_usd` (accounts' debt − collateral at the end at the
oracle, plus Aave v3.3's burned deficits and Comet's and Maker's losses); LaR = p95 of
`collateral_seized_usd`. A market is a protocol or a collateral asset (the `_by_protocol` and
`_by_collateral` splits, which add up to the totals path by path).

Each is split into what the price path alone causes — the same quantile of the no-feedback run
on the same paths — and what feedback adds: the quantile with feedback minus that one (a
difference of quantiles, not a quantile of differences). A sweep that made the no-feedback run on
some paths only (`--counterfactual-every K`) takes that quantile over those paths
(`paths_without_feedback`); the quantile with feedback stays over all paths. None made: null.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from backtest.sweep.compare import p95

# (measure, column prefix with feedback, without feedback)
MEASURES = (("var", "bad_debt_usd", "bad_debt_usd_without_feedback"),
            ("lar", "collateral_seized_usd", "collateral_seized_usd_without_feedback"))
SPLITS = (("all", ""), ("protocol", "_by_protocol."), ("collateral", "_by_collateral."))

SCHEMA = pa.schema([("set_id", pa.int32()), ("market_kind", pa.string()), ("market", pa.string()),
                    ("paths", pa.int32()), ("paths_without_feedback", pa.int32()),
                    ("var_usd", pa.float64()), ("var_without_feedback_usd", pa.float64()),
                    ("var_added_by_feedback_usd", pa.float64()),
                    ("lar_usd", pa.float64()), ("lar_without_feedback_usd", pa.float64()),
                    ("lar_added_by_feedback_usd", pa.float64())])


def _column(results: pa.Table, name: str, rows: np.ndarray) -> np.ndarray | None:
    if name not in results.column_names:
        return None
    values = results[name].to_numpy(zero_copy_only=False)[rows].astype(float)
    return np.nan_to_num(values, nan=0.0)        # a market absent from a path's book is 0 on that path


def _made(results: pa.Table) -> np.ndarray:
    """Per row: did the no-feedback run happen (its total is not null)?"""
    if "bad_debt_usd_without_feedback" not in results.column_names:
        return np.zeros(results.num_rows, bool)
    return results["bad_debt_usd_without_feedback"].is_valid().to_numpy(zero_copy_only=False)


def _markets(results: pa.Table) -> list[tuple[str, str, str]]:
    """(kind, market, column suffix) for the totals and every market the rows have a column for."""
    out = [("all", "all", "")]
    for kind, infix in SPLITS[1:]:
        prefix = f"bad_debt_usd{infix}"
        out += [(kind, c[len(prefix):], c[len("bad_debt_usd"):]) for c in results.column_names
                if c.startswith(prefix)]
    return out


def _without(name: str, suffix: str) -> str:
    """`bad_debt_usd_by_protocol.X` -> `bad_debt_usd_without_feedback_by_protocol.X`."""
    return f"{name}_without_feedback{suffix}"


def var_lar(results: pa.Table) -> pa.Table:
    """One row per (set, market): VaR and LaR, each with and without feedback and the difference.
    Without a no-feedback run in the rows (a sweep with --no-feedback) those columns are null."""
    set_ids = results["set_id"].to_numpy()
    made = _made(results)
    rows = []
    for sid in np.unique(set_ids).tolist():
        mine = np.flatnonzero(set_ids == sid)
        mine_made = np.flatnonzero((set_ids == sid) & made)
        for kind, market, suffix in _markets(results):
            row = {"set_id": sid, "market_kind": kind, "market": market, "paths": len(mine),
                   "paths_without_feedback": len(mine_made) if made.any() else None}
            for measure, name, _ in MEASURES:
                with_fb = _column(results, f"{name}{suffix}", mine)
                without = _column(results, _without(name, suffix), mine_made) if len(mine_made) else None
                q = p95(with_fb) if with_fb is not None else None
                q0 = p95(without) if without is not None else None
                row[f"{measure}_usd"] = q
                row[f"{measure}_without_feedback_usd"] = q0
                row[f"{measure}_added_by_feedback_usd"] = q - q0 if q is not None and q0 is not None else None
            rows.append(row)
    return pa.Table.from_pylist(rows, schema=SCHEMA)
