"""Maker Cat/Flip keepers with a spread of gas ceilings: the zero-bid share moves with the gas in steps, the
single ceiling stays reachable, bad lists are refused, and the summary says the loss hangs on the ceilings."""

import dataclasses

import numpy as np
import pytest

from backtest.engine import reference, replay
from backtest.errors import InputError
from backtest.metrics.sensitivity import unobservable
from backtest.protocols.maker_flip.params import FlipParams
from tests.engine_mechanisms.conftest import config, make_inputs

RESERVES = {"DAI": (0.0, 0.0), "WETH": (1 / 1.5, 0.13)}
# six vaults of 10 WETH at $2,000 owing 14,000 DAI (unsafe at once, each under the 50 WETH lump): auctions 1..6
VAULTS = {f"0xv{k}": {"WETH": (10.0, 0.0), "DAI": (0.0, 14_000.0)} for k in range(6)}
FLIP = "maker.liquidations=flip"


def run(gwei, *overrides, loop=replay, steps=6):
    path = {"WETH": [2000.0] * steps, "DAI": [1.0] * steps}
    inputs = make_inputs("maker", RESERVES, VAULTS, path, (100_000.0, 200_000_000.0))
    inputs = dataclasses.replace(inputs, gas_gwei=np.full(steps, float(gwei)))
    return loop.replay(inputs, config({}, FLIP, *overrides))


def zero_share(out) -> float:
    m = out.protocols
    assert m["maker_flip_bites"] == 6 and m["maker_flip_deals"] == 6
    return m["maker_flip_zero_bid_auctions"] / m["maker_flip_bites"]


def test_each_keeper_bids_on_its_share_and_only_the_priced_out_keepers_auctions_go_at_zero():
    # ceilings 50, 100, 200 at 150 gwei: keeper-3 (200) watches auctions 3 and 6, the others go to the zero bidder
    out = run(150, "flip.keeper_gwei=50,100,200")
    ev = out.events.to_pandas()
    deals = ev[ev["action"] == "deal"].sort_values("auction")
    assert list(deals["liquidator"]) == ["zero-bidder-1", "zero-bidder-1", "keeper-3"] * 2
    won = deals[deals["liquidator"] == "keeper-3"]
    assert list(won["base_amount"]) == pytest.approx([15_820.0] * 2)          # bid the tab
    assert zero_share(out) == pytest.approx(4 / 6)
    assert out.protocols["maker_flip_loss_usd"] == pytest.approx(4 * 14_000.0)


@pytest.mark.parametrize("loop", [replay, reference])
def test_the_zero_bid_share_falls_monotonically_as_the_ceilings_rise_relative_to_gas(loop):
    # the default ceilings (79.5, 99.5, 150 gwei) against gas from 40 to 300 gwei: 0, 1/3, 2/3, 1 in turn
    shares = [zero_share(run(g, loop=loop)) for g in (40, 90, 120, 150, 160, 300)]
    assert shares == pytest.approx([0.0, 2 / 6, 4 / 6, 4 / 6, 1.0, 1.0])
    assert all(b >= a for a, b in zip(shares, shares[1:]))
    # scaling the ceilings up at a fixed gas of 120 gwei: the share never rises
    scaled = [zero_share(run(120, f"flip.keeper_gwei={40 * s},{80 * s},{160 * s}", loop=loop))
              for s in (0.5, 1.0, 1.6, 3.0)]
    assert scaled == pytest.approx([1.0, 4 / 6, 2 / 6, 0.0])
    # flip.keeper_gwei_scale multiplies the default ceilings: 79.5, 99.5, 150 x 0.5 .. 2 at 120 gwei
    by_scale = [zero_share(run(120, f"flip.keeper_gwei_scale={s}", loop=loop)) for s in (0.5, 1.0, 1.25, 2.0)]
    assert by_scale == pytest.approx([1.0, 4 / 6, 2 / 6, 0.0])


def test_the_two_loops_agree_with_a_spread_of_ceilings():
    a, b = run(120, loop=replay), run(120, loop=reference)
    assert a.events.to_pandas().equals(b.events.to_pandas()) and a.protocols == b.protocols


def test_a_single_ceiling_is_all_or_nothing():
    # --set flip.keeper_gwei=100: both reference keepers share it and bid on every auction
    assert [zero_share(run(g, "flip.keeper_gwei=100")) for g in (90, 100, 110, 150)] == [0.0, 0.0, 1.0, 1.0]


def test_the_ceilings_parse_and_bad_ones_are_refused():
    assert FlipParams.from_spec({}, [])[0].keeper_gwei == (79.5, 99.5, 150.0)
    assert FlipParams.from_spec({"flip": {"keeper_gwei": [30, 60]}}, [])[0].keeper_gwei == (30.0, 60.0)
    assert FlipParams.from_spec({"flip": {"keeper_gwei": 100}}, [])[0].keeper_gwei == 100.0
    with pytest.raises(InputError, match="flip.keepers=2.0 but flip.keeper_gwei lists 3 ceilings"):
        config({}, "flip.keepers=2")
    with pytest.raises(InputError, match="flip.keeper_gwei_scale"):
        config({}, "flip.keeper_gwei_scale=0")
    for bad in ("0", "50,abc", "50,-1"):
        with pytest.raises(InputError, match="flip.keeper_gwei"):
            config({}, f"flip.keeper_gwei={bad}")


def test_the_summary_says_the_loss_hangs_on_the_ceilings_only_when_cat_flip_ran():
    out = run(150)
    line, = unobservable(out.protocols)
    assert "Maker (Cat/Flip) loss $56,000 (4 of 6 auctions at a zero bid)" in line and "flip.keeper_gwei" in line
    clip = run(150, "maker.liquidations=clip")
    assert "maker_barks" in clip.protocols and unobservable(clip.protocols) == []
