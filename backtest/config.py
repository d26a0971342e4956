"""The one frozen run configuration: written to every results folder, read back to rerun it.

`--set key=value` reaches any field by its dotted name (`oracle.deviation=0.01`, one deployed
oracle's `oracle.aave_v3.WETH.deviation=0.01`, `liquidator.min_profit_usd=50`,
`pool_depth_scale=0.5`) and any market parameter, for every asset or one
(`liquidation_threshold=0.8`, `liquidation_bonus.CRV=0.10`), and Comet's and Maker's market-wide
and per-ilk settings (`comet.target_reserves=1e7`, `maker.WETH.tail=3600`, `maker.ETH-B.buf=1.3`),
which land in the run's scenario tables.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

import tomli_w

from backtest.errors import InputError, closest

MARKET_PARAMS = ("ltv", "liquidation_threshold", "liquidation_bonus", "close_factor", "protocol_fee")
EMODE_PARAMS = ("ltv", "liquidation_threshold", "liquidation_bonus")


@dataclass(frozen=True)
class OracleConfig:
    kind: str = "chainlink"           # chainlink (push on deviation/heartbeat) | osm (Maker, one hop late) | twap
    deviation: float = 0.005          # Chainlink ETH/USD: 0.5 %
    heartbeat_seconds: int = 3600
    hop_seconds: int = 3600           # OSM: the price current in hour h was observed at the start of h-1
    window_seconds: int = 1800        # TWAP window over the market (pool) price
    # ("CRV.kind", "twap"), ("USDC.deviation", 0.01), ("aave_v3.WETH.deviation", 0.01), ("*.deviation", 0.01):
    # every --set oracle.* key, for the deployed-oracle table's feeds (backtest/markets/oracle_table.py)
    per_asset: tuple[tuple[str, object], ...] = ()

    def for_asset(self, asset: str, name: str):
        return dict(self.per_asset).get(f"{asset}.{name}", getattr(self, name))

    def feed_overrides(self) -> dict:
        """What overrides the deployed-oracle table: `per_asset`, plus each run-wide field away from
        its default as `*.KEY` (at its default it leaves the table's values)."""
        table = dict(self.per_asset)
        for f in fields(self):
            if f.name != "per_asset" and getattr(self, f.name) != f.default:
                table.setdefault(f"*.{f.name}", getattr(self, f.name))
        return table


IMPACT_KEYS = ("daily_volume_usd", "daily_volatility", "y", "permanent_share", "half_life_seconds")


@dataclass(frozen=True)
class ImpactConfig:
    """The reference market's impact model (backtest/markets/reference.py). Per-asset values come
    from backtest/markets/impact_params.py (calibrated: docs/calibration.md); these change them for a
    run. `permanent_share` and `half_life_seconds` cannot be observed directly: sensitivity runs
    vary them (docs/engine.md)."""
    scale: float = 1.0                        # multiplies every asset's Y
    permanent_share: float | None = None      # replaces every asset's theta
    half_life_seconds: float | None = None    # replaces every asset's h
    per_asset: tuple[tuple[str, float], ...] = ()   # ("WETH.y", 0.8), ("CRV.daily_volume_usd", 2e7)

    def for_asset(self, asset: str, name: str, default: float) -> float:
        table = dict(self.per_asset)
        if f"{asset}.{name}" in table:
            return table[f"{asset}.{name}"]
        value = getattr(self, name, None)
        return default if value is None else value


@dataclass(frozen=True)
class LiquidatorConfig:
    name: str = "profit-seeker"
    min_profit_usd: float = 0.0       # after bonus, swap cost and gas
    gas_units: int = 500_000          # liquidationCall + two swaps
    gas_asset: str = "WETH"           # gas is paid in this asset's market price
    sizes: tuple[float, ...] = (1.0, 0.5, 0.25, 0.1)   # fractions of the close-factor maximum tried
    latency_blocks: int = 0           # acts only on accounts liquidatable for at least this long
    capital_usd: float = 1_000_000.0  # own funds for the repayment (0 = unlimited); an assumption, docs/engine.md
    flash_loan_fee: float = 0.0005    # paid on the part of a repayment above its capital (Aave v3: 5 bps)


# The liquidators that race the lead one (`liquidator`) by default: a field, not a monopolist. Flash-loan
# fees are the sources' own: Balancer v2 0 (ProtocolFeesCollector._flashLoanFeePercentage starts at 0,
# governance may raise it to 1 %), Aave v2 0.09 % (LendingPool.initialize: _flashLoanPremiumTotal = 9 bps),
# Aave v3 0.05 % (the Ethereum market's configured premium; Pool.initialize starts at 9 bps). Two bots
# act in the block an account becomes liquidatable and two later: Perez et al. 2021 ("Liquidations: DeFi on
# a knife-edge", FC'21) find over 70 % of liquidatable Compound positions liquidated immediately. Gas
# units, capital and thresholds are assumptions (no public per-bot data): docs/engine.md, "Liquidators".
DEFAULT_COMPETITORS = (
    LiquidatorConfig(name="flash-searcher", gas_units=550_000, capital_usd=10_000.0, flash_loan_fee=0.0),
    LiquidatorConfig(name="aave-v2-flash", gas_units=450_000, latency_blocks=1, capital_usd=250_000.0,
                     flash_loan_fee=0.0009, min_profit_usd=50.0),
    LiquidatorConfig(name="slow-keeper", gas_units=400_000, latency_blocks=3, capital_usd=5_000_000.0,
                     flash_loan_fee=0.0009, min_profit_usd=100.0),
)


@dataclass(frozen=True)
class CompetitionConfig:
    """How liquidators compete for block space (backtest/agents/competition.py)."""
    # Share of the winner's profit paid to the block builder (priority fee / coinbase transfer) when two or
    # more liquidators can take the same job. With several searchers on one opportunity the proposer is paid
    # almost all of it (Mamageishvili, Schlegel, Sudakov, Sui 2024, "Searcher Competition in Block Building",
    # arXiv:2407.07474, theory and MEV-Share bundle data); 0.9 leaves the winner a tenth. Not calibrated on
    # liquidation transactions: /work/shared/data/real has none with their priority fees.
    builder_share: float = 0.9
    # Gas units one block holds; 0 = the path date's Ethereum limit (backtest/agents/competition.py GAS_LIMITS).
    block_gas_limit: float = 0.0


@dataclass(frozen=True)
class RunConfig:
    scenario: str
    lake: str
    seed: int = 0
    protocol: str = ""                # liquidate every account under these rules ("" = each row's own)
    feedback: bool = True
    # "excess": only simulated forced flow beyond the day's real liquidation flow moves prices (a book like
    # the real one on a historical path); None is "full" (every simulated flow moves them) and keeps
    # config.toml's bytes; "none" is feedback = False. docs/prices-and-scenarios.md.
    feedback_mode: str | None = None
    pool_depth_scale: float = 1.0
    split_orders: bool = False        # split a sale across venues at equal marginal prices (slower)
    # Arbitrage brings every pool to the reference price, to within its fee, in each block (0); a
    # positive half-life closes only part of the gap per block. CEX-DEX arbitrage is observed in
    # essentially every block (Heimbach, Pahari, Schertenleib 2024, "Non-atomic arbitrage in
    # decentralized finance"), hence 0.
    arb_half_life_seconds: float = 0.0
    block_seconds: float = 12.0       # one cascade round = one block (post-Merge Ethereum slot time)
    # A step's accounts are judged block after block while someone acts (or waits out a latency), the
    # auctions at each block their own clock moves (Start.keep_trading). True plays every block of every
    # step instead: the schedule that rule is checked against (docs/engine.md), ~4x slower.
    every_block: bool = False
    # "meet": each block's arbitrage takes venues and reference to the price where they meet, as an
    # arbitrageur trading both sides does (backtest/markets/arb_meet.py; a half-life > 0 closes that part of
    # each venue's gap to the meeting price). "pull": every venue to the reference price before
    # the block, its flow moving the reference after: overshoots a reference shallower than the pools
    # into a two-block cycle (docs/markets.md), kept to compare with runs before the switch.
    arbitrage: str = "meet"
    impact: ImpactConfig = field(default_factory=ImpactConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    liquidator: LiquidatorConfig = field(default_factory=LiquidatorConfig)
    competitors: tuple[LiquidatorConfig, ...] = DEFAULT_COMPETITORS   # the most profitable ready one acts
    competition: CompetitionConfig = field(default_factory=CompetitionConfig)
    market_overrides: tuple[tuple[str, float], ...] = ()   # ("liquidation_threshold.CRV", 0.7)
    emode_overrides: tuple[tuple[str, float], ...] = ()    # ("1.liquidation_threshold", 0.95)
    scenario_spec: dict = field(default_factory=dict, compare=False)  # the scenario as loaded

    def to_toml(self) -> str:
        data = dataclasses.asdict(self)
        data["market_overrides"] = {k: v for k, v in self.market_overrides}
        data["emode_overrides"] = {k: v for k, v in self.emode_overrides} or None   # absent: same bytes as before
        data["oracle"]["per_asset"] = {k: v for k, v in self.oracle.per_asset}
        data["impact"]["per_asset"] = {k: v for k, v in self.impact.per_asset}
        for agent in [data["liquidator"], *data["competitors"]]:
            agent["sizes"] = list(agent["sizes"])
        return tomli_w.dumps(_drop_none(data))

    @classmethod
    def from_toml(cls, text: str, source="config.toml") -> "RunConfig":
        data = tomllib.loads(text)
        try:
            oracle = data.get("oracle", {})
            oracle["per_asset"] = tuple(sorted(oracle.get("per_asset", {}).items()))
            data["oracle"] = OracleConfig(**oracle)
            impact = data.get("impact", {})
            impact["per_asset"] = tuple(sorted(impact.get("per_asset", {}).items()))
            data["impact"] = ImpactConfig(**impact)
            data["liquidator"] = _agent(data.get("liquidator", {}))
            data["competitors"] = tuple(_agent(a) for a in data["competitors"]) if "competitors" in data \
                else DEFAULT_COMPETITORS
            data["competition"] = CompetitionConfig(**data.get("competition", {}))
            data["market_overrides"] = tuple(sorted(data.get("market_overrides", {}).items()))
            data["emode_overrides"] = tuple(sorted(data.get("emode_overrides", {}).items()))
            return cls(**data)
        except TypeError as exc:
            raise InputError(f"not a run configuration: {exc}", file=source) from None

    @property
    def mode(self) -> str:
        """How forced flow feeds back into prices: "full", "excess" or "none"."""
        return "none" if not self.feedback else self.feedback_mode or "full"

    def run_id(self) -> str:
        return hashlib.sha256(self.to_toml().encode()).hexdigest()[:10]

    def market_param(self, name: str, asset: str, default: float) -> float:
        table = dict(self.market_overrides)
        return table.get(f"{name}.{asset}", table.get(name, default))

    def emode_param(self, name: str, category: int, default: float) -> float:
        return dict(self.emode_overrides).get(f"{category}.{name}", default)


def _agent(table: dict) -> LiquidatorConfig:
    table = dict(table)
    table["sizes"] = tuple(table.get("sizes", LiquidatorConfig.sizes))
    return LiquidatorConfig(**table)


def _drop_none(d):
    if isinstance(d, dict):
        return {k: _drop_none(v) for k, v in d.items() if v is not None}
    return d


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
    from backtest.protocols.maker.params import MakerParams
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
        names = [k for k, v in spec["maker"].items() if isinstance(v, dict)]     # an asset or an ilk (ETH-B)
        MakerParams.from_spec(spec, [(k, k) for k in names], source="--set")
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


def load_config(path: Path) -> RunConfig:
    return RunConfig.from_toml(Path(path).read_text(), source=path)
