"""`--set key=value` (and a scenario's [parameters] table) onto the frozen RunConfig: every key's
parser, its check and the error that names it. The fields and their defaults are backtest/config.py's.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import fields

from backtest.config import (EMODE_PARAMS, IMPACT_KEYS, MARKET_PARAMS, CompetitionConfig, LiquidatorConfig,
                             OracleConfig, RunConfig, _agent)
from backtest.errors import InputError, closest


def _coerce(text: str, kind, key: str):
    try:
        if kind is bool or kind == "bool":
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if kind in (int, "int"):
            return int(text)
        if kind in (float, "float"):
            return float(text)
        if kind in ("tuple[float, ...]",):
            return tuple(float(x) for x in text.split(","))
        return text
    except ValueError:
        raise InputError(f"--set {key}={text}: expected {getattr(kind, '__name__', kind)}") from None


def apply_overrides(config: RunConfig, pairs: list[str] | tuple[str, ...] | dict) -> RunConfig:
    """Apply `key=value` overrides (CLI strings or a scenario's [parameters] table)."""
    items = pairs.items() if isinstance(pairs, dict) else [_split(p) for p in pairs]
    for key, value in items:
        config = _apply_one(config, key, value)
        _check_range(config, key)
    return config


FEEDBACK_MODES = ("full", "excess", "none")
# parameter: (lowest allowed, whether the lowest itself is allowed)
RANGES = {"pool_depth_scale": (0.0, False), "arb_half_life_seconds": (0.0, True), "block_seconds": (0.0, False),
          "impact.scale": (0.0, True), "impact.permanent_share": (0.0, True), "impact.half_life_seconds": (0.0, True),
          "oracle.deviation": (0.0, True), "oracle.heartbeat_seconds": (0, False), "oracle.hop_seconds": (0, False),
          "oracle.window_seconds": (0, False), "liquidator.gas_units": (0, True),
          "liquidator.latency_blocks": (0, True), "liquidator.capital_usd": (0.0, True),
          "liquidator.flash_loan_fee": (0.0, True), "competition.builder_share": (0.0, True),
          "competition.block_gas_limit": (0.0, True)}


def _check_range(config: RunConfig, key: str) -> None:
    if key not in RANGES:
        return
    head, _, rest = key.partition(".")
    value = getattr(getattr(config, head), rest) if rest else getattr(config, key)
    low, inclusive = RANGES[key]
    if value < low or (value == low and not inclusive):
        raise InputError(f"--set {key}={value}: must be {'>=' if inclusive else '>'} {low}")
    if key == "competition.builder_share" and value > 1:
        raise InputError(f"--set {key}={value}: a share of profit, must be <= 1")


def _split(pair: str) -> tuple[str, str]:
    if "=" not in pair:
        raise InputError(f"--set expects key=value, got {pair!r}")
    key, value = pair.split("=", 1)
    return key.strip(), value.strip()


def _mechanism_keys() -> list[str]:
    """comet.KEY, maker.KEY, maker.ASSET.KEY (or maker.ILK.KEY), flip.KEY and flip.ILK.KEY, for the list of
    known --set keys."""
    from backtest.protocols.comet.params import CometParams
    from backtest.protocols.maker.params import Ilk, MakerParams
    from backtest.protocols.maker_flip.params import FlipIlk, FlipParams
    return ([f"comet.{f.name}" for f in fields(CometParams)] + [f"maker.{f.name}" for f in fields(MakerParams)]
            + [f"maker.ASSET.{f.name}" for f in fields(Ilk)] + [f"flip.{f.name}" for f in fields(FlipParams)]
            + [f"flip.ILK.{f.name}" for f in fields(FlipIlk)])


def _mechanism_override(config: RunConfig, key: str, value) -> RunConfig:
    """`comet.KEY`, `maker.KEY`, `maker.ASSET.KEY`, `maker.ILK.KEY`, `flip.KEY`, `flip.ILK.KEY`: the scenario's
    [comet] / [maker] / [flip] tables, checked now by the same reader the run uses (backtest/protocols/comet/params.py,
    maker/params.py, maker_flip/params.py), so a typo in a key fails before the run; an ilk or asset the book does
    not have fails when the book is read."""
    from backtest.protocols.comet.params import CometParams
    from backtest.protocols.maker.params import check_tables
    from backtest.protocols.maker_flip.params import FlipParams
    path = key.split(".")
    if len(path) not in (2, 3) or (path[0] == "comet" and len(path) != 2):
        raise InputError(f"--set {key}: expected comet.KEY, maker.KEY, maker.ASSET.KEY, maker.ILK.KEY, flip.KEY "
                         "or flip.ILK.KEY")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass                                     # a name: comet.absorb, maker.ASSET.curve
    spec = copy.deepcopy(config.scenario_spec)
    table = spec.setdefault(path[0], {})
    for part in path[1:-1]:
        table = table.setdefault(part, {})
    table[path[-1]] = value
    if path[0] == "comet":
        CometParams.from_spec(spec, source="--set")
    elif path[0] == "flip":                                                  # Maker Liquidations 1.x
        FlipParams.from_spec(spec, [k for k, v in spec["flip"].items() if isinstance(v, dict)], source="--set")
    else:
        check_tables(spec, "--set")
    return dataclasses.replace(config, scenario_spec=spec)


def mechanism_value(config: RunConfig, key: str):
    """The value `comet.KEY`, `maker.KEY`, `maker.ASSET.KEY` (or `maker.ILK.KEY`), `flip.KEY` or
    `flip.ILK.KEY` has in a run of `config`: its scenario's table as `--set` left it, else the
    protocol's default, read by the same readers the run uses (a sweep's table shows it)."""
    from backtest.protocols.comet.params import CometParams
    from backtest.protocols.maker.params import MakerParams
    from backtest.protocols.maker_flip.params import FlipParams
    path, spec = key.split("."), config.scenario_spec
    named = len(path) == 3                       # an asset's or an ilk's own value
    if path[0] == "comet":
        return getattr(CometParams.from_spec(spec), path[-1], None)
    if path[0] == "flip":
        params, ilks = FlipParams.from_spec(spec, [path[1]] if named else [])
    else:
        params, ilks = MakerParams.from_spec(spec, [(path[1], path[1])] if named else [])
    return getattr(ilks[0] if named else params, path[-1], None)


def table_value(config: RunConfig, key: str):
    """The value an `--set` kept in one of the config's override tables had (`impact.ASSET.KEY`,
    `emode.CATEGORY.KEY`, `oracle.ASSET.KEY`, `oracle.PROTOCOL.ASSET.KEY`, `oracle.KEY` for a feed key),
    or None where the run left it to the lake's or the table's own value."""
    head, _, rest = key.partition(".")
    if head == "impact":
        return dict(config.impact.per_asset).get(rest)
    if head == "emode":
        category, _, name = rest.partition(".")
        return dict(config.emode_overrides).get(f"{int(category)}.{name}" if category.isdigit() else rest)
    if head == "oracle":
        from backtest.markets.oracle_table import protocol_key
        parts = rest.split(".")
        name = (f"*.{rest}" if len(parts) == 1 else rest if len(parts) == 2
                else ".".join([protocol_key(parts[0])] + parts[1:]))
        return dict(config.oracle.per_asset).get(name)
    return None


def _oracle_override(config: RunConfig, key: str, value) -> RunConfig:
    """`oracle.KEY` (every feed), `oracle.ASSET.KEY` (that asset in every protocol),
    `oracle.PROTOCOL.ASSET.KEY` (one feed), for the deployed-oracle table
    (backtest/markets/oracle_table.py). A run-wide field (kind, deviation, ...) is set as before and
    overrides the table when it is not at its default (OracleConfig.feed_overrides), so a config
    equal to the default is the default run; the other keys are kept as `*.KEY`, `ASSET.KEY`,
    `protocol.ASSET.KEY` in `per_asset`."""
    from backtest.markets.oracle_table import PROTOCOLS, check_key, coerce, protocol_key
    parts = key.split(".")
    if len(parts) > 4 or "" in parts:
        raise InputError(f"--set {key}: expected oracle.KEY, oracle.ASSET.KEY or oracle.PROTOCOL.ASSET.KEY")
    fieldtypes = {f.name: f.type for f in fields(OracleConfig)}
    if len(parts) == 2 and parts[1] in fieldtypes and parts[1] != "per_asset":
        coerce(key, parts[1], value)                         # kind: one of the table's kinds
        v = _coerce(str(value), fieldtypes[parts[1]], key)
        return dataclasses.replace(config, oracle=dataclasses.replace(config.oracle, **{parts[1]: v}))
    if len(parts) == 4:
        name, v = check_key(key, value)
    elif len(parts) == 3 and protocol_key(parts[1]) in PROTOCOLS:
        raise InputError(f"--set {key}: {parts[1]} is a protocol; one protocol's feed is oracle.{parts[1]}.ASSET."
                         f"{parts[2]}")
    else:
        name, v = (f"*.{parts[-1]}" if len(parts) == 2 else ".".join(parts[1:])), coerce(key, parts[-1], value)
    table = dict(config.oracle.per_asset)
    table[name] = v
    oracle = dataclasses.replace(config.oracle, per_asset=tuple(sorted(table.items())))
    return dataclasses.replace(config, oracle=oracle)


def _apply_one(config: RunConfig, key: str, value) -> RunConfig:
    head, _, rest = key.partition(".")
    if head in ("comet", "maker", "flip") and rest:
        return _mechanism_override(config, key, value)
    if head in MARKET_PARAMS:
        v = _coerce(str(value), float, key)
        table = dict(config.market_overrides)
        table[key] = v
        return dataclasses.replace(config, market_overrides=tuple(sorted(table.items())))
    if head == "emode":                                  # emode.1.liquidation_threshold = 0.95
        category, _, name = rest.partition(".")
        if not category.isdigit() or not 1 <= int(category) <= 255 or name not in EMODE_PARAMS:
            raise InputError(f"--set {key}: e-mode overrides are emode.CATEGORY.PARAM with CATEGORY 1..255 and "
                             f"PARAM one of {', '.join(EMODE_PARAMS)}")
        table = dict(config.emode_overrides)
        table[f"{int(category)}.{name}"] = _coerce(str(value), float, key)
        return dataclasses.replace(config, emode_overrides=tuple(sorted(table.items())))
    names = {f.name: f for f in fields(config)}
    if key == "feedback_mode":                  # none = --no-feedback; full = the default, same run id
        if value not in FEEDBACK_MODES:
            raise InputError(f"--set feedback_mode={value}: one of {', '.join(FEEDBACK_MODES)}")
        return dataclasses.replace(config, feedback=value != "none",
                                   feedback_mode="excess" if value == "excess" else None)
    if head == "competitors":
        if value == "none":                                # --set competitors=none: the lead liquidator alone
            return dataclasses.replace(config, competitors=())
        if not isinstance(value, list):
            raise InputError("competitors takes a list of liquidator tables (in a scenario's [parameters]) or "
                             "`none`")
        return dataclasses.replace(config, competitors=tuple(_agent(a) for a in value))
    if head == "oracle" and rest:
        return _oracle_override(config, key, value)
    if head == "impact" and rest:                          # impact.scale, impact.WETH.y
        asset, _, name = rest.rpartition(".")
        known = ("scale", "permanent_share", "half_life_seconds") if not asset else IMPACT_KEYS
        if name not in known:
            raise InputError(f"unknown parameter {key!r} (known: impact.scale, impact.permanent_share, "
                             f"impact.half_life_seconds, impact.ASSET.{{{','.join(IMPACT_KEYS)}}})")
        v = _coerce(str(value), float, key)
        if asset:
            table = dict(config.impact.per_asset)
            table[rest] = v
            return dataclasses.replace(config, impact=dataclasses.replace(config.impact,
                                                                          per_asset=tuple(sorted(table.items()))))
        return dataclasses.replace(config, impact=dataclasses.replace(config.impact, **{name: v}))
    if head in ("liquidator", "competition") and rest:
        sub = getattr(config, head)
        subfields = {f.name: f for f in fields(sub)}
        if rest not in subfields:
            known = [f"{head}.{n}" for n in subfields]
            raise InputError(f"unknown parameter {key!r}{closest(key, known)} (known: {', '.join(known)})")
        v = value if not isinstance(value, str) else _coerce(value, subfields[rest].type, key)
        return dataclasses.replace(config, **{head: dataclasses.replace(sub, **{rest: v})})
    settable = [n for n in names if n not in ("scenario", "lake", "market_overrides", "emode_overrides",
                                              "scenario_spec",
                                              "oracle", "liquidator", "competitors", "impact", "competition")]
    if key == "protocol":
        from backtest.protocols.rules import RULES
        if value not in RULES:
            raise InputError(f"--set protocol={value}: replayable protocols are {', '.join(sorted(RULES))}")
    if key not in settable:
        known = settable + [f"oracle.{f.name}" for f in fields(OracleConfig)] + \
            [f"liquidator.{f.name}" for f in fields(LiquidatorConfig)] + [f"{p}[.ASSET]" for p in MARKET_PARAMS] + \
            [f"competition.{f.name}" for f in fields(CompetitionConfig)] + ["competitors=none"] + \
            [f"emode.CATEGORY.{p}" for p in EMODE_PARAMS] + _mechanism_keys() + \
            ["impact.scale", "impact.permanent_share", "impact.half_life_seconds", "impact.ASSET.KEY"]
        near = closest(key, [k.replace("[.ASSET]", "") for k in known])
        raise InputError(f"unknown parameter {key!r}{near} (known: {', '.join(known)})")
    v = value if not isinstance(value, str) else _coerce(value, names[key].type, key)
    return dataclasses.replace(config, **{key: v})
