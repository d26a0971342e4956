"""The one frozen run configuration: written to every results folder, read back to rerun it.

`--set key=value` reaches any field by its dotted name (`oracle.deviation=0.01`, one deployed
oracle's `oracle.aave_v3.WETH.deviation=0.01`, `liquidator.min_profit_usd=50`,
`pool_depth_scale=0.5`) and any market parameter, for every asset or one
(`liquidation_threshold=0.8`, `liquidation_bonus.CRV=0.10`), and Comet's and Maker's market-wide
and per-ilk settings (`comet.target_reserves=1e7`, `maker.WETH.tail=3600`, `maker.ETH-B.buf=1.3`),
which land in the run's scenario tables: backtest/overrides.py reads them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

import tomli_w

from backtest.errors import InputError

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


def load_config(path: Path) -> RunConfig:
    return RunConfig.from_toml(Path(path).read_text(), source=path)
