"""`backtest scenarios`: list the scenario library."""

from __future__ import annotations

from backtest.scenarios.library import list_scenarios


def register(sub) -> None:
    p = sub.add_parser("scenarios", help="list the scenarios in data/scenarios", epilog="example: backtest scenarios")
    p.set_defaults(func=main)


def main(args) -> int:
    rows = [(s.name, s.kind, f"{s.start:%Y-%m-%d %H:%M} .. {s.end:%Y-%m-%d %H:%M}", f"{s.step_seconds}s", s.title)
            for s in list_scenarios()]
    widths = [max(len(r[i]) for r in rows + [("name", "kind", "window (UTC)", "step", "title")]) for i in range(4)]
    for r in [("name", "kind", "window (UTC)", "step", "title")] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
    return 0
