"""A scenario's per-protocol tables ([comet], [maker], [maker.ASSET]) read into typed parameters: the one
reader both `--set comet.*`/`maker.*` (backtest/config.py) and the run use, so a typo fails before the run."""

from __future__ import annotations

from backtest.errors import InputError, closest


def spec_table(spec: dict, name: str, known: dict, source, prefix: str = "") -> dict:
    """A scenario's [comet] / [maker] / [maker.ASSET] table (`prefix` "maker." for the last): known keys
    only, numbers as floats."""
    table = spec.get(name, {})
    if not isinstance(table, dict):
        raise InputError(f"[{prefix}{name}] must be a table", file=source, column=prefix + name)
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            continue                                  # a per-asset sub-table, read by the caller
        if key not in known:
            raise InputError(f"unknown {name} parameter {key!r}{closest(key, known)} "
                             f"(known: {', '.join(sorted(known))})",
                             file=source, column=f"{prefix}{name}.{key}")
        if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (
                isinstance(value, str) != isinstance(known[key], str)):
            raise InputError("expected a " + ("name" if isinstance(known[key], str) else "number"), file=source,
                             column=f"{prefix}{name}.{key}")
        out[key] = value if isinstance(known[key], str) else float(value)
    return out
