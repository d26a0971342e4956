"""One anvil and one deployed market per test session; every test runs between evm_snapshot and evm_revert.

A missing node_modules fails these tests with the command that fixes it: the issue requires
them to run in CI, so they are never skipped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from backtest.devnet.builder import build_devnet, seed_liquidity
from backtest.devnet.chain import Chain
from backtest.devnet.node import NodeModulesMissing, start_anvil

REPO = Path(__file__).resolve().parents[2]
MEASUREMENTS = REPO / "build" / "differential"     # git-ignored; docs/differential-tests.md quotes them


@pytest.fixture(scope="session")
def anvil():
    try:
        node = start_anvil()
    except NodeModulesMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def devnet_session(anvil):
    chain = Chain(anvil.url)
    net = build_devnet(chain)
    seed_liquidity(net)
    return net


@pytest.fixture
def net(devnet_session):
    """The session's market, rolled back to its deployed state after the test."""
    snap = devnet_session.chain.snapshot()
    try:
        yield devnet_session
    finally:
        devnet_session.chain.revert(snap)


@pytest.fixture
def record():
    """record(property, cases=..., max_rel_diff=..., ...) writes one JSON line per property measured."""
    def write(prop: str, **numbers) -> None:
        MEASUREMENTS.mkdir(parents=True, exist_ok=True)
        path = MEASUREMENTS / f"{prop}.json"
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"property": prop, **numbers}, indent=1, sort_keys=True) + "\n")
        tmp.replace(path)
    return write
