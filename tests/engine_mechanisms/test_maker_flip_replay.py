"""Maker Liquidations 1.x through the engine: bite, keepers priced out by gas, zero bids, competition, the date switch."""

import dataclasses

import numpy as np
import pytest

from backtest.engine import reference, replay
from backtest.errors import InputError
from tests.engine_mechanisms.conftest import config, make_inputs

# ETH-A of March 2020: mat 1.5 (liquidation_threshold 1/1.5), chop 1.13; DAI is the debt.
RESERVES = {"DAI": (0.0, 0.0), "WETH": (1 / 1.5, 0.13)}
# 10 WETH at $2,000 owing 14,000 DAI: 10 x 2,000 / 1.5 = 13,333 < 14,000, unsafe at once.
VAULT = {"0xv": {"WETH": (10.0, 0.0), "DAI": (0.0, 14_000.0)}}
# flip.keeper_gwei=100: the single ceiling (both reference keepers bid on every auction) these cases were worked for;
# the default list of ceilings is tested in test_maker_flip_keepers.py
FLIP = ("maker.liquidations=flip", "flip.keeper_gwei=100")


def run(gwei=150.0, steps=6, overrides=FLIP, start=None, loop=replay, vault=VAULT, pool=(1_000.0, 2_000_000.0)):
    path = {"WETH": [2000.0] * steps, "DAI": [1.0] * steps}
    inputs = make_inputs("maker", RESERVES, vault, path, pool)
    inputs = dataclasses.replace(inputs, gas_gwei=np.full(steps, gwei))
    if start is not None:
        times = np.datetime64(start, "us") + np.arange(steps) * np.timedelta64(600, "s")
        inputs = dataclasses.replace(inputs, times=times)
    return loop.replay(inputs, config({}, *overrides))


def events(out, action):
    ev = out.events.to_pandas()
    return ev[ev["action"] == action]


def test_with_the_reference_keepers_priced_out_a_zero_bid_wins_and_the_vow_loses_the_debt():
    # gas 150 gwei: above the reference keepers' 100, below the zero bidder's 2,000
    out = run(gwei=150.0)
    bite = events(out, "bite").iloc[0]
    assert bite["lot"] == 10.0 and bite["base_amount"] == 14_000.0 and bite["tab"] == pytest.approx(15_820.0)
    tends = events(out, "tend")
    assert list(tends["liquidator"]) == ["zero-bidder-1"] and tends["base_amount"].iloc[0] == 1e-18
    deal = events(out, "deal").iloc[0]
    # tic = bid + ttl (600 s); deal needs now > tic: not at step 1's first block (now == tic), at its next
    tend = tends.iloc[0]
    assert (deal["timestamp"] - tend["timestamp"]).total_seconds() == 600 + 12
    assert deal["step"] == 1 and deal["liquidator"] == "zero-bidder-1" and deal["lot"] == 10.0
    m = out.protocols
    assert m["maker_flip_zero_bid_auctions"] == 1 and m["maker_flip_deals"] == 1
    assert m["maker_flip_loss_usd"] == pytest.approx(14_000.0)           # due - bid
    assert m["maker_flip_tab_shortfall_usd"] == pytest.approx(15_820.0)
    assert out.steps.to_pandas()["bad_debt_usd"].iloc[-1] == pytest.approx(14_000.0)
    # the zero bidder sold the lot it got for nothing into the pool
    assert deal["proceeds_usd"] == pytest.approx(10 * 0.997 * 2e6 / (1_000 + 10 * 0.997))


def test_when_nobody_is_mined_nothing_is_bitten():
    out = run(gwei=3_000.0)
    assert out.protocols["maker_flip_bites"] == 0 and out.debt.sum() == 14_000.0


def test_with_gas_the_reference_keepers_pay_bid_the_tab_and_dent_the_lot_down():
    out = run(gwei=50.0)
    tend = events(out, "tend")
    assert list(tend["liquidator"]) == ["keeper-1"] and tend["base_amount"].iloc[0] == pytest.approx(15_820.0)
    dent = events(out, "dent").iloc[0]
    # keeper-2 asks for the least WETH whose sale pays the tab plus its gas (50 gwei x 200,000 gas x $2,000 = $20):
    # L x 0.997 x 2e6 / (1,000 + 0.997 L) = 15,840 -> L = 15,840,000 / (1,994,000 - 15,792.48) = 8.00725
    assert dent["liquidator"] == "keeper-2" and dent["lot"] == pytest.approx(8.00725, abs=1e-4)
    assert dent["returned"] == pytest.approx(10 - 8.00725, abs=1e-4) and dent["lot"] <= 10 / 1.03
    m = out.protocols
    assert m["maker_flip_loss_usd"] == 0.0 and m["maker_flip_zero_bid_auctions"] == 0 and m["maker_flip_deals"] == 1


def test_competing_keepers_raise_each_bid_by_at_least_beg_then_dent_by_beg():
    # two zero bidders from 1,000 DAI: each tend 3 % over the other's, then the tab, then lots down by 3 %
    out = run(gwei=150.0, steps=12, overrides=(*FLIP, "flip.zero_bidders=2", "flip.tiny=1000"))
    tends = events(out, "tend")
    bids = tends["base_amount"].to_numpy()
    assert bids[0] == 1_000.0 and bids[-1] == pytest.approx(15_820.0)
    assert ((bids[1:] >= 1.03 * bids[:-1] - 1e-9) | np.isclose(bids[1:], 15_820.0)).all()
    assert (tends["liquidator"].to_numpy()[1:] != tends["liquidator"].to_numpy()[:-1]).all()   # they alternate
    assert len(tends) == 1 + int(np.ceil(np.log(15_820 / 1_000) / np.log(1.03)))
    lots = np.r_[10.0, events(out, "dent")["lot"].to_numpy()]
    assert len(lots) > 2 and (lots[1:] <= lots[:-1] / 1.03 + 1e-12).all()
    assert out.protocols["maker_flip_loss_usd"] == 0.0


def test_the_date_picks_cat_flip_in_march_2020_and_the_clipper_in_2022():
    old = run(gwei=150.0, overrides=(), start="2020-03-12T00:00:00")
    new = run(gwei=150.0, overrides=(), start="2022-05-09T00:00:00")
    assert old.protocols["maker_flip_bites"] == 1 and "maker_barks" not in old.protocols
    assert new.protocols["maker_barks"] == 1 and "maker_flip_bites" not in new.protocols
    forced = run(gwei=150.0, overrides=("maker.liquidations=clip",), start="2020-03-12T00:00:00")
    assert forced.protocols["maker_barks"] == 1 and "maker_flip_bites" not in forced.protocols


def test_bad_keys_are_refused():
    with pytest.raises(InputError, match="maker.liquidations must be one of auto, flip, clip"):
        config({}, "maker.liquidations=dutch")
    with pytest.raises(InputError, match="unknown flip parameter 'keeper_gweii'"):
        config({}, "flip.keeper_gweii=100")


def test_the_reference_loop_gives_the_same_auctions():
    a, b = run(gwei=150.0), run(gwei=150.0, loop=reference)
    assert a.events.to_pandas().equals(b.events.to_pandas()) and a.protocols == b.protocols


def test_a_vault_over_lump_is_bitten_in_lumps_in_one_block():
    # 120 WETH owing 168,000 DAI: lumps of 50, 50, 20 WETH; debt 70,000, 70,000, 28,000
    big = {"0xv": {"WETH": (120.0, 0.0), "DAI": (0.0, 168_000.0)}}
    out = run(gwei=150.0, vault=big)
    bites = events(out, "bite")
    assert list(bites["lot"]) == [50.0, 50.0, 20.0] and bites["step"].eq(0).all() and bites["round"].eq(0).all()
    assert list(bites["base_amount"]) == pytest.approx([70_000.0, 70_000.0, 28_000.0])
    assert out.collateral.sum() == 0.0 and out.debt.sum() == 0.0
    assert out.protocols["maker_flip_zero_bid_auctions"] == 3


def test_the_loss_reaches_the_metrics_once_and_is_split_to_weth_and_dai():
    from backtest.metrics import bad_debt_total
    from backtest.metrics.attribution import bad_debt_by_collateral, bad_debt_by_debt_asset, bad_debt_by_protocol
    from backtest.metrics.losses import borrower_loss
    path = {"WETH": [2000.0] * 6, "DAI": [1.0] * 6}
    inputs = dataclasses.replace(make_inputs("maker", RESERVES, VAULT, path, (1_000.0, 2_000_000.0)),
                                 gas_gwei=np.full(6, 150.0))
    out = replay.replay(inputs, config({}, *FLIP))
    assert bad_debt_total(inputs.book, out) == pytest.approx(14_000.0)
    assert bad_debt_by_protocol(inputs, out)["maker"] == pytest.approx(14_000.0)
    assert bad_debt_by_collateral(inputs, out)["WETH"] == pytest.approx(14_000.0)
    assert bad_debt_by_debt_asset(inputs, out)["DAI"] == pytest.approx(14_000.0)
    # the owner lost the whole lot (10 x 2,000) for 14,000 of debt cleared; the penalty was 1,820
    loss = borrower_loss(out, {"WETH": 2000.0, "DAI": 1.0})
    assert loss["borrower_loss_usd"] == pytest.approx(6_000.0) and loss["borrower_penalty_usd"] == pytest.approx(1_820.0)


def test_cat_1_2_bites_up_to_dunk_within_box_and_a_deal_frees_the_room():
    # dunk 5,000 DAI of tab per auction, box 12,000: tabs 5,000, 5,000, 2,000 (the room left), then the
    # litterbox is full; the zero-bid deals after their ttl claw their tabs back and the rest is bitten
    out = run(gwei=150.0, overrides=(*FLIP, "flip.ETH-A.lump=inf", "flip.ETH-A.dunk=5000", "flip.box=12000"))
    bites = events(out, "bite")
    assert list(bites["tab"][:3]) == pytest.approx([5_000.0, 5_000.0, 2_000.0]) and bites["step"][:3].eq(0).all()
    rest = 14_000 - 12_000 / 1.13
    assert len(bites) == 4 and bites["step"].iloc[3] == 2 and bites["base_amount"].iloc[3] == pytest.approx(rest)
    deals = events(out, "deal")
    # the deals the block after the zero bids' ttl (612 s, step 1); the room they free is bitten at step 2,
    # when the accounts are next judged
    assert list(deals["step"][:3]) == [1, 1, 1] and deals.index[2] < bites.index[3]
    assert out.debt.sum() == 0.0 and out.protocols["maker_flip_loss_usd"] == pytest.approx(14_000.0)


def test_an_auction_nobody_bids_on_is_ticked_after_its_end_and_stays_open():
    # a pool of 0.001 WETH: selling the lot pays ~$2, less than the gas, so nobody bids; tau 1,200 s:
    # end 1,200, ticked at the first block after it (1,212 s, step 2; the block at 1,200 is not after
    # it), which restarts it to end 2,412: ticked at 2,424 s (step 4), then at 3,636 s (step 6)
    out = run(gwei=150.0, steps=8, pool=(0.001, 2.0), overrides=(*FLIP, "flip.ETH-A.tau=1200"))
    assert events(out, "tend").empty and events(out, "deal").empty
    ticks = events(out, "tick")
    assert list(ticks["step"]) == [2, 4, 6]
    assert [(t - t.normalize()).total_seconds() for t in ticks["timestamp"]] == [1_212, 2_424, 3_636]
    m = out.protocols
    assert m["maker_flip_auctions_open"] == 1 and m["maker_flip_ticks"] == 3
    assert m["maker_flip_open_tab_usd"] == pytest.approx(15_820.0) and m["maker_flip_loss_usd"] == 0.0   # lot covers due
