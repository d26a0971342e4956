"""The replay plays a step's blocks while someone acts or waits out a latency, and after that only the
blocks at which an auction's or an inventory's own clock moves, with the protocols' trades alone
(backtest/engine/start.py `keep_trading`). `every_block` plays every block of every step instead: on the
hand-worked books the two schedules give the same events, liquidations and balances, both loops."""

import numpy as np
import pytest

from backtest.engine import reference, replay
from tests.engine_mechanisms import test_comet_replay as comet
from tests.engine_mechanisms import test_maker_flip_replay as flip
from tests.engine_mechanisms import test_maker_replay as maker
from tests.engine_mechanisms.conftest import config, make_inputs

FALLING = tuple(np.linspace(2000.0, 1400.0, 12))
CASES = {   # name: (protocol, reserves, accounts, path, pool, spec, overrides)
    "clipper stairstep": ("maker", maker.RESERVES, maker.VAULT, {"WETH": (2000.0,) * 6}, (1_000.0, 2e6), maker.ILK, ()),
    "clipper thin pool, falling": ("maker", maker.RESERVES, maker.VAULT, {"WETH": FALLING}, (20.0, 40_000.0),
                                   maker.ILK, ()),
    "clipper linear": ("maker", maker.RESERVES, maker.VAULT, {"WETH": (2000.0,) * 6}, (1_000.0, 2e6),
                       {"maker": {"WETH": {**maker.ILK["maker"]["WETH"], "curve": "linear", "tau": 3_600}}}, ()),
    "clipper redo": ("maker", maker.RESERVES, maker.VAULT, {"WETH": (2000.0,) * 12}, (0.001, 2.0),
                     {"maker": {"WETH": {**maker.ILK["maker"]["WETH"], "tail": 1_800}}}, ()),
    "clipper latency 3": ("maker", maker.RESERVES, maker.VAULT, {"WETH": (2000.0,) * 4}, (1_000.0, 2e6),
                          {"maker": {"WETH": {**maker.ILK["maker"]["WETH"], "buf": 0.9}}}, ("liquidator.latency_blocks=3",)),
    "flip tick": ("maker", flip.RESERVES, flip.VAULT, {"WETH": (2000.0,) * 8}, (0.001, 2.0), {},
                  (*flip.FLIP, "flip.ETH-A.tau=1200")),
    "comet latency 3": ("comet", comet.RESERVES, comet.ACCOUNT, {"WETH": (2000.0,) * 4}, (1_000.0, 2e6), None,
                        ("liquidator.latency_blocks=3",)),
}


@pytest.mark.parametrize("loop", [replay, reference])
@pytest.mark.parametrize("case", sorted(CASES))
def test_skipping_blocks_gives_what_playing_every_block_gives(loop, case):
    protocol, reserves, accounts, path, pool, spec, overrides = CASES[case]
    stable = "DAI" if "DAI" in reserves else "USDC"
    path = {**path, stable: [1.0] * len(path["WETH"])}
    inputs = make_inputs(protocol, reserves, accounts, path, pool)
    skip = loop.replay(inputs, config(spec, *overrides))
    every = loop.replay(inputs, config(spec, *overrides, "every_block=true"))
    assert len(skip.events) > 1                            # something happened after the first block
    for got, want in ((skip.events, every.events), (skip.liquidations, every.liquidations)):
        assert got.to_pandas().equals(want.to_pandas())
    assert skip.protocols == every.protocols
    assert (skip.collateral == every.collateral).all() and (skip.debt == every.debt).all()
