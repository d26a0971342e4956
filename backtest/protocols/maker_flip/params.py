"""Maker Liquidations 1.x parameters, typed: each ilk's Cat and Flipper settings (FlipIlk, the FLIP_ILKS
table with the spells they come from, and the date the ilk moved to Dog/Clipper), and the run-wide
ones (FlipParams: Cat 1.2's box, gas per call, the keepers). A scenario's [flip] and [flip.ILK] tables
and `--set flip.KEY`, `flip.ILK.KEY` carry them; `--set maker.liquidations=flip|clip` picks the
mechanism (backtest/protocols/maker/params.py)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from backtest.errors import InputError
from backtest.protocols.maker.params import LIQUIDATIONS
from backtest.protocols.spec import spec_table

INF = float("inf")


@dataclass(frozen=True)
class FlipIlk:
    """One ilk's Cat and Flipper parameters (chop and mat are the markets table's, as for the Clipper)."""
    beg: float = 1.03          # each tend >= beg x bid, each dent <= lot / beg
    ttl: float = 600.0         # seconds a bid stands before the auction can be dealt
    tau: float = 259_200.0     # seconds from kick to the auction's end (3 days)
    lump: float = 50.0         # Cat 1.0: collateral units per auction (inf under Cat 1.2)
    dunk: float = INF          # Cat 1.2: DAI of tab per auction (inf under Cat 1.0)
    switch: str = ""           # ISO date the ilk moved to Dog/Clipper ("" : never had a Flipper)


# The ilks on 12-13 March 2020 (Cat 1.0, before the 2020-03-12 "offband" executive was cast):
#   ttl 600 s, tau 3 days, lump 50 ETH: makerdao/spells-mainnet archive/2020-03-12-DssSpell/DssSpell.sol
#     (commit 580078c1, "Existing ttl: 10 minutes", "Existing tau: 3 days", "Existing lump: 50 ETH";
#     the spell set 6 h, 6 h and 500 ETH) and its test's prechecks (DssSpell.t.sol testFlipTTL/TAU, testCatLump);
#   beg 1.03 and chop 1.13: archive/2020-05-01-DssSpell/DssSpell.t.sol `beforeSpell` (no spell between
#     changed them; USDC-A was onboarded with the same values in archive/2020-03-16-DssSpell);
#   BAT-A: lump 50,000 BAT (archive/2020-05-01-DssSpell/DssSpell.t.sol beforeSpell) with ETH-A's ttl/tau;
# switch: the Liquidations 2.0 executive that gave the ilk its Clipper (spells-mainnet archive folder
# date; each was cast within days of it): ETH-A/B/C and WBTC-A archive/2021-04-30-DssSpell; LINK-A
# 2021-04-19; YFI-A 2021-04-23; BAT-A, ZRX-A, KNC-A, MANA-A 2021-05-07; USDC-A/B, TUSD-A, USDT-A
# 2021-06-04. Ilks born on the Clipper (WSTETH-A, WBTC-B/C, ...) have no entry: always Dog/Clipper,
# unless `maker.liquidations=flip` (then FlipIlk()'s values, ETH-A's of March 2020).
FLIP_ILKS = {
    "ETH-A": FlipIlk(switch="2021-04-30"),
    "ETH-B": FlipIlk(switch="2021-04-30"),
    "ETH-C": FlipIlk(switch="2021-04-30"),
    "BAT-A": FlipIlk(lump=50_000.0, switch="2021-05-07"),
    "USDC-A": FlipIlk(lump=50_000.0, ttl=21_600.0, switch="2021-06-04"),      # archive/2020-03-16-DssSpell
    "WBTC-A": FlipIlk(lump=INF, dunk=50_000.0, ttl=21_600.0, tau=21_600.0, switch="2021-04-30"),
    "LINK-A": FlipIlk(lump=INF, dunk=50_000.0, ttl=21_600.0, tau=21_600.0, switch="2021-04-19"),
    "YFI-A": FlipIlk(lump=INF, dunk=50_000.0, ttl=21_600.0, tau=21_600.0, switch="2021-04-23"),
    "ZRX-A": FlipIlk(lump=INF, dunk=50_000.0, ttl=21_600.0, tau=21_600.0, switch="2021-05-07"),   # 2020-06-26
    "KNC-A": FlipIlk(lump=INF, dunk=50_000.0, ttl=21_600.0, tau=21_600.0, switch="2021-05-07"),   # 2020-06-26
    "MANA-A": FlipIlk(lump=INF, dunk=50_000.0, ttl=21_600.0, tau=21_600.0, switch="2021-05-07"),  # 2020-07-27
    "USDC-B": FlipIlk(lump=INF, dunk=50_000.0, ttl=21_600.0, switch="2021-06-04"),                # 2020-05-29
    "TUSD-A": FlipIlk(lump=INF, dunk=50_000.0, ttl=21_600.0, switch="2021-06-04"),                # 2020-05-29
    "USDT-A": FlipIlk(lump=INF, dunk=50_000.0, ttl=21_600.0, tau=21_600.0, switch="2021-06-04"),  # 2020-09-04
}
# One date per ilk, not a history: ETH-A, ETH-B, ETH-C, BAT-A and USDC-A as on 12 March 2020 (ETH-B/C did
# not exist yet and take ETH-A's values); the ilks onboarded later under Cat 1.2 as from the 2020-08-28
# executive (archive/2020-08-28-DssSpell: Cat box 30M DAI, every ilk's dunk 50,000 DAI), with their
# Flippers' ttl and tau (6 h; USDC-B, TUSD-A: tau 3 days) and beg 1.03 from their onboarding spells
# (archive/2020-05-01-DssSpell for WBTC-A, 2020-09-28 for LINK-A, 2020-11-06 for YFI-A, the dates beside
# the others). The 2020-03-12 spell moved ETH-A to ttl 6 h, tau 6 h, lump 500 ETH: for another date set
# the values then in force (`--set flip.ETH-A.ttl=21600`, `flip.box=...`).


def uses_flip(ilk: str, date: np.datetime64, mode: str) -> bool:
    """Whether an ilk liquidates through Cat/Flip on `date`: `mode` "flip"/"clip" force it; "auto" takes
    Flip before the ilk's switch to the Clipper, and the Clipper for ilks that never had a Flipper."""
    if mode not in LIQUIDATIONS:
        raise InputError(f"maker.liquidations must be one of {', '.join(LIQUIDATIONS)}", column="maker.liquidations")
    if mode != "auto":
        return mode == "flip"
    switch = FLIP_ILKS[ilk].switch if ilk in FLIP_ILKS else ""
    return bool(switch) and np.datetime64(date, "D") < np.datetime64(switch, "D")


@dataclass(frozen=True)
class FlipParams:
    """Run-wide: Cat 1.2's box, gas per call, and the keepers (see docs/protocols.md, "Maker
    Liquidations 1.x", for the sources of the keeper defaults)."""
    box: float = INF                 # Cat 1.2: most tab in auctions at once, DAI (Cat 1.0: none)
    bite_gas: float = 200_000.0      # Cat.bite + Flipper.kick
    tend_gas: float = 120_000.0      # a tend or a dent
    deal_gas: float = 80_000.0
    keepers: float = 2.0             # reference keepers (bid what the lot fetches) sharing a single keeper_gwei
    # The reference keepers' gas ceilings (above it a keeper's transactions are not mined): unobservable.
    # Default: one keeper per ceiling at the crash hours' (10:00-24:00 UTC, 12 March 2020) medians of the
    # 30th, 60th and 90th percentiles of the gas prices paid (stablesims feeds/gas/03-12-2020.json: 79.5,
    # 99.5, 150.0 gwei), i.e. keepers who paid what that day's transactions paid; with a list each keeper
    # bids on its own share of the auctions (round-robin by auction id), so the zero-bid share moves with the
    # gas in steps of 1/len instead of all at once. A number (`--set flip.keeper_gwei=100`): `keepers`
    # keepers share it and all bid on every auction (the single-ceiling behaviour).
    keeper_gwei: float | tuple[float, ...] = (79.5, 99.5, 150.0)
    keeper_gwei_scale: float = 1.0   # multiplies every reference keeper's ceiling: one number to sweep them by
    keeper_discount: float = 0.0     # share of the lot's sale value they keep as margin
    zero_bidders: float = 1.0        # bidders that bid the least the Flipper accepts
    zero_bidder_gwei: float = 2_000.0
    tiny: float = 1e-18              # the least first bid, DAI (1 wei; the contract wants bid > 0)

    @classmethod
    def from_spec(cls, spec: dict, names, source="scenario", strict: bool = False
                  ) -> tuple["FlipParams", list[FlipIlk]]:
        """[flip] KEY = ..., then per ilk name: FLIP_ILKS's entry (else FlipIlk()), then [flip.ILK].
        `strict`: a [flip.X] naming no ilk of `names` and no listed ilk is refused."""
        table = spec.get("flip", {}) if isinstance(spec.get("flip", {}), dict) else {}
        ceilings = keeper_ceilings(table.get("keeper_gwei", cls.keeper_gwei), source)
        if isinstance(ceilings, tuple) and "keepers" in table and table["keepers"] != len(ceilings):
            raise InputError(f"flip.keepers={table['keepers']} but flip.keeper_gwei lists {len(ceilings)} "
                             "ceilings (a list sets one keeper per ceiling)", file=source, column="flip.keepers")
        bare = {**spec, "flip": {k: v for k, v in table.items() if k != "keeper_gwei"}} if table else spec
        known = {f.name: f.default for f in fields(cls) if f.name != "keeper_gwei"}
        params = cls(**spec_table(bare, "flip", known, source), keeper_gwei=ceilings)
        subs = [k for k, v in table.items() if isinstance(v, dict)]
        if strict:
            unknown = [k for k in subs if k not in names and k not in FLIP_ILKS]
            if unknown:
                raise InputError(f"flip.{unknown[0]}: no Maker ilk of that name (known: {', '.join(FLIP_ILKS)})",
                                 file=source, column=f"flip.{unknown[0]}")
        known = {f.name: f.default for f in fields(FlipIlk)}
        over = {k: spec_table(table, k, known, source, "flip.") for k in subs}
        ilks = [replace(FLIP_ILKS.get(n, FlipIlk()), **over.get(n, {})) for n in names]
        if params.keeper_gwei_scale <= 0:
            raise InputError("expected a number > 0", file=source, column="flip.keeper_gwei_scale")
        for n, ilk in zip(names, ilks):
            if ilk.beg < 1 or ilk.ttl <= 0 or ilk.tau <= 0 or ilk.lump <= 0 or ilk.dunk <= 0:
                raise InputError("beg must be >= 1 and ttl, tau, lump, dunk > 0", file=source, column=f"flip.{n}")
        return params, ilks


def keeper_ceilings(value, source="scenario") -> float | tuple[float, ...]:
    """`flip.keeper_gwei`: a number (one ceiling all reference keepers share), or a list of ceilings, one
    keeper each (a TOML list or, from --set, "79.5,99.5,150"). Each must be a number > 0."""
    column = "flip.keeper_gwei"
    if isinstance(value, str):
        value = [x for x in value.replace(";", ",").split(",") if x.strip()]
    if isinstance(value, (list, tuple)):
        try:
            out = tuple(float(x) for x in value)
        except (TypeError, ValueError):
            raise InputError("expected a number or a list of numbers (gwei)", file=source, column=column) from None
        if not out or min(out) <= 0:
            raise InputError("expected one or more ceilings > 0 (gwei)", file=source, column=column)
        return out
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise InputError("expected a number > 0 or a list of numbers (gwei)", file=source, column=column)
    return float(value)
