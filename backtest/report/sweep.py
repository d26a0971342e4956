"""Reading a sweep's folder (what backtest/sweep/run.py writes) for the report.

`results.parquet` has one row per (set_id, path) with the swept parameters as columns named
by their `--set` key and every metric; `comparison.parquet` one row per set against the
baseline (set_id 0, the parameters before the sweep); `sweep.toml` the command's grid.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from backtest.errors import InputError

RESULTS = "results.parquet"
COMPARISON = "comparison.parquet"
SPEC = "sweep.toml"
RISK = "risk.parquet"
RISK_COLUMNS = ("set_id", "market_kind", "market", "var_usd", "var_without_feedback_usd", "var_added_by_feedback_usd",
                "lar_usd", "lar_without_feedback_usd", "lar_added_by_feedback_usd")
# (comparison.parquet column, label, kind for tables.fmt)
COMPARISON_COLUMNS = (
    ("paths", "paths", "int"),
    ("bad_debt_usd_mean", "bad debt (mean)", "usd"), ("bad_debt_usd_p95", "bad debt (p95)", "usd"),
    ("prob_bad_debt", "P(bad debt)", "prob"), ("delta_bad_debt_usd_mean", "Δ bad debt (mean)", "signed_usd"),
    ("liquidations_mean", "liquidations (mean)", "float"), ("delta_liquidations_mean", "Δ liquidations", "signed"),
    ("collateral_seized_usd_mean", "collateral seized (mean)", "usd"),
    ("cascade_depth_mean", "cascade depth (mean)", "float"), ("delta_cascade_depth_mean", "Δ depth", "signed"),
)


@dataclass
class Sweep:
    path: Path
    results: pd.DataFrame
    comparison: pd.DataFrame
    grid_keys: list[str]        # the swept parameters, in the order of the command's --grid
    spec_text: str
    risk: pd.DataFrame | None = None     # risk.parquet: VaR and LaR per (set, market), when the sweep wrote it

    def lake(self, given: Path | None = None) -> Path | None:
        """The sweep's lake: `given` (--lake), else sweep.toml's `lake` as written, then relative to
        the sweep's folder; None when not found."""
        spec = tomllib.loads(self.spec_text) if self.spec_text else {}
        named = spec.get("lake")
        for candidate in ([Path(given)] if given else []) + ([Path(named), self.path / named] if named else []):
            if candidate.is_dir():
                return candidate
        return None


def is_sweep(folder: Path) -> bool:
    folder = Path(folder)
    return (folder / RESULTS).exists() and (folder / COMPARISON).exists()


def _read(path: Path, needed: tuple[str, ...]) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({str(exc).splitlines()[0]})", file=path) from None
    missing = [c for c in needed if c not in table.column_names]
    if missing:
        raise InputError("missing column the report needs", file=path, column=missing[0])
    return table.to_pandas()


def grid_keys(spec: dict, columns: list[str]) -> list[str]:
    """`--grid KEY=V1,V2` entries of sweep.toml -> the KEYs, keeping those the results table has."""
    keys = [str(g).split("=", 1)[0].strip() for g in spec.get("grid", [])]
    return [k for k in dict.fromkeys(keys) if k in columns]


def load_sweep(folder: Path) -> Sweep:
    folder = Path(folder)
    results = _read(folder / RESULTS, ("set_id", "path", "bad_debt_usd"))
    comparison = _read(folder / COMPARISON, ("set_id",))
    spec_path = folder / SPEC
    try:
        text = spec_path.read_text() if spec_path.exists() else ""
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=spec_path) from None
    keys = grid_keys(spec, list(results.columns))
    risk = _read(folder / RISK, RISK_COLUMNS) if (folder / RISK).exists() else None
    return Sweep(path=folder, results=results, comparison=comparison, grid_keys=keys, spec_text=text, risk=risk)


def risk_rows(sweep: Sweep, least: float = 0.5) -> pd.DataFrame:
    """VaR and LaR per set and market (whole dollars; markets where both are under `least` left out),
    each with its price-path-alone part and what feedback adds, formatted for the page."""
    from backtest.report.tables import fmt
    if sweep.risk is None:
        return pd.DataFrame()
    labels = {0: "baseline"}
    order = {"all": 0, "protocol": 1, "collateral": 2}
    r = sweep.risk.assign(kind=sweep.risk["market_kind"].map(order)).sort_values(["set_id", "kind", "market"])
    r = r[(r["var_usd"].fillna(0) >= least) | (r["lar_usd"].fillna(0) >= least) | (r["market_kind"] == "all")]
    rows = [(labels.get(int(x.set_id), f"set {x.set_id}"), "all markets" if x.market_kind == "all" else
             f"{x.market_kind} {x.market}", fmt(x.var_usd, "usd"), fmt(x.var_without_feedback_usd, "usd"),
             fmt(x.var_added_by_feedback_usd, "signed_usd"), fmt(x.lar_usd, "usd"),
             fmt(x.lar_without_feedback_usd, "usd"), fmt(x.lar_added_by_feedback_usd, "signed_usd"))
            for x in r.itertuples()]
    return pd.DataFrame(rows, columns=["set", "market", "VaR", "VaR, price path alone", "VaR added by feedback",
                                       "LaR", "LaR, price path alone", "LaR added by feedback"])


def heatmap_table(sweep: Sweep) -> pd.DataFrame:
    """The grid's own sets (the baseline, set 0, is left out unless it is the only set): it may sit
    off the grid and would add a lone cell."""
    r = sweep.results
    return r[r["set_id"] != 0] if (r["set_id"] != 0).any() else r


def set_labels(sweep: Sweep) -> dict[int, str]:
    """'baseline' for set 0, else 'key=value, ...' of its grid parameters."""
    first = sweep.results.drop_duplicates("set_id").set_index("set_id")
    return {int(sid): "baseline" if sid == 0 else ", ".join(f"{k}={_short(first.loc[sid, k])}" for k in sweep.grid_keys)
            or f"set {sid}" for sid in first.index}


def _short(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def comparison_rows(sweep: Sweep) -> list[tuple[str, list[tuple[str, object, str]]]]:
    """Per set: its name ('baseline' or 'set N') and its (label, value, kind) cells, grid keys first."""
    out = []
    for row in sweep.comparison.sort_values("set_id").to_dict("records"):
        cells = [(k, row.get(k), "param") for k in sweep.grid_keys]
        cells += [(label, row[col], kind) for col, label, kind in COMPARISON_COLUMNS if col in row]
        out.append(("baseline" if row["set_id"] == 0 else f"set {row['set_id']}", cells))
    return out


def sweep_command(spec_text: str, folder: Path) -> str:
    """The `backtest sweep` line that reruns (or resumes) this sweep, from its sweep.toml."""
    spec = tomllib.loads(spec_text) if spec_text else {}
    parts = ["backtest sweep", str(spec.get("scenario", ""))]
    if spec.get("lake"):
        parts.append(f"--lake {spec['lake']}")
    parts += [f"--set {s}" for s in spec.get("set", [])] + [f"--grid {g}" for g in spec.get("grid", [])]
    if spec.get("feedback") is False:
        parts.append("--no-feedback")
    parts += _paths_flags(spec.get("paths") or {})
    if spec.get("counterfactual_kind") == "none":
        parts.append("--counterfactual none")
    elif spec.get("counterfactual_every", 1) > 1:
        parts.append(f"--counterfactual-every {spec['counterfactual_every']}")
    return " ".join(p for p in parts if p) + f" --out {folder}"


MODEL_FLAGS = (("jumps_per_day", "--jumps-per-day"), ("jump_mean", "--jump-mean"), ("jump_std", "--jump-std"),
               ("block_steps", "--block"))


def _paths_flags(paths: dict) -> list[str]:
    """sweep.toml's [paths] (the Monte Carlo model that drew them) as `backtest sweep` flags."""
    if not paths:
        return []
    out = [f"--paths {paths['n']}", f"--model {paths['model']}", f"--seed {paths['seed']}"]
    if paths.get("window"):
        start, end = (w.isoformat() if hasattr(w, "isoformat") else str(w) for w in paths["window"])
        out.append(f"--calibrate {start}..{end}")
    out += [f"{flag} {paths[key]}" for key, flag in MODEL_FLAGS if paths.get(key) is not None]
    if paths.get("bridge_asset") is not None:
        out.append(f"--bridge {paths['bridge_asset']}:{paths['bridge_drawdown']}:{paths['bridge_hours']}")
    return out
