"""The report's tables as data frames: headline metrics, run-vs-run comparison, parameter diff.

Kept apart from the HTML and Markdown writers so both show the same numbers.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from backtest.config import RunConfig

# (metrics.json key, label, kind); kind picks the number format.
HEADLINE = (
    ("accounts", "accounts in the book", "int"),
    ("accounts_with_debt", "accounts borrowing", "int"),
    ("collateral_usd_start", "collateral at the start", "usd"),
    ("debt_usd_start", "debt at the start", "usd"),
    ("liquidations", "liquidations", "int"),
    ("accounts_liquidated", "accounts liquidated", "int"),
    ("debt_repaid_usd", "debt repaid", "usd"),
    ("collateral_seized_usd", "collateral seized", "usd"),
    ("collateral_seized_usd_without_feedback", "collateral seized without price impact", "usd"),
    ("amplification", "amplification (seized with / without feedback, at exogenous prices)", "ratio"),
    ("amplification_execution_cost", "  of which execution cost (slippage, no price move)", "ratio"),
    ("amplification_price_feedback", "  of which price feedback (sales move prices)", "ratio"),
    ("cascade_depth", "cascade depth (consecutive steps with induced liquidations)", "int"),
    ("induced_liquidations", "induced liquidations (none without feedback by then)", "int"),
    ("cascade_rounds", "cascade rounds (largest round within a step)", "int"),
    ("liquidator_profit_usd", "liquidator profit after gas and swaps", "usd"),
    ("gas_usd", "gas paid", "usd"),
    ("protocol_fee_usd", "protocol fee", "usd"),
    ("keeper_profit_usd", "keepers' profit (buyCollateral, take)", "usd"),
    ("borrower_loss_usd", "borrowers' loss (bonus, penalty, auction slippage)", "usd"),
    ("peak_bad_debt_usd", "peak bad debt", "usd"),
    ("peak_bad_debt_at", "peak bad debt at", "text"),
    ("bad_debt_usd", "bad debt at the end", "usd"),
    ("bad_debt_usd_without_feedback", "bad debt at the end without price impact", "usd"),
    ("bad_debt_added_by_execution_cost_usd", "  added by execution cost", "signed_usd"),
    ("bad_debt_added_by_price_feedback_usd", "  added by price feedback", "signed_usd"),
    ("accounts_with_bad_debt", "accounts with bad debt", "int"),
    ("deficit_usd", "deficit (debt left with no collateral)", "usd"),
    ("first_bad_debt_at", "first bad debt at", "text"),
    ("time_under_water_seconds", "time under water (first bad debt to recovery, or to the end)", "hours"),
    ("bad_debt_recovered_at", "bad debt recovered at", "text"),
)
FORMATS = {k: kind for k, _, kind in HEADLINE}


def fmt(value, kind: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if kind == "usd":
        return f"${value:,.0f}"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "ratio":
        return f"{value:.3f}"
    if kind == "hours":
        return f"{value / 3600:,.1f} h"
    if kind == "times":
        return f"{value:,.2f}×"
    if kind == "pct":
        return f"{value:+.1%}"
    if kind == "prob":
        return f"{value:.0%}"
    if kind == "signed_usd":
        return f"{'+' if value >= 0 else '-'}${abs(value):,.0f}"
    if kind == "signed":
        return f"{value:+,.2f}"
    if kind == "float":
        return f"{value:,.2f}"
    if kind == "param" and isinstance(value, float):
        return f"{value:g}"
    return str(value)


def headline(metrics: dict) -> pd.DataFrame:
    rows = [(label, fmt(metrics.get(key), kind)) for key, label, kind in HEADLINE if key in metrics]
    return pd.DataFrame(rows, columns=["metric", "value"])


def by_protocol(metrics: dict) -> pd.DataFrame:
    """Per protocol: liquidations, bad debt at the end, borrowers' loss (empty for an older metrics.json)."""
    bad, lost = metrics.get("bad_debt_usd_by_protocol"), metrics.get("borrower_loss_by_protocol", {})
    if bad is None:
        return pd.DataFrame()
    count = metrics.get("liquidations_by_protocol", {})
    rows = [(p, fmt(count.get(p, 0), "int"), fmt(bad[p], "usd"), fmt(lost.get(p, 0.0), "usd")) for p in sorted(bad)]
    return pd.DataFrame(rows, columns=["protocol", "liquidations", "bad debt at the end", "borrowers' loss"])


def by_asset(metrics: dict) -> pd.DataFrame:
    """Per asset: bad debt credited to it as collateral and as debt, what was sold into its market
    against the venues' 2 % depth and its daily volume."""
    coll, debt = metrics.get("bad_debt_usd_by_collateral"), metrics.get("bad_debt_usd_by_debt_asset")
    if coll is None or debt is None:
        return pd.DataFrame()
    volume = metrics.get("volume_by_asset", {})
    assets = sorted(set(coll) | set(debt) | set(volume))
    rows = []
    for a in assets:
        v = volume.get(a, {})
        if not (coll.get(a, 0) >= 0.5 or debt.get(a, 0) >= 0.5 or v):
            continue
        rows.append((a, fmt(coll.get(a, 0.0), "usd"), fmt(debt.get(a, 0.0), "usd"), fmt(v.get("sold_usd"), "usd"),
                     fmt(v.get("sold_over_depth_2pct"), "times"), fmt(v.get("sold_over_daily_volume"), "times")))
    return pd.DataFrame(rows, columns=["asset", "bad debt (as collateral)", "bad debt (as debt)", "sold",
                                       "sold / 2 % depth", "sold / daily volume"])


def drawdowns(metrics: dict) -> pd.DataFrame:
    exo, eff = metrics.get("max_drawdown_exogenous", {}), metrics.get("max_drawdown_effective", {})
    rows = [(a, f"{exo[a]:.1%}", f"{eff.get(a, 0.0):.1%}") for a in sorted(exo)
            if exo[a] > 0.005 or eff.get(a, 0.0) > 0.005]
    return pd.DataFrame(rows, columns=["asset", "exogenous drawdown", "effective drawdown (market)"])


def relative_change(base, other) -> float | None:
    """(other - base) / |base|; None when the base is zero or either side is missing (no honest %)."""
    if not isinstance(base, (int, float)) or not isinstance(other, (int, float)) or base == 0:
        return None
    return (other - base) / abs(base)


def comparison(names: list[str], metrics: list[dict]) -> pd.DataFrame:
    """Metric rows, one column per run (the first is the baseline), then Δ% of each other run vs it."""
    keys = [(k, label, kind) for k, label, kind in HEADLINE if any(k in m for m in metrics)]
    rows = []
    for key, label, kind in keys:
        row = {"metric": label}
        for name, m in zip(names, metrics):
            row[name] = fmt(m.get(key), kind)
        for name, m in zip(names[1:], metrics[1:]):
            change = relative_change(metrics[0].get(key), m.get(key)) if kind in ("usd", "int", "ratio") else None
            row[f"Δ {name}"] = fmt(change, "pct")
        rows.append(row)
    return pd.DataFrame(rows)


def flat_config(config: RunConfig) -> dict[str, object]:
    """Every setting as a dotted key (the same keys `--set` takes); the scenario by name only."""
    data = dataclasses.asdict(config)
    data.pop("scenario_spec", None)
    overrides = dict(data.pop("market_overrides"))
    out: dict[str, object] = {}
    for key, value in data.items():
        if key == "competitors":          # by name (config.toml has each one's settings); none: `--set competitors=none`
            out[key] = ", ".join(a["name"] for a in value) or "none"
        elif isinstance(value, dict):
            out.update({f"{key}.{k}": (tuple(v) if isinstance(v, list) else v) for k, v in value.items()})
        else:
            out[key] = value
    out.update(overrides)
    return out


def parameter_diff(names: list[str], configs: list[RunConfig]) -> pd.DataFrame:
    """Only the settings on which the runs differ (a market override one run lacks shows as 'default')."""
    flats = [flat_config(c) for c in configs]
    keys = sorted({k for f in flats for k in f})
    rows = []
    for key in keys:
        values = [f.get(key, "default") for f in flats]
        if len({repr(v) for v in values}) > 1:
            rows.append({"parameter": key, **{n: str(v) for n, v in zip(names, values)}})
    return pd.DataFrame(rows, columns=["parameter", *names])


def key_settings(config: RunConfig) -> pd.DataFrame:
    flat = flat_config(config)
    return pd.DataFrame([(k, str(v) if v != "" else "(not set)") for k, v in flat.items()],
                        columns=["setting", "value"])
