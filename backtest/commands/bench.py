"""`backtest bench`: the engine and the data paths, each timed against a baseline in the same run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from backtest.errors import InputError

EPILOG = """examples:
  backtest bench --quick                        # CI smoke test, under two minutes, no thresholds
  backtest bench                                # the full table for docs/performance.md (~20 min, 2 cores)
  backtest bench --only replay --replay-size 1000000x10080 --out bench.json
  backtest bench --only replay --no-baseline    # the scaling curve: the engine alone, 10k..1M x 1,440..10,080
  backtest bench --only sweep --sweep-size 20x100000   # 20 parameter sets on 100k accounts, 1 vs 2 workers
  backtest bench --only sample                  # the README's main job: compiled vs Python liquidation path
  backtest bench --only curve                   # replay time against accounts, steps and liquidations
  backtest bench --only cli                     # every `backtest VERB --help` against the bare interpreter
  backtest bench --only montecarlo              # 10 ETH-bridge paths on the sample -> minutes for 1,000 (target 10)
"""


def register(sub) -> None:
    p = sub.add_parser("bench", help="time the replay engine, decoder, snapshot and sweep against baselines",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke test (prints, asserts nothing)")
    p.add_argument("--only", action="append", default=[],
                   choices=("replay", "snapshot", "decode", "sweep", "cli", "sample", "curve", "montecarlo"),
                   help="run only this bench (repeatable)")
    p.add_argument("--replay-size", action="append", default=[], metavar="ACCOUNTSxSTEPS",
                   help="replay sizes instead of the plan's, e.g. 100000x1440 (repeatable)")
    p.add_argument("--sweep-size", action="append", default=[], metavar="SETSxACCOUNTS",
                   help="sweep sizes instead of the plan's, e.g. 20x100000 (repeatable)")
    p.add_argument("--no-baseline", action="store_true",
                   help="replay: time the engine only (the scaling curve), not the whole-book engine")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic books, paths, logs and events")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON report to this file")
    p.set_defaults(func=main)


# flag: (the form it takes, the least each number may be, that least in words)
SIZE_FLAGS = {"--replay-size": ("ACCOUNTSxSTEPS, e.g. 100000x1440", (1, 2), "1 account and 2 steps"),
              "--sweep-size": ("SETSxACCOUNTS, e.g. 20x100000", (1, 1), "1 set and 1 account")}


def _sizes(texts: list[str], flag: str = "--replay-size") -> list[tuple[int, int]]:
    form, least, need = SIZE_FLAGS[flag]
    sizes = []
    for text in texts:
        try:
            a, s = text.lower().split("x")
            sizes.append((int(a.replace("_", "")), int(s.replace("_", ""))))
        except ValueError:
            raise InputError(f"{flag} {text!r}: expected {form}") from None
        if sizes[-1][0] < least[0] or sizes[-1][1] < least[1]:
            raise InputError(f"{flag} {text!r}: need at least {need}")
    return sizes


def main(args) -> int:
    from backtest.bench.run import plan, run, table
    from backtest.lake.io import atomic_path
    cases = plan(args.quick, args.only, _sizes(args.replay_size), baseline=not args.no_baseline,
                 sweep_sizes=_sizes(args.sweep_size, "--sweep-size"))
    report = run(cases, seed=args.seed, progress=lambda msg: print(f"  {msg}", file=sys.stderr, flush=True))
    report["quick"] = bool(args.quick)
    print(table(report))
    text = json.dumps(report, indent=2, sort_keys=True)
    print(text)
    if args.out:
        with atomic_path(args.out) as tmp:
            tmp.write_text(text + "\n")
    return 0
