"""The benchmark plan (quick or full), each case in a fresh process, and its table and JSON."""

from __future__ import annotations

import os
import platform
import time

from backtest.bench import cli_help, curve, decode, montecarlo, replay_case, sample_crash, snapshot, sweep
from backtest.bench.measure import isolated
from backtest.console import table as table_text
from backtest.numbers import number

FULL = {
    "replay": [dict(accounts=a, steps=s) for a in (10_000, 100_000, 1_000_000) for s in (1_440, 10_080)],
    "snapshot": [dict(n_events=10_000_000, accounts=1_000_000)],
    "decode": [dict(n_logs=1_000_000, baseline_logs=50_000)],
    "sweep": [dict(accounts=100_000, sets=100)],
    "cli": [dict(runs=9)],
    "sample": [dict(accounts=50_000, command_runs=5)],
    "curve": [dict(accounts=50_000, steps=1_440)],
    "montecarlo": [dict(accounts=50_000, paths=10)],
}
QUICK = {
    "replay": [dict(accounts=10_000, steps=1_440)],
    "snapshot": [dict(n_events=1_000_000, accounts=20_000)],
    "decode": [dict(n_logs=100_000, baseline_logs=5_000)],
    "sweep": [dict(accounts=500, sets=2)],
    "cli": [dict(runs=3)],
    "sample": [dict(accounts=2_000, command_runs=1)],
}
RUNNERS = {"replay": replay_case.run_case, "snapshot": snapshot.run_case, "decode": decode.run_case,
           "sweep": sweep.run_case, "cli": cli_help.run_case,
           "sample": sample_crash.run_case, "curve": curve.run_case, "montecarlo": montecarlo.run_case}
UNITS = {"replay": ("account_steps_per_s", "account-steps/s"), "snapshot": ("events_per_s", "events/s"),
         "decode": ("logs_per_s", "logs/s"), "sweep": ("sets_per_s", "sets/s"), "cli": ("helps_per_s", "--help/s"),
         "sample": ("candidates_per_s", "candidates/s"), "curve": ("points_per_s", "points/s"),
         "montecarlo": ("paths_per_hour", "paths/h on 2 cores")}
BASELINES = {"replay": "whole-book numpy engine", "snapshot": "pyarrow + pandas groupby",
             "decode": "eth_abi per log", "sweep": "1 worker", "cli": "python -c 'import argparse'",
             "sample": "Python liquidation path", "curve": "its first point",
             "montecarlo": "target: 1,000 paths in 10 min on 2 workers"}


def plan(quick: bool, only: list[str] | None = None, replay_sizes: list[tuple[int, int]] | None = None,
         baseline: bool = True, sweep_sizes: list[tuple[int, int]] | None = None) -> dict:
    chosen = {k: list(v) for k, v in (QUICK if quick else FULL).items() if not only or k in only}
    if replay_sizes and "replay" in chosen:
        chosen["replay"] = [dict(accounts=a, steps=s) for a, s in replay_sizes]
    if sweep_sizes and "sweep" in chosen:
        chosen["sweep"] = [dict(sets=s, accounts=a) for s, a in sweep_sizes]
    if not baseline and "replay" in chosen:
        chosen["replay"] = [dict(size, reference=False) for size in chosen["replay"]]
    return chosen


def _call(func, kwargs: dict) -> dict:
    return func(**kwargs)


def run(cases: dict, seed: int = 0, progress=None) -> dict:
    rows = []
    for bench, sizes in cases.items():
        for size in sizes:
            if progress:
                progress(f"{bench} {size} ...")
            start = time.perf_counter()
            args = {**size, "seed": seed}
            row = isolated(_call, RUNNERS[bench], args)
            rows.append({"bench": bench, "baseline": BASELINES[bench], "case_seconds": time.perf_counter() - start,
                         **row})
    return {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "seed": seed, "results": rows}


def _size(row: dict) -> str:
    b = row["bench"]
    if b == "replay":
        return f"{row['accounts']:,} acc x {row['steps']:,} steps"
    if b == "snapshot":
        return f"{row['events']:,} events"
    if b == "decode":
        return f"{row['logs']:,} logs"
    if b == "sample":
        return (f"sample crash, {row['accounts']:,} acc, 3 replays; `backtest replay` {row['command_seconds']:.2f} s, "
                f"start-up floor {row['floor_seconds']:.2f} s")
    if b == "cli":
        return f"--help of {row['verbs']} verbs, slowest {row['slowest']} (target <= {row['target_seconds']} s)"
    if b == "montecarlo":
        return (f"{row['paths']} ETH-bridge paths, {row['accounts']:,} acc: {row['cpu_per_path']:.2f} CPU-s/path "
                f"(target {row['target_cpu_per_path']:.1f}) -> {row['estimated_minutes']:.1f} min for "
                f"{row['target_paths']:,} on {row['target_workers']} workers")
    if b == "curve":
        return f"{row['accounts']:,} acc x {row['steps']:,} steps: {curve.describe(row)}"
    return f"{row['sets']} sets, {row['accounts']:,} acc"


def table(report: dict) -> str:
    head = ("bench", "size", "time s", "baseline s", "ratio", "throughput", "peak RSS MB", "same result")
    lines = []
    for r in report["results"]:
        if not r.get("available", True):
            lines.append((r["bench"], _size(r), "not available", "", "", "", "", ""))
            continue
        key, unit = UNITS[r["bench"]]
        if r["bench"] == "montecarlo":         # time: estimated for 1,000 paths from CPU; baseline: the target
            lines.append((r["bench"], _size(r), f"{r['seconds']:.0f} (est.)", f"{r['target_seconds']:.0f} (target)",
                          f"{r['speedup']:.2f}x", f"{number(round(r[key]))} {unit}", f"{r['peak_rss_mb']:.0f}", "-"))
            continue
        if "reference_seconds" not in r:                                  # --no-baseline
            lines.append((r["bench"], _size(r), f"{r['seconds']:.2f}", "-", "-", f"{r[key]:,.0f} {unit}",
                          f"{r['peak_rss_mb']:.0f}", "-"))
            continue
        note = " (est.)" if r.get("reference_extrapolated") else ""
        lines.append((r["bench"], _size(r), f"{r['seconds']:.2f}", f"{r['reference_seconds']:.2f}{note}",
                      f"{r['speedup']:.1f}x", f"{number(r[key] if r[key] < 100 else round(r[key]))} {unit}",
                      f"{r['peak_rss_mb']:.0f} / {r['reference_peak_rss_mb']:.0f}", "yes" if r["identical"] else "NO"))
    out = [table_text(head, lines, rule=True)]
    out.append("ratio = baseline time / time (same process, same inputs); peak RSS engine / baseline; "
               "(est.) = baseline timed on a prefix or sample and scaled linearly; montecarlo: 1,000 paths on "
               "2 free cores estimated from the CPU seconds of the paths run (ratio >= 1: the target is met)")
    return "\n".join(out)
