"""Named sweep specs (data/sweeps/NAME.toml): a sweep's scenario, grid and Monte Carlo paths in one
checked-in file, so `backtest sweep --spec NAME` is the same run on any machine (path i draws from
(seed, i)). Flags given on the command line win over the file's values."""

from __future__ import annotations

import tomllib
from pathlib import Path

from backtest.errors import InputError

SPEC_DIR = Path(__file__).resolve().parents[2] / "data" / "sweeps"
# key: (type, what it sets); grid and set add to the command line's --grid and --set
KEYS = {"description": str, "scenario": str, "paths": int, "model": str, "bridge": str, "seed": int,
        "grid": list, "set": list, "counterfactual": str, "counterfactual_every": int}


def resolve(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml":
        if not p.exists():
            raise InputError("sweep spec not found", file=p)
        return p
    candidate = SPEC_DIR / f"{name_or_path}.toml"
    if not candidate.exists():
        known = sorted(f.stem for f in SPEC_DIR.glob("*.toml"))
        raise InputError(f"no sweep spec named {name_or_path!r} (known: {', '.join(known) or 'none'})", file=candidate)
    return candidate


def load_spec(name_or_path: str) -> dict:
    """The spec's keys, checked: an unknown key or a wrong type is one line naming file and key."""
    path = resolve(name_or_path)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=path) from None
    for key, value in raw.items():
        if key not in KEYS:
            raise InputError(f"unknown key (known: {', '.join(KEYS)})", file=path, column=key)
        want = KEYS[key]
        if not isinstance(value, want) or isinstance(value, bool) or \
                (want is list and not all(isinstance(v, str) for v in value)):
            raise InputError(f"must be {'a list of strings' if want is list else want.__name__}", file=path, column=key)
    return raw
