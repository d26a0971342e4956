"""`--grid KEY=V1,V2,...` into parameter sets: the cartesian product, first grid varying slowest.

A value list may also be a range `START:STOP:STEP` (both ends included), handy for thresholds:
`liquidation_threshold.CRV=0.20:0.45:0.05`.
"""

from __future__ import annotations

import itertools
from decimal import Decimal, InvalidOperation

from backtest.errors import InputError

MAX_SETS = 10_000


def expand_values(key: str, text: str) -> list[str]:
    """The values of one grid, as the strings `--set` would take."""
    text = text.strip()
    if not text:
        raise InputError(f"--grid {key}=: no values")
    if ":" in text and "," not in text:
        return _range(key, text)
    values = [v.strip() for v in text.split(",")]
    if any(not v for v in values):
        raise InputError(f"--grid {key}={text}: empty value in the list")
    if len(set(values)) != len(values):
        raise InputError(f"--grid {key}={text}: a value is repeated")
    return values


def _range(key: str, text: str) -> list[str]:
    """Decimal arithmetic, so 0.2:0.45:0.05 gives 0.25 and not 0.25000000000000006."""
    parts = text.split(":")
    try:
        start, stop, step = (Decimal(p) for p in parts)
    except (ValueError, InvalidOperation):
        raise InputError(f"--grid {key}={text}: a range is START:STOP:STEP with three numbers") from None
    if step <= 0 or stop < start:
        raise InputError(f"--grid {key}={text}: a range needs STEP > 0 and STOP >= START")
    n = int((stop - start) / step) + 1
    if n > MAX_SETS:
        raise InputError(f"--grid {key}={text}: {n} values is too many")
    return [_plain(start + i * step) for i in range(n)]


def _plain(d: Decimal) -> str:
    s = format(d.normalize(), "f")
    return s if s not in ("-0",) else "0"


def parse_grid(grids: list[str]) -> tuple[list[str], list[tuple[str, ...]]]:
    """Keys in the order given, and every combination of their values (as `--set` strings)."""
    keys, lists = [], []
    for g in grids:
        if "=" not in g:
            raise InputError(f"--grid expects KEY=V1,V2,..., got {g!r}")
        key, values = (s.strip() for s in g.split("=", 1))
        if not key:
            raise InputError(f"--grid {g!r}: no parameter name")
        if key in keys:
            raise InputError(f"--grid {key} is given twice (put all its values in one --grid)")
        keys.append(key)
        lists.append(expand_values(key, values))
    n = 1
    for values in lists:
        n *= len(values)
    if n > MAX_SETS:
        raise InputError(f"the grid has {n:,} parameter sets (limit {MAX_SETS:,}): sweep fewer values")
    return keys, list(itertools.product(*lists)) if keys else []


def as_overrides(keys: list[str], values: tuple[str, ...]) -> list[str]:
    return [f"{k}={v}" for k, v in zip(keys, values)]
