"""The house rules of docs/architecture.md, checked on the source: every import (at the top or inside a
function) goes from a room to a room on a lower floor or its own, and no module imports itself back
through others. A new room must be given a floor here and a paragraph in docs/architecture.md."""

from __future__ import annotations

import ast
from pathlib import Path

from backtest.kernel_cache import modules

PACKAGE = Path(__file__).resolve().parents[2] / "backtest"

# docs/architecture.md, "Floors": lower numbers are imported by higher ones, never the reverse.
FLOORS = {
    "errors": 0, "progress": 0, "console": 0, "numbers": 0, "compiled": 0, "blas": 0, "kernel_cache": 0,
    "lake": 1,
    "protocols": 2,                 # maths, typed parameters, the rules registry (not the mechanisms)
    "config": 3, "overrides": 3,    # the run config and the --set keys onto it
    "markets": 4, "scenarios": 4,
    "inputs": 5, "ingest": 5, "calibration": 6, "devnet": 6, "sample": 6, "queries": 6,
    "agents": 7,
    "protocols.mechanism": 8,       # protocols/<name>/mechanism.py: liquidates through agents
    "engine": 9,
    "metrics": 10, "results": 10,
    "run": 11,
    "report": 12, "sweep": 12,
    "api": 13,
    "commands": 14, "bench": 14,
    "cli": 15, "__main__": 16, "(package)": 16,
}

# Known imports that run up a floor, each with its reason (docs/architecture.md, "Exceptions").
EXCEPTIONS = {
    ("backtest.overrides", "backtest.markets.oracle_table"),   # --set oracle.* checks keys against the deployed table
    ("backtest.sweep", "backtest.api"),                      # calling the sweep package runs bt.sweep (issue 20.8)
    ("backtest.api", "backtest.commands.common"),            # the light defaults the CLI shares (default lake, scenario)
    ("backtest.bench.cli_help", "backtest.cli"),             # the benchmark of `backtest --help` itself
}


def _modules() -> dict[str, Path]:
    return modules(PACKAGE)


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    def known(name):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges = {m: set() for m in modules}
    for m, path in modules.items():
        base = m.split(".") if path.name == "__init__.py" else m.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mod = ".".join(base[:len(base) - node.level + 1] + [node.module or ""]).strip(".") if node.level \
                    else node.module or ""
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
            else:
                continue
            for t in targets:
                target = known(t) if t.startswith("backtest") else None
                if target and target != m:
                    edges[m].add(target)
    return edges


def _room(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "(package)"
    if parts[1] == "protocols" and parts[-1] == "mechanism":
        return "protocols.mechanism"
    return parts[1]


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected sets of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_every_room_has_a_floor():
    rooms = {_room(m) for m in _modules()}
    assert rooms <= set(FLOORS), f"rooms without a floor (add them here and to docs/architecture.md): " \
                                 f"{sorted(rooms - set(FLOORS))}"


def test_no_import_runs_back_up():
    edges = _imports(_modules())
    up = sorted((m, t) for m, targets in edges.items() for t in targets
                if FLOORS.get(_room(m), 99) < FLOORS.get(_room(t), 99) and (m, t) not in EXCEPTIONS)
    assert up == [], "imports from a lower floor to a higher one:\n" + "\n".join(f"  {m} -> {t}" for m, t in up)


def test_the_exceptions_are_still_needed():
    edges = _imports(_modules())
    stale = sorted(e for e in EXCEPTIONS if e[1] not in edges.get(e[0], ()))
    assert stale == [], f"listed exceptions that no longer exist (remove them here and in the docs): {stale}"


def test_no_import_circles():
    assert _circles(_imports(_modules())) == []


def test_the_checker_sees_circles_and_upward_imports():
    edges = {"backtest.engine.a": {"backtest.agents.b"}, "backtest.agents.b": {"backtest.engine.a"}}
    assert _circles(edges) == [["backtest.agents.b", "backtest.engine.a"]]
    assert FLOORS[_room("backtest.agents.b")] < FLOORS[_room("backtest.engine.a")]
    assert _room("backtest.protocols.maker.mechanism") == "protocols.mechanism"
    assert _room("backtest.protocols.maker.clip") == "protocols"
