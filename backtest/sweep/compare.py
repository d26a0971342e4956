"""The comparison table: each parameter set against the baseline (set 0), path by path.

Every set runs on the same paths (path i is the same draw for all sets), so differences are
paired. For each metric: the mean over paths, the 95th percentile (for bad debt, the 95 % VaR
in the sense risk teams use: the loss exceeded on 5 % of paths), and both as changes from the
baseline; plus the probability of any bad debt. With one historical path, mean and p95 are
that path's value. `cascade_depth` needs the no-feedback run: a sweep that made it on some paths
only summarises it over those (`counterfactual_paths` says how many), on none gives null.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

COMPARED = ("bad_debt_usd", "liquidations", "cascade_depth", "collateral_seized_usd")
QUANTILE = 95


def p95(x: np.ndarray) -> float:
    """numpy's default (linear) interpolation between order statistics."""
    return float(np.percentile(x, QUANTILE)) if len(x) else float("nan")


def summarise(values: np.ndarray, baseline: np.ndarray) -> dict:
    """Mean and p95 of one metric over paths, and their changes from the baseline's. A path where
    either has no value (NaN: a metric the sweep did not compute there, `--counterfactual-every`)
    is left out of both, so the pairs stay paired; no value on any path gives None, never 0."""
    if np.isnan(values).any() or np.isnan(baseline).any():
        both = ~np.isnan(values) & ~np.isnan(baseline)
        if not both.any():
            return dict.fromkeys(("mean", "p95", "delta_mean", "delta_p95"))
        values, baseline = values[both], baseline[both]
    return {"mean": float(np.mean(values)), "p95": p95(values),
            "delta_mean": float(np.mean(values - baseline)), "delta_p95": p95(values) - p95(baseline)}


def prob_bad_debt(bad_debt: np.ndarray) -> float:
    return float(np.mean(bad_debt > 0)) if len(bad_debt) else float("nan")


def compare(results: pa.Table, grid_keys: list[str]) -> pa.Table:
    """One row per parameter set; `results` holds one row per (set, path), sorted."""
    set_ids = results["set_id"].to_numpy()
    base_rows = results.filter(pc.equal(results["set_id"], 0))
    base = {m: base_rows[m].to_numpy(zero_copy_only=False).astype(float) for m in COMPARED}
    partial = results["cascade_depth"].null_count > 0     # the no-feedback run skipped on some paths
    rows = []
    for sid in np.unique(set_ids).tolist():
        part = results.filter(pc.equal(results["set_id"], sid))
        row = {"set_id": sid, **{k: part[k][0].as_py() for k in grid_keys}, "paths": part.num_rows}
        if partial:
            row["counterfactual_paths"] = part.num_rows - part["cascade_depth"].null_count
        for m in COMPARED:
            vals = part[m].to_numpy(zero_copy_only=False).astype(float)
            for stat, v in summarise(vals, base[m]).items():
                name = f"{m}_{stat}" if not stat.startswith("delta") else f"delta_{m}_{stat[6:]}"
                row[name] = v
        row["prob_bad_debt"] = prob_bad_debt(part["bad_debt_usd"].to_numpy().astype(float))
        row["delta_prob_bad_debt"] = row["prob_bad_debt"] - prob_bad_debt(base["bad_debt_usd"])
        rows.append(row)
    schema = pa.schema([results.schema.field("set_id")] + [results.schema.field(k) for k in grid_keys]
                       + [pa.field("paths", pa.int32())]
                       + [pa.field("counterfactual_paths", pa.int32())] * partial
                       + [pa.field(k, pa.float64()) for k in rows[0]
                          if k not in ["set_id", "paths", "counterfactual_paths", *grid_keys]])
    return pa.Table.from_pylist(rows, schema=schema)


def _count(v: float) -> str:
    """A mean count: whole when it is (one path, or paths that agree), else to a tenth."""
    return f"{v:,.0f}" if v == round(v) else f"{v:,.1f}"


def _signed_count(v: float) -> str:
    return f"{v:+,.0f}" if v == round(v) else f"{v:+,.1f}"


def _show(fmt, v) -> str:
    return fmt(v) if callable(fmt) else fmt.format(v)


def render(comparison: pa.Table, grid_keys: list[str]) -> str:
    """A terminal table: one line per set, baseline first."""
    cols = [("set", "set_id", "{}")] + [(k, k, "{}") for k in grid_keys] + [
        ("bad debt mean", "bad_debt_usd_mean", "${:,.0f}"), ("bad debt p95", "bad_debt_usd_p95", "${:,.0f}"),
        ("P(bad debt)", "prob_bad_debt", "{:.0%}"), ("Δ bad debt", "delta_bad_debt_usd_mean", "${:+,.0f}"),
        ("liquidations", "liquidations_mean", _count), ("Δ liq.", "delta_liquidations_mean", _signed_count),
        ("seized", "collateral_seized_usd_mean", "${:,.0f}"), ("depth", "cascade_depth_mean", "{:.2f}"),
        ("Δ depth", "delta_cascade_depth_mean", "{:+.2f}")]
    from backtest.console import table
    data = comparison.to_pydict()
    rows = [[("-" if data[c][i] is None else _show(f, data[c][i])) if c != "set_id" or data[c][i] else "baseline"
             for _, c, f in cols] for i in range(comparison.num_rows)]
    head = [h for h, _, _ in cols]
    return table(head, rows, right=head)
