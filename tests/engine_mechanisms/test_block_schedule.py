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


# buf 0.9: the auction opens at 1,800 < what the pool pays, so a take pays at once
SALES = {"maker": (maker.RESERVES, maker.VAULT, "DAI", {"maker": {"WETH": {**maker.ILK["maker"]["WETH"], "buf": 0.9}}},
                    "bark", "take"),
          "comet": (comet.RESERVES, comet.ACCOUNT, "USDC", None, "absorb", "buyCollateral")}


@pytest.mark.parametrize("loop", [replay, reference])
@pytest.mark.parametrize("one_block_steps", [True, False])
@pytest.mark.parametrize("protocol", sorted(SALES))
def test_a_keepers_latency_counts_blocks_of_the_runs_own_length_for_the_sale_as_for_the_seizure(loop, one_block_steps,
                                                                                               protocol):
    # A keeper that waits 3 blocks barks (absorbs) 3 blocks after the account is unsafe and takes (buys the
    # inventory) 3 blocks after that, whatever a block's length, whether a step is one block or 10 minutes
    # of them (the step then plays the block the keeper may act in). Before: a hard-coded 12-s block, and
    # the take waited for the next step.
    reserves, accounts, stable, spec, first, then = SALES[protocol]
    for block in (12, 6, 2):
        path = {"WETH": [2000.0] * 12, stable: [1.0] * 12}
        inputs = make_inputs(protocol, reserves, accounts, path, (1_000.0, 2_000_000.0),
                             step_seconds=block if one_block_steps else 600)
        out = loop.replay(inputs, config(spec, "liquidator.latency_blocks=3", f"block_seconds={block}"))
        ev = out.events.to_pandas().set_index("action")
        start = ev.loc[first, "timestamp"].normalize()
        assert (ev.loc[first, "timestamp"] - start).total_seconds() == 3 * block
        assert (ev.loc[then, "timestamp"] - ev.loc[first, "timestamp"]).total_seconds() == 3 * block


@pytest.mark.parametrize("loop", [replay, reference])
def test_block_times_are_python_floats_and_wake_is_told_one(loop, monkeypatch):
    # Every block's time (Start.open_block's `now`) is a Python float with the bits numpy's step x dt + rnd x
    # block had, and `wake` is told the clock as that float (a stairstep `step` of 0, which would divide by
    # zero in Maker.wake, is refused with the ilk's parameters: tests/engine_ilks/test_ilk_parameters.py).
    from backtest.engine.start import Start
    from backtest.protocols.maker.mechanism import Maker
    seen, told = [], []
    opened, woken = Start.open_block, Maker.wake

    def open_block(self, step, rnd, *rest):
        r = opened(self, step, rnd, *rest)
        seen.append((type(r.now), r.now, float(np.float64(self.dt) * step + rnd * self.block)))
        return r

    def wake(self, now, block):
        told.append(type(now))
        return woken(self, now, block)
    monkeypatch.setattr(Start, "open_block", open_block)
    monkeypatch.setattr(Maker, "wake", wake)
    path = {"WETH": [2000.0] * 6, "DAI": [1.0] * 6}
    inputs = make_inputs("maker", maker.RESERVES, maker.VAULT, path, (1_000.0, 2e6), step_seconds=600)
    out = loop.replay(inputs, config(maker.ILK))
    assert "bark" in set(out.events["action"].to_pylist())
    assert seen and all(t is float and np.float64(now).tobytes() == np.float64(want).tobytes() for t, now, want in seen)
    assert told and set(told) == {float}
