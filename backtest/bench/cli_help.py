"""`backtest VERB --help` against the bare interpreter: the CLI's start-up cost (issue 19, item 4).

Each command module imports the engine inside its run function, so a `--help` costs the
interpreter, argparse and the light command modules only; the target is <= 0.5 s for every verb.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

HEAVY = ("numpy", "pandas", "duckdb", "pyarrow", "numba", "scipy", "web3", "eth_abi")
TARGET_SECONDS = 0.5


def _median_seconds(argv: list[str], runs: int) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        code = code or done.returncode
    return statistics.median(times), code


def after_parser() -> tuple[list[str], float]:
    """The heavy modules a fresh interpreter holds after building every verb's parser, and its
    peak RSS in MB (VmHWM: a new process image starts its own, unlike ru_maxrss across exec)."""
    probe = ("import sys, backtest.cli; from backtest.bench.measure import peak_rss_mb; backtest.cli.build_parser(); "
             f"print(peak_rss_mb(), *(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    return out[1:], float(out[0])


def run_case(runs: int = 5, seed: int = 0) -> dict:
    from backtest.cli import COMMANDS
    per_verb, failed = {}, []
    for verb in ("", *COMMANDS):
        seconds, code = _median_seconds([sys.executable, "-m", "backtest", *([verb] if verb else []), "--help"], runs)
        per_verb[verb or "backtest"] = seconds
        if code:
            failed.append(verb or "backtest")
    floor, _ = _median_seconds([sys.executable, "-c", "import argparse"], runs)
    slowest = max(per_verb, key=per_verb.get)
    heavy, rss = after_parser()
    return {"verbs": len(per_verb), "slowest": slowest, "seconds": per_verb[slowest], "per_verb_seconds": per_verb,
            "reference_seconds": floor, "speedup": floor / per_verb[slowest], "helps_per_s": 1 / per_verb[slowest],
            "target_seconds": TARGET_SECONDS, "within_target": per_verb[slowest] <= TARGET_SECONDS,
            "heavy_modules": heavy, "failed": failed, "identical": not heavy and not failed, "runs": runs,
            "peak_rss_mb": rss, "reference_peak_rss_mb": _bare_rss()}


def _bare_rss() -> float:
    probe = "from backtest.bench.measure import peak_rss_mb; print(peak_rss_mb())"
    return float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
