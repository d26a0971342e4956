"""One-at-a-time sensitivity of the headline numbers to the parameters nobody can observe (issue 15, item 6).

Each (scenario, parameter) is a one-key sweep (`sweep.run.run_sweep`), so it resumes and runs in
parallel as sweeps do; this module picks the plausible ranges, reads bad debt and liquidations
off each sweep's comparison and says where a headline moves by more than 2x across the range.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backtest.errors import InputError
from backtest.metrics.sensitivity import MOVES      # a headline moving more than this is flagged

SCENARIOS = ("stylised-eth-crash", "black-thursday-2020", "may-19-2021")

# key -> (values, why this range). The calibrated values are in docs/calibration.md.
UNOBSERVABLE = {
    "impact.scale": ("0.3,1,2", "multiplies Y: 0.3 is Y against whole-market volume (docs/calibration.md), "
                                "2 bounds the within-minute feedback the fit cannot remove"),
    "impact.permanent_share": ("0,0.25,0.5", "the fit gives 0.00 .. 0.25 across its control choices; 0.5 above it"),
    "impact.half_life_seconds": ("300,667,1800", "fit 667 s, bootstrap 492 .. 827 s; widened to 5 .. 30 min"),
    "arb_half_life_seconds": ("12,60,600,1800", "one block .. the engine's default; not observed"),
    "pool_depth_scale": ("0.5,1,2", "pool liquidity leaves under stress (Kaiko Research 2023: the Curve "
                                    "stETH pool lost ~400k ETH+stETH in one day of Nov 2022)"),
    "block_seconds": ("6,12,24", "12 s mainnet slots; 6 and 24 s bracket the pace of liquidation rounds"),
    "flip.keeper_gwei_scale": ("0.5,1,2", "Maker Cat/Flip keepers' gas ceilings (default the crash hours' p30/p60/"
                                          "p90 gas of 12 March 2020) halved to doubled; no effect without Cat/Flip"),
}


@dataclass(frozen=True)
class Row:
    scenario: str
    key: str
    values: tuple[str, ...]              # the grid values, as given
    bad_debt_usd: tuple[float, ...]      # per value (the scenario's path: one run each)
    liquidations: tuple[float, ...]
    baseline_bad_debt_usd: float
    baseline_liquidations: float

    @property
    def bad_debt_factor(self) -> float:
        return factor(self.bad_debt_usd)

    @property
    def liquidations_factor(self) -> float:
        return factor(self.liquidations)


def factor(values) -> float:
    """max / min over the range; inf when the smallest is zero and the largest is not, 1 when all are zero."""
    lo, hi = min(values), max(values)
    if hi == 0:
        return 1.0
    return float("inf") if lo == 0 else hi / lo


def parse_vary(text: str) -> tuple[str, str]:
    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise InputError(f"--vary expects KEY=V1,V2,... (got {text!r})")
    return key.strip(), values.strip()


def row_from_comparison(scenario: str, key: str, values: str, comparison) -> Row:
    """Bad debt and liquidations per grid value from a one-key sweep's comparison (set 0 = baseline)."""
    data = comparison.to_pydict()
    base = data["set_id"].index(0)
    sets = [i for i, s in enumerate(data["set_id"]) if s != 0]
    return Row(scenario, key, tuple(values.split(",")),
               tuple(float(data["bad_debt_usd_mean"][i]) for i in sets),
               tuple(float(data["liquidations_mean"][i]) for i in sets),
               float(data["bad_debt_usd_mean"][base]), float(data["liquidations_mean"][base]))


def _usd(v: float) -> str:
    return f"${v / 1e6:,.2f}M" if abs(v) >= 1e5 else f"${v:,.0f}"


def _times(f: float) -> str:
    return "∞" if f == float("inf") else f"{f:.2f}x"


def render(rows: list[Row], skipped: list[tuple[str, str]] = ()) -> str:
    """A markdown table (docs/engine.md): each value's bad debt and liquidations, and the spread."""
    out = ["| scenario | baseline bad debt, liq. | parameter | values | bad debt | liquidations | bad debt max/min "
           "| liq. max/min |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        flag = f" **> {MOVES:g}x**" if r.bad_debt_factor > MOVES or r.liquidations_factor > MOVES else ""
        out.append(f"| {r.scenario} | {_usd(r.baseline_bad_debt_usd)}, {r.baseline_liquidations:,.0f} | "
                   f"`{r.key}` | {', '.join(r.values)} | "
                   f"{' / '.join(_usd(v) for v in r.bad_debt_usd)} | "
                   f"{' / '.join(f'{v:,.0f}' for v in r.liquidations)} | {_times(r.bad_debt_factor)}{flag} | "
                   f"{_times(r.liquidations_factor)} |")
    if skipped:
        out.append("\nnot parameters of this engine (yet), skipped: "
                   + "; ".join(f"`{key}` ({why})" for key, why in skipped))
    return "\n".join(out)


def known(scenario, lake: Path, key: str, value: str, overrides=()) -> str | None:
    """None if this engine accepts `--set key=value`, else the reason it does not."""
    from backtest.run import make_config
    try:
        make_config(scenario, lake, list(overrides) + [f"{key}={value.split(',')[0]}"])
    except InputError as exc:
        return str(exc)
    return None


def run_sensitivity(scenarios, lake: Path, out: Path, varies: list[tuple[str, str]], *, overrides=(),
                    workers: int | None = None, executor: str = "local", strict: bool = True,
                    progress_stream=None) -> tuple[list[Row], list[tuple[str, str]]]:
    """One sweep per (scenario, key) into out/SCENARIO/KEY. With strict=False a key this engine does
    not know yet is skipped (and reported) instead of failing."""
    from backtest.sweep.run import run_sweep
    rows, skipped = [], []
    for scenario in scenarios:
        for key, values in varies:
            why = known(scenario, lake, key, values, overrides)
            if why is not None:
                if strict:
                    raise InputError(f"--vary {key}: {why}")
                if key not in [k for k, _ in skipped]:
                    skipped.append((key, why.split(" (known:")[0]))
                continue
            result = run_sweep(scenario, lake, Path(out) / scenario.name / key, grids=[f"{key}={values}"],
                               overrides=list(overrides), executor=executor, workers=workers,
                               progress_stream=progress_stream)
            rows.append(row_from_comparison(scenario.name, key, values, result.comparison))
    return rows, skipped


def to_toml(rows: list[Row], lake_note: str) -> str:
    """The measured factors per (scenario, key), for data/sensitivity.toml (read by `flagged`)."""
    import tomli_w
    table: dict = {"lake": lake_note, "scenario": {}}
    for r in rows:
        table["scenario"].setdefault(r.scenario, {})[r.key] = {
            "values": list(r.values), "bad_debt_factor": r.bad_debt_factor if r.bad_debt_factor != float("inf") else -1.0,
            "liquidations_factor": r.liquidations_factor if r.liquidations_factor != float("inf") else -1.0}
    return tomli_w.dumps(table)

