"""`backtest sensitivity`: bad debt and liquidations against each parameter that cannot be observed."""

from __future__ import annotations

from pathlib import Path

from backtest.commands.common import LAKE_HELP, default_lake

EPILOG = """examples:
  backtest sensitivity                                   # the three scenarios x every unobservable parameter
  backtest sensitivity black-thursday-2020 --vary arb_half_life_seconds=12,60,1800
  backtest sensitivity stylised-eth-crash --vary pool_depth_scale=0.5,1,2 --vary impact.scale=0.3,1,2

Without --vary, each parameter of backtest/sweep/sensitivity.py UNOBSERVABLE is varied over its
plausible range (the table there says why each range); one a time, the others at their values.
A key this engine does not know yet is skipped and named. Output: one sweep folder per
(scenario, parameter) under --out (rerun to resume) and a markdown table (docs/engine.md)."""


def register(sub) -> None:
    import argparse
    p = sub.add_parser("sensitivity", help="bad debt and liquidations against each unobservable parameter",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                   help="scenario names or .toml paths (default: stylised-eth-crash black-thursday-2020 may-19-2021)")
    p.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a `--set` key and its values (repeat for more keys; default: every unobservable one)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="change the baseline of every run, as in `backtest replay --set`")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.add_argument("--workers", type=int, default=None, help="parallel workers per sweep (default: all cores)")
    p.add_argument("--out", type=Path, default=Path("results") / "sensitivity", help="output folder")
    p.add_argument("--write-toml", type=Path, default=None, metavar="TOML",
                   help="also write the measured factors (data/sensitivity.toml: the replay summary reads it)")
    p.add_argument("--lake-note", default="the shipped sample book with the scenarios' `get` prices",
                   help="what the lake was, recorded in the TOML and quoted by the replay summary")
    p.set_defaults(func=main)


def main(args) -> int:
    from backtest.errors import InputError
    from backtest.scenarios.library import load_scenario
    from backtest.lake.io import atomic_path
    from backtest.sweep.sensitivity import SCENARIOS, UNOBSERVABLE, parse_vary, render, run_sensitivity, to_toml
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be >= 1 (got {args.workers})")
    varies = [parse_vary(v) for v in args.vary] or [(k, v) for k, (v, _) in UNOBSERVABLE.items()]
    scenarios = [load_scenario(s) for s in (args.scenarios or SCENARIOS)]
    rows, skipped = run_sensitivity(scenarios, args.lake or default_lake(), args.out, varies,
                                    overrides=args.overrides, workers=args.workers, strict=bool(args.vary))
    if args.write_toml:
        with atomic_path(args.write_toml) as tmp:
            tmp.write_text(to_toml(rows, args.lake_note))
    print(render(rows, skipped))
    return 0
