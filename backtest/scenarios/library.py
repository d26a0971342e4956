"""Scenario TOML files: loading, checking, listing.

A scenario names a window, a step, and for each asset where its path comes from: the lake's
`prices` table (historical), stylised legs, or another asset's path (`follows`). Keys are
documented in docs/prices-and-scenarios.md.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from backtest.errors import InputError, closest

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "data" / "scenarios"
KINDS = ("historical", "stylised")
ANCHORS = ("book", "absolute")
SOURCES = ("lake", "stylised", "constant")


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    kind: str
    description: str
    start: datetime
    end: datetime
    step_seconds: int
    anchor: str
    assets: dict = field(default_factory=dict)      # asset -> spec table
    gas: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    proxy: dict = field(default_factory=dict)       # unnamed asset -> {asset, beta?, window?, lake_asset?}
    path: str = ""
    raw: dict = field(default_factory=dict, compare=False)

    @property
    def n_steps(self) -> int:
        return int((self.end - self.start).total_seconds() // self.step_seconds) + 1


def _utc(value, key, source) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"not a date-time: {value!r}", file=source, column=key) from None
    if not isinstance(value, datetime):
        raise InputError("expected a TOML date-time such as 2020-03-12T00:00:00Z", file=source, column=key)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise InputError("scenario file not found", file=p)
        return p
    candidate = SCENARIO_DIR / f"{name_or_path}.toml"
    if not candidate.exists():
        names = [s.name for s in list_scenarios()]
        raise InputError(f"no scenario named {name_or_path!r}{closest(str(name_or_path), names)} "
                         f"(known: {', '.join(names)})", file=candidate)
    return candidate


def load_scenario(name_or_path: str | Path) -> Scenario:
    path = resolve(name_or_path)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=path) from None
    for key in ("start", "end", "step_seconds"):
        if key not in raw:
            raise InputError("missing key", file=path, column=key)
    start, end = _utc(raw["start"], "start", path), _utc(raw["end"], "end", path)
    if end <= start:
        raise InputError("end must be after start", file=path, column="end")
    step = raw["step_seconds"]
    if not isinstance(step, int) or step <= 0:
        raise InputError("must be a positive integer", file=path, column="step_seconds")
    kind = raw.get("kind", "stylised")
    if kind not in KINDS:
        raise InputError(f"must be one of {KINDS}", file=path, column="kind")
    anchor = raw.get("anchor", "book")
    if anchor not in ANCHORS:
        raise InputError(f"must be one of {ANCHORS}", file=path, column="anchor")
    assets = raw.get("assets", {})
    for asset, spec in assets.items():
        _check_asset(asset, spec, assets, path)
    proxy = raw.get("proxy", {})
    for asset, spec in proxy.items():
        _check_proxy(asset, spec, assets, path)
    from backtest.protocols.maker.params import check_tables    # numpy: not while the CLI builds its parser
    check_tables(raw, path)                 # [maker] and [maker.X]: what the contracts cannot hold, by the file
    return Scenario(name=raw.get("name", path.stem), title=raw.get("title", path.stem), kind=kind,
                    description=raw.get("description", ""), start=start, end=end, step_seconds=step,
                    anchor=anchor, assets=assets, gas=raw.get("gas", {}), parameters=raw.get("parameters", {}),
                    proxy=proxy, path=str(path), raw=raw)


def _check_asset(asset: str, spec: dict, assets: dict, path: Path) -> None:
    col = f"assets.{asset}"
    if "follows" in spec:
        if spec["follows"] not in assets:
            raise InputError(f"follows {spec['follows']!r}, which the scenario does not define", file=path, column=col)
        if "follows" in assets[spec["follows"]]:
            raise InputError("follows an asset that itself follows another", file=path, column=col)
        return
    source = spec.get("source", "constant")
    if source not in SOURCES:
        raise InputError(f"source must be one of {SOURCES}", file=path, column=col)
    if source == "stylised":
        legs = spec.get("legs")
        ok = isinstance(legs, list) and legs and all(
            isinstance(l, list) and len(l) == 2 and l[0] > 0 and l[1] > -1 for l in legs)
        if not ok:
            raise InputError("legs must be a list of [hours > 0, change > -1]", file=path, column=f"{col}.legs")


def _check_proxy(asset: str, spec, assets: dict, path: Path) -> None:
    """`[proxy] CRV = {asset = "WETH", beta = 1.6}`: an asset the scenario does not name moves with
    a beta to one it does (beta omitted: estimated from the lake, over `window` if given)."""
    col = f"proxy.{asset}"
    if not isinstance(spec, dict) or "asset" not in spec:
        raise InputError('expected a table such as {asset = "WETH", beta = 1.6}', file=path, column=col)
    if asset in assets:
        raise InputError("the scenario already names this asset's path under [assets]", file=path, column=col)
    if spec["asset"] not in assets:
        raise InputError(f"moves with {spec['asset']!r}, which the scenario does not name under [assets]",
                         file=path, column=f"{col}.asset")
    unknown = set(spec) - {"asset", "beta", "window", "lake_asset", "note"}
    if unknown:
        raise InputError(f"unknown key {sorted(unknown)[0]!r} (asset, beta, window, lake_asset, note)", file=path,
                         column=col)
    beta = spec.get("beta", 0.0)
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta != beta:
        raise InputError(f"beta must be a number (found {beta!r})", file=path, column=f"{col}.beta")
    window = spec.get("window")
    if window is not None:
        if not (isinstance(window, list) and len(window) == 2):
            raise InputError("window must be [from, to] date-times", file=path, column=f"{col}.window")
        a, b = (_utc(w, f"{col}.window", path) for w in window)
        if b <= a:
            raise InputError("window must end after it starts", file=path, column=f"{col}.window")


def list_scenarios(folder: Path = SCENARIO_DIR) -> list[Scenario]:
    return [load_scenario(p) for p in sorted(Path(folder).glob("*.toml"))]
