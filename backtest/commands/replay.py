"""`backtest replay`: re-run a crash over the lake's book and write a results folder."""

from __future__ import annotations

import json
from pathlib import Path

from backtest.commands.common import DEFAULT_SCENARIO, LAKE_HELP, default_lake

EPILOG = """examples:
  backtest replay                                   # the synthetic sample, stylised ETH crash
  backtest replay stylised-eth-crash --set liquidation_threshold.CRV=0.35 --out results/crv35
  backtest replay black-thursday-2020 --lake my-lake --no-feedback
"""


def register(sub) -> None:
    p = sub.add_parser("replay", help="replay a crash scenario over the book", epilog=EPILOG,
                       formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO,
                   help=f"scenario name in data/scenarios or a .toml path (default {DEFAULT_SCENARIO})")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter, e.g. oracle.deviation=0.01 or liquidation_bonus.CRV=0.1")
    p.add_argument("--out", type=Path, default=None, help="results folder (default results/SCENARIO-RUNID)")
    p.add_argument("--no-feedback", action="store_true", help="liquidation sales do not move prices")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")
    p.set_defaults(func=main)


def main(args) -> int:
    import atexit
    import gc
    # At exit the interpreter's last collection walks every object numba's, pandas' and the engine's imports
    # made (~0.3 CPU-s after the replay, the process done); frozen, it walks none. Registered once however
    # many replays a process runs (tests call this in theirs).
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    from backtest.api import replay
    from backtest.scenarios.library import load_scenario
    run = replay(load_scenario(args.scenario), args.lake or default_lake(), args.overrides,
                 feedback=not args.no_feedback, progress=not args.json)
    from backtest.results import summary         # after: the replay forks the book's loading before heavy imports
    config, scenario, result = run.config, run.scenario, run.result
    out = run.save(args.out)
    if args.json:
        print(json.dumps({"results": str(out), **result.metrics}, indent=2, sort_keys=True, default=str))
    else:
        marker = Path(config.lake) / "README.md"
        synthetic = marker.exists() and "SYNTHETIC" in marker.read_text()
        label = f"SYNTHETIC sample lake {config.lake}" if synthetic else f"lake {config.lake}"
        print(summary(config, result.metrics, f"{scenario.title}  [{scenario.kind}; {label}]"))
        print(result.inputs.sources.summary())
        print(f"  results         {out}/")
    return 0
