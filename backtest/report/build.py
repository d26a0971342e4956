"""Assemble the report of a replay (optionally against other replays) or of a sweep, and write
report.html and report.md atomically."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from backtest.config import RunConfig
from backtest.errors import InputError
from backtest.lake.io import atomic_path
from backtest.report import accounts as acc
from backtest.report import cascade as cs
from backtest.metrics import depth as dp
from backtest.report import figures as fg
from backtest.report import html as h
from backtest.report import markdown as md
from backtest.report import sweep as sw
from backtest.report import tables as tb
from backtest.report.results import RunResults, load_results


def reproduce_command(config: RunConfig, out: str | None = None) -> str:
    """The `backtest replay` line that reruns this configuration (settings that differ from the defaults)."""
    default = tb.flat_config(RunConfig(scenario=config.scenario, lake=config.lake))
    mine = tb.flat_config(config)
    sets = [f"--set {k}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
            for k, v in mine.items() if k not in ("scenario", "lake", "feedback") and default.get(k) != v]
    parts = ["backtest replay", config.scenario, f"--lake {config.lake}", *sets]
    if not config.feedback:
        parts.append("--no-feedback")
    if out:
        parts.append(f"--out {out}")
    return " ".join(parts)


def lede(m: dict) -> str:
    """The run in one sentence or three, for the top of the page and of the forum post."""
    usd = lambda k: tb.fmt(m.get(k), "usd")  # noqa: E731
    text = (f"{m['liquidations']:,} liquidations on {m.get('accounts_liquidated', 0):,} of "
            f"{m.get('accounts_with_debt', 0):,} borrowing accounts seized {usd('collateral_seized_usd')} of collateral "
            f"for {usd('debt_repaid_usd')} of debt. ")
    rounds = m.get("cascade_rounds", m.get("cascade_depth", 0))
    if rounds > 0:
        amp = m.get("amplification")
        text += (f"Within a step the cascade went {rounds} round{'s' if rounds != 1 else ''} deep: liquidation sales "
                 "alone made more accounts liquidatable" +
                 (f", and seized {amp:.2f}× what the same crash seizes without price impact" if amp else "") +
                 (f" (execution cost ×{m['amplification_execution_cost']:.3f}, price feedback "
                  f"×{m['amplification_price_feedback']:.3f})" if amp and m.get("amplification_price_feedback") else "")
                 + ". ")
    else:
        text += "No liquidation was caused by another's sales within a step (0 rounds). "
    if m.get("induced_liquidations"):
        text += (f"{m['induced_liquidations']:,} liquidations happened only with feedback (or earlier than without), "
                 f"in {m['induced_steps']:,} steps; the longest run of such steps: {m['cascade_depth']:,}. ")
    if m.get("peak_bad_debt_usd") and m["peak_bad_debt_usd"] > m.get("bad_debt_usd", 0) + 0.5:
        text += f"Bad debt peaked at {usd('peak_bad_debt_usd')} ({m['peak_bad_debt_at']}). "
    text += f"Bad debt left: {usd('bad_debt_usd')} on {m.get('accounts_with_bad_debt', 0):,} accounts"
    if m.get("bad_debt_usd_without_feedback") is not None:
        text += f" ({usd('bad_debt_usd_without_feedback')} without price impact)"
    return text + "."


def synthetic_banner(lake: Path | None) -> str | None:
    marker = Path(lake) / "README.md" if lake else None
    if marker and marker.exists() and "SYNTHETIC" in marker.read_text():
        return (f"SYNTHETIC data: the lake {lake} was made by the project's seeded sample generator. "
                "The numbers show how the tool works, not what any real market would do.")
    return None


def _replay_sections(run: RunResults, lake: Path | None, blocks: list) -> list[h.Section]:
    m, liq, steps = run.metrics, run.liquidations, run.steps
    depth = int(liq["round"].max()) if len(liq) else 0           # colours: one per cascade round
    sections = [h.Section("headline", "Headline metrics", h.paragraph(lede(m), cls="lede") +
                          h.table(tb.headline(m)) + h.table(tb.drawdowns(m)))]
    blocks += [("In one paragraph", lede(m)), ("Headline metrics", tb.headline(m)), ("Price drawdowns", tb.drawdowns(m))]
    cfg = h.table(tb.key_settings(run.config)) + h.details("config.toml (the exact run)", h.pre(run.config.to_toml()))
    sections.append(h.Section("config", "Configuration", cfg))
    sections.append(h.Section("prices", "Price paths", h.figure(
        fg.to_svg(fg.price_paths(steps, liq, depth)),
        "Exogenous path (dashed), the AMM pool the liquidators sell into, and the oracle the protocol reads; "
        "triangles are liquidations seizing that asset, at the oracle price, coloured by cascade round.",
        "price paths per asset")))
    if len(liq):
        _, width = fg.time_bins(fg.step_times(steps))
        body = h.figure(fg.to_svg(fg.liquidations_over_time(liq, depth, fg.step_times(steps), by="collateral_asset")),
                        f"Collateral seized per {width} (USD at the oracle, unit on each panel), one panel per "
                        "protocol, stacked by the collateral asset seized.", "liquidations over time by collateral asset")
        body += h.table(_seized_table(liq))
        blocks.append(("Liquidations by protocol and collateral", _seized_table(liq)))
    else:
        body = h.paragraph("No account was liquidated in this run.")
    sections.append(h.Section("liquidations", "Liquidations over time", body))
    if len(liq):
        worst = cs.worst_steps(liq)
        sections.append(h.Section("cascade", "Cascade rounds in the worst steps", h.figure(
            fg.to_svg(cs.figure(liq, worst)),
            "The steps with the most collateral seized, round by round: each bar is what one round seized, "
            "starting where the earlier rounds left the total (round 0 = made liquidatable by the exogenous move; "
            "k+1 = only by round k's sales); dots: the oracle price of the step's main collateral at those "
            "liquidations (right axis).", "cascade waterfalls") + h.table(cs.table(liq, worst))))
        blocks.append(("Cascade rounds in the worst steps", cs.table(liq, worst)))

    view = table = debt_after = None
    if run.accounts is not None:
        table = run.accounts
    elif lake is not None:
        view = acc.load_lake_view(run, lake)
        table, debt_after = acc.accounts_before_after(run, view)
    if "bad_debt_usd_by_debt_asset" in m:           # adds up to the total: burned deficits and Comet/Maker included
        by_asset, older = pd.Series(m["bad_debt_usd_by_debt_asset"], dtype=float), False
        split = ("at the end, split by debt asset (each account's bad debt over its remaining debt assets by USD "
                 "value, a burned deficit to the debt asset repaid, Comet's loss to its base, Maker's to DAI), adding "
                 "up to the total")
    else:                                            # an older metrics.json: rebuilt from the book, deficits aside
        by_asset = acc.bad_debt_by_asset(table, debt_after, view.book.assets) if debt_after is not None else None
        older = by_asset is not None
        split = "at the end, each account's bad debt split over its remaining debt assets by USD value" + \
            _burned_note(liq)
    bad_body = h.paragraph(_bad_debt_sentence(m)) + h.figure(
        fg.to_svg(fg.bad_debt(steps, by_asset)),
        "Σ over accounts of max(0, debt − collateral) at the oracle, plus deficits burned and Comet's and Maker's "
        f"losses, after each step; {split}.", "bad debt")
    per_protocol, per_asset = tb.by_protocol(m), tb.by_asset(m)
    if len(per_protocol):
        bad_body += h.table(per_protocol, "Per protocol, at the end of the run.")
        blocks.append(("Per protocol", per_protocol))
    if len(per_asset):
        bad_body += h.table(per_asset, "Per asset: bad debt at the end credited to it as collateral and as debt "
                            "(each column adds up to the bad debt), and what was sold into its market against "
                            "its venues' 2 % depth at the start and its typical daily volume (– when unknown).")
        blocks.append(("Per asset", per_asset))
    sections.append(h.Section("bad-debt", "Bad debt", bad_body))
    if older:
        blocks.append(("Bad debt by debt asset (end of run)", pd.DataFrame(
            [(a, tb.fmt(v, "usd")) for a, v in by_asset.sort_values(ascending=False).items() if v > 0.5],
            columns=["asset", "bad debt"])))

    if table is not None:
        bands = acc.hf_bands(table["health_factor_before"], table["debt_usd_before"]).merge(
            acc.hf_bands(table["health_factor_after"], table["debt_usd_after"]), on="band",
            suffixes=(" before", " after"))
        shown = pd.DataFrame({"health factor": bands["band"],
                              "accounts before": bands["accounts before"].map(lambda v: tb.fmt(v, "int")),
                              "debt before": bands["debt_usd before"].map(lambda v: tb.fmt(v, "usd")),
                              "accounts after": bands["accounts after"].map(lambda v: tb.fmt(v, "int")),
                              "debt after": bands["debt_usd after"].map(lambda v: tb.fmt(v, "usd"))})
        body = h.figure(fg.to_svg(fg.hf_distribution(table)),
                        "Borrowing accounts by health factor: before = the book at the first step's prices; after = "
                        "the book left by the liquidations, at the final oracle prices.", "health factor histogram")
        sections.append(h.Section("health", "Health-factor distribution", body + h.table(shown)))
        blocks.append(("Health factors before and after", shown))
    else:
        sections.append(h.Section("health", "Health-factor distribution", h.paragraph(
            f"The lake of this run ({run.config.lake}) was not found: pass --lake to draw the before/after "
            "health factors (the results folder has no per-account table).")))

    depth_units = dp.starting_depth(view.inputs.pools, view.book.price_assets) if view is not None else \
        depth_from_metrics(m, steps)
    sections.append(h.Section("pools", "Pool depth consumed", h.figure(
        fg.to_svg(fg.pool_depth(steps, depth_units or None)), pool_depth_caption(steps, depth_units),
        "pool depth consumed")))
    return sections


def depth_from_metrics(m: dict, steps: pd.DataFrame) -> dict[str, float] | None:
    """Units of 2 % depth per asset from metrics.json (`volume_by_asset.*.depth_2pct_usd`, USD at the
    first step's exogenous price), so a folder with accounts.parquet needs no lake for this figure."""
    volume = m.get("volume_by_asset")
    if volume is None:
        return None
    first = steps.sort_values("step").drop_duplicates("asset").set_index("asset")["price_exogenous"]
    return {a: v["depth_2pct_usd"] / first[a] for a, v in volume.items()
            if v.get("depth_2pct_usd") and first.get(a, 0) > 0}


def pool_depth_caption(steps: pd.DataFrame, depth_units: dict | None) -> str:
    """The caption says the unit the figure was drawn in, and which assets it leaves off."""
    assets = sorted(steps.loc[steps["price_amm"].notna(), "asset"].unique())
    on = fg.depth_panel_assets(assets, depth_units)
    right = (" Right: how far the pool price sits from the exogenous price, % (arbitrage closes the gap over "
             "arb_half_life_seconds).")
    if not on:
        why = "the venues' depth is not known (no lake, an older metrics.json)" if depth_units is None \
            else "no venue's depth is known"
        return (f"Left: collateral sold into each asset's market, cumulative, in USD at the market price ({why}, "
                "so not in multiples of the 2 % depth)." + right)
    off = [a for a in assets if a not in on]
    return ("Left: collateral sold into each asset's market, cumulative, in multiples of the amount that would have "
            "moved its price down 2 % at the start (summed over its venues, after pool_depth_scale)"
            + (f"; not drawn, depth unknown: {', '.join(off)}" if off else "") + "." + right)


def _bad_debt_sentence(m: dict) -> str:
    usd = lambda k: tb.fmt(m.get(k), "usd")  # noqa: E731
    if m.get("peak_bad_debt_usd") is None:
        return f"Bad debt at the end: {usd('bad_debt_usd')}."
    if not m["peak_bad_debt_usd"]:
        return "No bad debt at any step."
    text = f"Peak bad debt {usd('peak_bad_debt_usd')} at {m['peak_bad_debt_at']}; at the end {usd('bad_debt_usd')}. "
    hours = tb.fmt(m["time_under_water_seconds"], "hours")
    if m.get("under_water_at_end"):
        return text + f"Under water from {m['first_bad_debt_at']} to the end of the run ({hours})."
    return text + f"Under water from {m['first_bad_debt_at']} until {m['bad_debt_recovered_at']} ({hours})."


def _seized_table(liq: pd.DataFrame) -> pd.DataFrame:
    """Liquidations and USD seized per (protocol, collateral asset), with the deepest round reached."""
    g = liq.groupby(["protocol", "collateral_asset"]).agg(n=("account", "size"), usd=("collateral_seized_usd", "sum"),
                                                          deepest=("round", "max")).reset_index()
    return pd.DataFrame({"protocol": g["protocol"], "collateral": g["collateral_asset"],
                         "liquidations": g["n"].map(lambda v: tb.fmt(v, "int")),
                         "seized": g["usd"].map(lambda v: tb.fmt(v, "usd")), "deepest round": g["deepest"]})


def _burned_note(liq: pd.DataFrame) -> str:
    burned = float(liq["deficit_usd"].sum()) if "deficit_usd" in liq and len(liq) else 0.0
    return f" (deficits burned by Aave v3.3+, {tb.fmt(burned, 'usd')}, count in the total but left the book)" \
        if burned > 0 else ""


def _compare_sections(runs: list[RunResults], blocks: list) -> list[h.Section]:
    names = _unique_names(runs)
    diff = tb.parameter_diff(names, [r.config for r in runs])
    comp = tb.comparison(names, [r.metrics for r in runs])
    fig = fg.to_svg(fg.compare_paths([(n, r.steps, r.liquidations) for n, r in zip(names, runs)]))
    body = (h.paragraph(f"Baseline: {names[0]}. Δ is the change of each other run against it.") +
            h.table(diff if len(diff) else pd.DataFrame({"parameter": ["(none: same settings)"]})) +
            h.table(comp) + h.figure(fig, "Bad debt and collateral seized over time, one line per run.",
                                     "comparison of runs"))
    blocks += [("Parameters that differ", diff), ("Comparison against the baseline", comp)]
    return [h.Section("compare", "Comparison", body)]


def _unique_names(runs: list[RunResults]) -> list[str]:
    names, seen = [], {}
    for r in runs:
        n = r.name
        seen[n] = seen.get(n, 0) + 1
        names.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return names


def _sweep_sections(sweep: sw.Sweep, blocks: list) -> list[h.Section]:
    keys = sweep.grid_keys
    n_sets, n_paths = sweep.results["set_id"].nunique(), sweep.results["path"].nunique()
    body = h.paragraph(f"{n_sets} parameter sets × {n_paths} path(s); swept: {', '.join(keys) or 'nothing'}. "
                       "The baseline (set 0) is the parameters before the sweep; Δ is each set minus the "
                       "baseline on the same paths.")
    if len(keys) >= 2:
        x, y = keys[:2]
        rest = f", mean over paths and over {', '.join(keys[2:])}" if len(keys) > 2 else ", mean over paths"
        body += h.figure(fg.to_svg(fg.heatmap(sw.heatmap_table(sweep), x, y, "bad_debt_usd", f"bad debt{rest}")),
                         f"Bad debt (USD) for each ({x}, {y}){rest}.", "bad debt heatmap")
    elif keys:
        body += h.paragraph("One parameter swept: the heatmap needs two; the table has every set.")
    if n_paths > 1:
        body += h.figure(fg.to_svg(fg.bad_debt_across_paths(sweep.results, sw.set_labels(sweep))),
                         "Each dot is one path; the box spans the middle half of the paths, ◆ is the mean. Paths "
                         "are paired: path i is the same draw for every set.", "bad debt across paths")
    rows = sw.comparison_rows(sweep)
    table = pd.DataFrame([[name] + [tb.fmt(v, kind) for _, v, kind in cells] for name, cells in rows],
                         columns=["set"] + [label for label, _, _ in rows[0][1]]) if rows else pd.DataFrame()
    body += h.table(table)
    risk = sw.risk_rows(sweep)
    if len(risk):
        body += h.table(risk, "VaR = 95th percentile over paths of bad debt at the end (net insolvency); LaR = 95th "
                        "percentile of collateral liquidated (Gauntlet's definitions, risk.gauntlet.network/faq). "
                        "Price path alone = the same percentile without feedback on the same paths; added by "
                        "feedback = the difference. A market is a protocol or a collateral asset.")
        blocks.append(("VaR and LaR per market", risk))
    if sweep.spec_text:
        body += h.details("sweep.toml (the exact sweep)", h.pre(sweep.spec_text))
    blocks.append(("Parameter sets against the baseline", table))
    return [h.Section("sweep", "Parameter sweep", body)]


def write_report(results: Path, compare: list[Path] | tuple = (), out: Path | None = None, md_out: Path | None = None,
                 lake: Path | None = None) -> tuple[Path, Path]:
    """Write the HTML report and its Markdown summary; returns both paths."""
    results = Path(results)
    out = Path(out) if out else results / "report.html"
    md_out = Path(md_out) if md_out else out.with_suffix(".md")
    check_outputs(out, md_out)
    blocks: list = []
    if sw.is_sweep(results) and not (results / "config.toml").exists():
        sweep = sw.load_sweep(results)
        title, subtitle, banner = f"Parameter sweep: {results.name}", str(results), synthetic_banner(sweep.lake(lake))
        sections = _sweep_sections(sweep, blocks)
        reproduce = sw.sweep_command(sweep.spec_text, results)
    else:
        run = load_results(results)
        found = acc.find_lake(run, lake)
        if found is None and run.accounts is None:
            print(f"backtest report: lake {run.config.lake} not found; health factors left out (use --lake)",
                  file=sys.stderr)
        title = run.title
        subtitle = (f"{run.config.scenario} · results {results} · run {run.config.run_id()} · "
                    f"feedback {'on' if run.config.feedback else 'off'}")
        banner = synthetic_banner(found)
        sections = _replay_sections(run, found, blocks)
        others = [load_results(p) for p in compare]
        if others:
            sections += _compare_sections([run, *others], blocks)
        if sw.is_sweep(results):
            sections += _sweep_sections(sw.load_sweep(results), blocks)
        reproduce = reproduce_command(run.config, out=str(results))
    page = h.page(title, subtitle, banner, sections)
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    with atomic_path(md_out) as tmp:
        tmp.write_text(md.summary(title, subtitle, banner, blocks, reproduce), encoding="utf-8")
    return out, md_out


def check_outputs(out: Path, md_out: Path) -> None:
    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError("the report is HTML: give --out a .html name", file=out)
    if md_out == out:
        raise InputError("--md must differ from --out", file=md_out)
