"""Stand-ins for Compound v2 cTokens, Comet and Maker's Vat on the local node: OUR contracts, not mainnet
bytecode (npm has none of theirs). Each emits its protocol's mainnet events with the same signatures and
indexed layout (the Vat's anonymous LogNote included) and holds the state the real contract holds, so
ingest -> positions can be checked against the contract's own view. Compiled with npm solc like
contracts/*.sol (backtest.devnet.artifacts.compile_own), cached under build/."""

from __future__ import annotations

from pathlib import Path

from backtest.devnet.artifacts import CACHE_DIR, Artifact, compile_own

HERE = Path(__file__).resolve().parent


def artifacts() -> dict[str, Artifact]:
    """CTokenStandIn, CometStandIn, VatStandIn."""
    return compile_own(HERE, CACHE_DIR / "stand_ins")
