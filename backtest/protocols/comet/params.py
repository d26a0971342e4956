"""Comet's market-wide parameters, typed: what a scenario's [comet] table and `--set comet.KEY` carry."""

from __future__ import annotations

from dataclasses import dataclass, fields

from backtest.errors import InputError
from backtest.protocols.spec import spec_table

ABSORB_POLICIES = ("when_buying_pays", "always")


@dataclass(frozen=True)
class CometParams:
    """Market-wide Comet parameters (the per-asset factors are in the markets table). A scenario's
    [comet] table overrides them."""
    store_front_price_factor: float = 0.5     # cUSDCv3 storeFrontPriceFactor at launch
    target_reserves: float = 5_000_000.0      # cUSDCv3 targetReserves at launch, base units
    reserves: float = 3_000_000.0             # reserves when the replay starts (not in the lake: an assumption)
    absorb_gas: float = 250_000.0             # gas units of absorb() for one account
    absorb: str = "always"                    # as Compound's bot (mechanism.py); or "when_buying_pays"

    @classmethod
    def from_spec(cls, spec: dict, source="scenario") -> "CometParams":
        known = {f.name: f.default for f in fields(cls)}
        p = cls(**spec_table(spec, "comet", known, source))
        if not 0 <= p.store_front_price_factor <= 1:
            raise InputError("must be within [0, 1]", file=source, column="comet.store_front_price_factor")
        if p.absorb not in ABSORB_POLICIES:
            raise InputError(f"must be one of {', '.join(ABSORB_POLICIES)}", file=source, column="comet.absorb")
        return p
