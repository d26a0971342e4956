"""The oracles each protocol reads on Ethereum mainnet, per (protocol, asset) and the date a
deployment came into force, each row with its public source.

Every feed reads the *reference market* (the CEX-led aggregate price plus our flow's impact),
never a DEX pool: a Chainlink aggregator's nodes and Maker's medianizer both median CEX-led
sources. Kinds (backtest/markets/oracles.py does the arithmetic):

* ``chainlink``: a new round when the reference moved by ``deviation`` from the last answer or
  ``heartbeat_seconds`` passed; ``quote`` "" = USD, or an asset for an X/quote feed (Aave v2's
  X/ETH feeds); ``price_cap`` > 0 caps the answer (Aave's CAPO for stablecoins).
* ``lst``: exchange rate x a Chainlink feed of ``base`` (Aave v3 wstETH = wstETH/stETH rate x
  ETH/USD); ``capo_growth`` > 0 caps the rate at snapshot x (1 + growth x elapsed / year), the
  snapshot taken ``capo_delay_seconds`` before the start at the start's rate.
* ``osm``: Maker's OSM, one ``hop_seconds`` late, reading the gem's medianizer (= the reference).
* ``anchored``: Compound v2's UniswapAnchoredView: a reporter pushing on deviation/heartbeat,
  each new price kept only within ``anchor_tolerance`` of the ``anchor_seconds`` TWAP.
* ``fixed``: ``fixed_price`` in USD (or in ``quote``): Compound v2's USDC/USDT at $1, Maker's DAI
  (the Vat counts debt in DAI at par), Aave v2's WETH (1 ETH).
* ``twap``: a TWAP of the reference over ``window_seconds`` (for what-ifs; no row uses it).

A pair the table has no row for takes its protocol's ``*`` row; a protocol it does not know, the
``*`` protocol's. A start before a pair's first row takes that first row (today's book replayed
on an older path keeps the oracle it has, not one it never had); docs/markets.md says so.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass

import numpy as np

from backtest.errors import InputError

KINDS = ("chainlink", "lst", "osm", "anchored", "fixed", "twap")


@dataclass(frozen=True)
class Feed:
    """One deployed oracle's parameters (the fields `--set oracle.PROTOCOL.ASSET.KEY` reaches)."""
    kind: str = "chainlink"
    deviation: float = 0.005
    heartbeat_seconds: float = 3600.0
    hop_seconds: float = 3600.0
    window_seconds: float = 1800.0
    quote: str = ""                 # "" = USD; else the asset an X/quote feed is denominated in
    base: str = ""                  # lst: the asset whose feed the exchange rate multiplies
    fixed_price: float = 1.0        # fixed: the price, in USD or in `quote`
    price_cap: float = 0.0          # chainlink: CAPO's fixed cap of a stablecoin (0 = none)
    rate: float = 0.0               # lst: exchange rate at the start (0 = the start prices' ratio)
    rate_apr: float = 0.0           # lst: the rate's own growth per year over the replay
    capo_growth: float = 0.0        # lst: CAPO's maxYearlyRatioGrowthPercent / 100 (0 = no cap)
    capo_delay_seconds: float = 0.0  # lst: CAPO's snapshot age at the start (minimumSnapshotDelay)
    anchor_tolerance: float = 0.0   # anchored: anchorToleranceMantissa / 1e18
    anchor_seconds: float = 1800.0  # anchored: anchorPeriod

    def check(self, where: str) -> "Feed":
        if self.kind not in KINDS:
            raise InputError(f"{where}: oracle kind {self.kind!r} is not one of {', '.join(KINDS)}")
        for name in ("heartbeat_seconds", "hop_seconds", "window_seconds", "anchor_seconds"):
            if not getattr(self, name) > 0:
                raise InputError(f"{where}: {name} must be > 0, got {getattr(self, name)}")
        for name in ("deviation", "price_cap", "rate", "capo_growth", "capo_delay_seconds", "anchor_tolerance"):
            if getattr(self, name) < 0:
                raise InputError(f"{where}: {name} must be >= 0, got {getattr(self, name)}")
        if self.kind == "lst" and not self.base:
            raise InputError(f"{where}: an lst feed needs a base asset (oracle...base=WETH)")
        return self


KEYS = {f.name: f.type for f in dataclasses.fields(Feed)}
YEAR = 365 * 86_400.0               # aave-capo PriceCapAdapterBase.SECONDS_PER_YEAR (365 days)

# Chainlink feed parameters (deviation, heartbeat) of Ethereum mainnet, each with where it was checked.
# "real rounds": getRoundData dumps in /work/shared/data/real/chainlink_sajanrajdev (docs/markets.md,
# "Oracles as deployed", gives the measurement); "not re-checked": as data.chain.link lists the feed,
# not confirmed from a second public source in this repository.
CL_SOURCES = {
    "ETH/USD": "0.5 % (smartcontractkit/chainlink#2679), 1 h (data.chain.link, quoted in "
               "sherlock-audit/2024-05-midas-judging#3); real rounds 2023-04..2024-01: median non-heartbeat "
               "move 0.50 %, longest gap 3,720 s",
    "BTC/USD": "0.5 %, 1 h; real rounds 2023-04..2024-01: median non-heartbeat move 0.50 %, longest gap 3,720 s",
    "USDC/USD": "0.25 % (Chainlink directory, quoted in yearn/monitoring#310), 24 h "
                "(sherlock-audit/2023-04-jojo-judging#449)",
    "USDT/USD": "0.25 % (Chainlink directory, quoted in yearn/monitoring#310), 24 h (not re-checked)",
    "DAI/USD": "0.25 %, 1 h (not re-checked)",
    "CRV/USD": "1 %, 24 h (not re-checked)",
    "LINK/USD": "1 %, 1 h (not re-checked)",
    "stETH/ETH": "0.5 %, 24 h; real rounds 2022-01..2024-01: median non-heartbeat move 0.52 %, longest gap 86,608 s",
    "USDC/ETH": "1 %, 24 h (data.chain.link, quoted in Gravita-Protocol/Gravita-SmartContracts#268)",
    "USDT/ETH": "1 %, 24 h (taken as USDC/ETH; not re-checked)",
    "DAI/ETH": "1 %, 24 h (taken as USDC/ETH; not re-checked)",
    "BTC/ETH": "2 %, 24 h (not re-checked)",
    "CRV/ETH": "2 %, 24 h (not re-checked)",
}


def cl(pair: str) -> str:
    return f"Chainlink {pair}: {CL_SOURCES[pair]}"


ETH_USD = dict(deviation=0.005, heartbeat_seconds=3600.0)
BTC_USD = dict(deviation=0.005, heartbeat_seconds=3600.0)
USDC_USD = dict(deviation=0.0025, heartbeat_seconds=86400.0)
USDT_USD = dict(deviation=0.0025, heartbeat_seconds=86400.0)
DAI_USD = dict(deviation=0.0025, heartbeat_seconds=3600.0)
CRV_USD = dict(deviation=0.01, heartbeat_seconds=86400.0)
LINK_USD = dict(deviation=0.01, heartbeat_seconds=3600.0)
STETH_ETH = dict(deviation=0.005, heartbeat_seconds=86400.0)
X_ETH = dict(deviation=0.01, heartbeat_seconds=86400.0, quote="WETH")     # USDC/ETH, USDT/ETH, DAI/ETH
X_ETH_2 = dict(deviation=0.02, heartbeat_seconds=86400.0, quote="WETH")   # BTC/ETH, CRV/ETH

AAVE_V3 = "AaveOracle sources, aave-address-book AaveV3Ethereum; Aave v3 Ethereum live 2023-01-27"
WSTETH_2023 = ("bgd-labs/aave-proposals src/AaveV2-V3PriceFeedsUpdate_20230613: wstETH = wstETH/stETH "
               "exchange rate x ETH/USD (CL synchronicity adapter), proposal created 2023-06-13")
CAPO_2024 = ("bgd-labs/aave-proposals-v3 src/20240227_Multi_SetPriceCapAdapters: CAPO, wstETH 9.68 %/year, "
             "snapshot delay 7 days, stablecoins capped at 4 % (1.04); cap = snapshotRatio x (1 + growth x "
             "elapsed / 365 days), bgd-labs/aave-capo PriceCapAdapterBase")
UAV_2020 = ("Compound v2 Open Price Feed: compound-finance/open-oracle UniswapAnchoredView, Coinbase reporter, "
            "Uniswap v2 TWAP anchor (anchorPeriod 1800 s), USDC/USDT FIXED_USD $1 (compound.finance/docs/prices); "
            "anchor tolerance 20 % (Compound proposal 47 moves it 'from 20% to 15%'); in force date approximate")
UAV_2021 = ("Compound proposal 47 'Oracle Improvement' (voting from 2021-06-16, executed days later; boardroom.io, "
            "comp.xyz/t/oracle-infrastructure-chainlink-proposal/1272): Chainlink feeds report through "
            "ValidatorProxy, anchor tolerance 15 %; the later UAV with Uniswap v3 anchors keeps 0.15e18 and 1800 s "
            "(compound-finance/open-oracle configuration/parameters.js); USDC/USDT FIXED_USD $1")
OSM = ("makerdao/osm src/osm.sol: poke once per hop (3600 s), the current price is the one queued an hour "
       "before; one OSM per gem (PIP_ETH serves ETH-A/B/C); DAI at par (Vat debt in DAI, Spotter.par = 1)")
COMET = "Compound III (comet) USDC market, live 2022-08-26: Chainlink price feeds per asset (Comet.getPrice)"
SPARK = ("Spark Lend (Aave v3 fork, live 2023-05-09): AaveOracle with Chainlink feeds; wstETH = stETH rate x "
         "ETH/USD; DAI fixed at $1 (docs.spark.fi, date approximate)")
MORPHO = ("Morpho Blue (live 2024-01): one oracle per market, MorphoChainlinkOracleV2 composing the pair's "
          "Chainlink feeds (wstETH through its vault's exchange rate), no cap of its own")
DEFAULT = "no deployed row for this pair: the ETH/USD feed's rule (0.5 %, 1 h) on the reference"

# (protocol, asset, valid from, parameters, source); "*" = any other asset / protocol.
ROWS: list[tuple[str, str, str, dict, str]] = [
    ("*", "*", "2019-01-01", dict(kind="chainlink", **ETH_USD), DEFAULT),
    ("aave_v3", "*", "2023-01-27", dict(kind="chainlink", **ETH_USD), AAVE_V3 + "; " + DEFAULT),
    ("aave_v3", "WETH", "2023-01-27", dict(kind="chainlink", **ETH_USD), AAVE_V3 + "; " + cl("ETH/USD")),
    ("aave_v3", "WBTC", "2023-01-27", dict(kind="chainlink", **BTC_USD),
     AAVE_V3 + "; WBTC/BTC x BTC/USD adapter, modelled as BTC/USD on the WBTC reference. " + cl("BTC/USD")),
    ("aave_v3", "wstETH", "2023-01-27", dict(kind="chainlink", **STETH_ETH),
     AAVE_V3 + "; before 2023-06 the adapter read the secondary market (stETH/ETH or stETH/USD x rate), "
     "modelled as the stETH/ETH feed's rule on the wstETH reference. " + cl("stETH/ETH")),
    ("aave_v3", "wstETH", "2023-06-13", dict(kind="lst", base="WETH", **ETH_USD), WSTETH_2023),
    ("aave_v3", "wstETH", "2024-02-27", dict(kind="lst", base="WETH", capo_growth=0.0968,
                                             capo_delay_seconds=7 * 86400.0, **ETH_USD), CAPO_2024),
    ("aave_v3", "USDC", "2023-01-27", dict(kind="chainlink", **USDC_USD), AAVE_V3 + "; " + cl("USDC/USD")),
    ("aave_v3", "USDC", "2024-02-27", dict(kind="chainlink", price_cap=1.04, **USDC_USD), CAPO_2024),
    ("aave_v3", "USDT", "2023-01-27", dict(kind="chainlink", **USDT_USD), AAVE_V3 + "; " + cl("USDT/USD")),
    ("aave_v3", "USDT", "2024-02-27", dict(kind="chainlink", price_cap=1.04, **USDT_USD), CAPO_2024),
    ("aave_v3", "DAI", "2023-01-27", dict(kind="chainlink", **DAI_USD), AAVE_V3 + "; " + cl("DAI/USD")),
    ("aave_v3", "DAI", "2024-02-27", dict(kind="chainlink", price_cap=1.04, **DAI_USD), CAPO_2024),
    ("aave_v3", "CRV", "2023-01-27", dict(kind="chainlink", **CRV_USD), AAVE_V3 + "; " + cl("CRV/USD")),
    ("aave_v3", "LINK", "2023-01-27", dict(kind="chainlink", **LINK_USD), AAVE_V3 + "; " + cl("LINK/USD")),
    # Aave v2 Ethereum prices in ETH (AaveOracle with X/ETH Chainlink feeds, WETH = 1 ETH); the USD
    # value is the ETH answer x the ETH reference, which leaves every ratio (health factors) as on chain.
    ("aave_v2", "*", "2020-12-03", dict(kind="chainlink", **X_ETH_2),
     "Aave v2 AaveOracle (live 2020-12-03) X/ETH feeds: an asset without a row of its own takes the 2 %, 24 h "
     "rule of BTC/ETH and CRV/ETH (not re-checked)"),
    ("aave_v2", "WETH", "2020-12-03", dict(kind="fixed", fixed_price=1.0, quote="WETH"),
     "Aave v2 AaveOracle: WETH is the base currency, 1 ETH"),
    ("aave_v2", "USDC", "2020-12-03", dict(kind="chainlink", **X_ETH), "Aave v2 AaveOracle: " + cl("USDC/ETH")),
    ("aave_v2", "USDT", "2020-12-03", dict(kind="chainlink", **X_ETH), "Aave v2 AaveOracle: " + cl("USDT/ETH")),
    ("aave_v2", "DAI", "2020-12-03", dict(kind="chainlink", **X_ETH), "Aave v2 AaveOracle: " + cl("DAI/ETH")),
    ("aave_v2", "WBTC", "2020-12-03", dict(kind="chainlink", **X_ETH_2), "Aave v2 AaveOracle: " + cl("BTC/ETH")),
    ("aave_v2", "CRV", "2020-12-03", dict(kind="chainlink", **X_ETH_2), "Aave v2 AaveOracle: " + cl("CRV/ETH")),
    ("aave_v2", "wstETH", "2020-12-03", dict(kind="chainlink", quote="WETH", **STETH_ETH),
     "Aave v2 lists stETH (stETH/ETH feed), not wstETH: the stETH/ETH rule on the wstETH reference. "
     + cl("stETH/ETH")),
    ("aave_v2", "wstETH", "2023-06-13", dict(kind="lst", base="WETH", quote="WETH", heartbeat_seconds=86400.0),
     WSTETH_2023 + "; Aave v2's stETH = 1 ETH, so wstETH = rate x 1 ETH"),
    # Compound v2: the Open Price Feed.
    ("compound_v2", "*", "2020-08-01", dict(kind="anchored", anchor_tolerance=0.20, deviation=0.01), UAV_2020),
    ("compound_v2", "USDC", "2020-08-01", dict(kind="fixed", fixed_price=1.0), UAV_2020),
    ("compound_v2", "USDT", "2020-08-01", dict(kind="fixed", fixed_price=1.0), UAV_2020),
    ("compound_v2", "*", "2021-06-22", dict(kind="anchored", anchor_tolerance=0.15, **ETH_USD), UAV_2021),
    ("compound_v2", "WETH", "2021-06-22", dict(kind="anchored", anchor_tolerance=0.15, **ETH_USD), UAV_2021),
    ("compound_v2", "WBTC", "2021-06-22", dict(kind="anchored", anchor_tolerance=0.15, **BTC_USD), UAV_2021),
    ("compound_v2", "DAI", "2021-06-22", dict(kind="anchored", anchor_tolerance=0.15, **DAI_USD), UAV_2021),
    ("compound_v2", "USDC", "2021-06-22", dict(kind="fixed", fixed_price=1.0), UAV_2021),
    ("compound_v2", "USDT", "2021-06-22", dict(kind="fixed", fixed_price=1.0), UAV_2021),
    # Comet (Compound III USDC).
    ("comet", "*", "2022-08-26", dict(kind="chainlink", **ETH_USD), COMET + "; " + DEFAULT),
    ("comet", "WETH", "2022-08-26", dict(kind="chainlink", **ETH_USD), COMET + ": " + cl("ETH/USD")),
    ("comet", "WBTC", "2022-08-26", dict(kind="chainlink", **BTC_USD),
     COMET + ": WBTC/BTC x BTC/USD, modelled as BTC/USD. " + cl("BTC/USD")),
    ("comet", "USDC", "2022-08-26", dict(kind="chainlink", **USDC_USD), COMET + ": " + cl("USDC/USD")),
    ("comet", "LINK", "2022-08-26", dict(kind="chainlink", **LINK_USD), COMET + ": " + cl("LINK/USD")),
    # Maker: one OSM per gem, reading its medianizer.
    ("maker", "*", "2019-11-18", dict(kind="osm", hop_seconds=3600.0), OSM),
    ("maker", "DAI", "2019-11-18", dict(kind="fixed", fixed_price=1.0), OSM),
    # Spark and Morpho Blue: not in the sample lake; rows so a book that has them reads a deployed oracle.
    ("spark", "*", "2023-05-09", dict(kind="chainlink", **ETH_USD), SPARK + "; " + DEFAULT),
    ("spark", "WETH", "2023-05-09", dict(kind="chainlink", **ETH_USD), SPARK),
    ("spark", "WBTC", "2023-05-09", dict(kind="chainlink", **BTC_USD), SPARK),
    ("spark", "wstETH", "2023-05-09", dict(kind="lst", base="WETH", **ETH_USD), SPARK),
    ("spark", "DAI", "2023-05-09", dict(kind="fixed", fixed_price=1.0), SPARK),
    ("spark", "USDC", "2023-05-09", dict(kind="chainlink", **USDC_USD), SPARK),
    ("spark", "USDT", "2023-05-09", dict(kind="chainlink", **USDT_USD), SPARK),
    ("morpho_blue", "*", "2024-01-02", dict(kind="chainlink", **ETH_USD), MORPHO + "; " + DEFAULT),
    ("morpho_blue", "WETH", "2024-01-02", dict(kind="chainlink", **ETH_USD), MORPHO),
    ("morpho_blue", "WBTC", "2024-01-02", dict(kind="chainlink", **BTC_USD), MORPHO),
    ("morpho_blue", "wstETH", "2024-01-02", dict(kind="lst", base="WETH", **ETH_USD), MORPHO),
    ("morpho_blue", "USDC", "2024-01-02", dict(kind="chainlink", **USDC_USD), MORPHO),
    ("morpho_blue", "USDT", "2024-01-02", dict(kind="chainlink", **USDT_USD), MORPHO),
    ("morpho_blue", "DAI", "2024-01-02", dict(kind="chainlink", **DAI_USD), MORPHO),
]

PROTOCOLS = sorted({p for p, *_ in ROWS} - {"*"})
ASSETS = sorted({a for _, a, *_ in ROWS} - {"*"})


def protocol_key(name: str) -> str:
    """The table's name of a book protocol: aave-v3 -> aave_v3; Aave v3.3 is the same AaveOracle."""
    key = name.strip().lower().replace("-", "_")
    return "aave_v3" if key.startswith("aave_v3") else key


def row(protocol: str, asset: str, start: np.datetime64) -> tuple[dict, str, str]:
    """(parameters, source, valid_from) of the row in force at `start`: the pair's, else its protocol's
    `*` row; before the protocol's first row, that first row; a protocol the table lacks, the `*` one."""
    day = str(np.datetime64(start, "D"))
    pair = sorted((r for r in ROWS if r[0] == protocol and r[1] == asset), key=lambda r: r[2])
    other = sorted((r for r in ROWS if r[0] == protocol and r[1] == "*"), key=lambda r: r[2])
    fallback = sorted((r for r in ROWS if r[0] == "*"), key=lambda r: r[2])
    for rows in ([r for r in pair if r[2] <= day], [r for r in other if r[2] <= day]):
        if rows:
            return rows[-1][3], rows[-1][4], rows[-1][2]
    chosen = pair[0] if pair else other[0] if other else fallback[-1]
    return chosen[3], chosen[4], chosen[2]


def resolve(protocol: str, asset: str, start: np.datetime64, overrides: dict) -> tuple[Feed, str]:
    """The feed of a (book protocol, asset) at `start`, with `--set` overrides applied, most specific
    last: `*.KEY` (oracle.KEY), `ASSET.KEY`, `PROTOCOL.*.KEY`, `PROTOCOL.ASSET.KEY`."""
    pkey = protocol_key(protocol)
    params, source, _ = row(pkey, asset, start)
    values = dict(params)
    for key in KEYS:
        for name in (f"*.{key}", f"{asset}.{key}", f"{pkey}.*.{key}", f"{pkey}.{asset}.{key}"):
            if name in overrides:
                values[key] = overrides[name]
    feed = Feed(**{k: (str(v) if KEYS[k] == "str" else v) for k, v in values.items()})
    return feed.check(f"oracle {pkey}:{asset}"), source


def _closest(name: str, known) -> str:
    near = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    return f"closest: {', '.join(near)}" if near else f"known: {', '.join(sorted(known))}"


def check_key(key: str, value) -> tuple[str, object]:
    """`--set oracle.PROTOCOL.ASSET.KEY=value` (ASSET `*`: every asset of that protocol) ->
    ("protocol.ASSET.KEY", typed value), or a one-line InputError naming the closest protocol,
    asset or key."""
    parts = key.split(".")
    if len(parts) != 4:
        raise InputError(f"--set {key}: expected oracle.PROTOCOL.ASSET.KEY")
    _, protocol, asset, name = parts
    pkey = protocol_key(protocol)
    if pkey not in PROTOCOLS:
        raise InputError(f"--set {key}: unknown oracle protocol {protocol!r} ({_closest(pkey, PROTOCOLS)})")
    if asset not in ASSETS and asset != "*":
        raise InputError(f"--set {key}: unknown oracle asset {asset!r} ({_closest(asset, ASSETS)})")
    return f"{pkey}.{asset}.{name}", coerce(key, name, value)


def coerce(key: str, name: str, value):
    """A feed key's value, typed; a one-line InputError for an unknown key or a bad value."""
    if name not in KEYS:
        raise InputError(f"--set {key}: unknown oracle key {name!r} ({_closest(name, KEYS)})")
    if KEYS[name] == "str":
        if name == "kind" and value not in KINDS:
            raise InputError(f"--set {key}={value}: oracle kinds are {', '.join(KINDS)}")
        return str(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"--set {key}={value}: expected a number") from None


def table_markdown() -> str:
    """The table as docs/markets.md shows it (a test keeps the two equal)."""
    lines = ["| protocol | asset | from | kind | parameters | source |", "|---|---|---|---|---|---|"]
    order = sorted(ROWS, key=lambda r: (r[0] != "*", r[0], r[1] != "*", r[1], r[2]))
    for protocol, asset, day, params, source in order:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in params.items() if k != "kind")
        lines.append(f"| {protocol} | {asset} | {day} | {params['kind']} | {shown} | {source} |")
    return "\n".join(lines)


def _short(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
