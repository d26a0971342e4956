"""Maker Liquidations 1.x maths against the dss rules (src/cat.sol, src/flip.sol at f632302), worked by hand."""

import numpy as np
import pytest

from backtest.errors import InputError
from backtest.protocols.maker_flip import flip
from backtest.protocols.maker_flip.flip import WAD, RAY, FlipRevert
from backtest.protocols.maker_flip.params import FLIP_ILKS, FlipIlk, FlipParams, uses_flip

BEG, TTL, TAU = 1.03, 600.0, 259_200.0       # ETH-A on 12 March 2020


def fresh(tab=15_820.0, lot=10.0, due=14_000.0, now=0.0):
    return flip.kick(1, now, tab, lot, due, TAU)


# ----------------------------------------------------------------------------- Cat.bite

def test_cat_1_0_bites_a_lump_and_the_same_share_of_the_debt():
    # 120 ETH owing 14,400 DAI (art 12,000 at rate 1.2), lump 50: lot 50, art 12,000 x 50 / 120 = 5,000,
    # due 5,000 x 1.2 = 6,000, tab 6,000 x 1.13 = 6,780
    b = flip.bite(120.0, 12_000.0, 1.2, 1.13, lump=50.0)
    assert b.lot == 50.0 and b.art == pytest.approx(5_000.0)
    assert b.due == pytest.approx(6_000.0) and b.tab == pytest.approx(6_780.0)
    # a vault below lump goes whole
    small = flip.bite(10.0, 1_000.0, 1.0, 1.13, lump=50.0)
    assert small.lot == 10.0 and small.art == 1_000.0 and small.tab == pytest.approx(1_130.0)


def test_cat_1_2_bites_up_to_dunk_of_tab():
    # dunk 50,000 DAI of tab: dart = 50,000 / 1.0 / 1.13 = 44,247.79 of art 100,000; dink = 200 x 0.4425
    b = flip.bite(200.0, 100_000.0, 1.0, 1.13, dunk=50_000.0)
    assert b.art == pytest.approx(50_000 / 1.13) and b.lot == pytest.approx(200 * 50_000 / 1.13 / 100_000)
    assert b.tab == pytest.approx(50_000.0)
    # box - litter smaller than dunk: the room limits it
    assert flip.bite(200.0, 100_000.0, 1.0, 1.13, dunk=50_000.0, room=11_300.0).tab == pytest.approx(11_300.0)


def test_bite_exact_matches_the_floats_and_refuses_a_safe_vault():
    ink, art, rate, spot = 120 * WAD, 12_000 * WAD, 12 * RAY // 10, 150 * RAY   # 120 x 150 = 18,000 > 14,400
    with pytest.raises(FlipRevert, match="Cat/not-unsafe"):
        flip.bite_exact(ink, art, rate, spot, 113 * RAY // 100, lump=50 * WAD)
    b = flip.bite_exact(ink, art, rate, 100 * RAY, 113 * RAY // 100, lump=50 * WAD)
    f = flip.bite(120.0, 12_000.0, 1.2, 1.13, lump=50.0)
    assert b.lot / WAD == f.lot and b.art / WAD == pytest.approx(f.art)
    assert b.tab / 10**45 == pytest.approx(f.tab) and b.due / 10**45 == pytest.approx(f.due)
    with pytest.raises(FlipRevert, match="liquidation-limit-hit"):      # Cat 1.2: the litterbox is full
        flip.bite_exact(ink, art, rate, 100 * RAY, 113 * WAD // 100, dunk=50_000 * 10**45, box=10**45, litter=10**45)


# ----------------------------------------------------------------------------- tend / dent / deal / tick

def test_tend_needs_more_than_the_last_bid_by_beg_unless_it_is_the_tab():
    a = flip.tend(fresh(), 100.0, "k1", 10.0, 1e-18, BEG, TTL)            # any positive first bid (a "zero bid")
    assert a.bid == 1e-18 and a.guy == "k1" and a.tic == 700.0
    a = flip.tend(a, 110.0, "k2", 10.0, 10_000.0, BEG, TTL)
    with pytest.raises(FlipRevert, match="insufficient-increase"):
        flip.tend(a, 120.0, "k1", 10.0, 10_299.0, BEG, TTL)               # 10,299 < 1.03 x 10,000
    a2 = flip.tend(a, 120.0, "k1", 10.0, 10_300.0, BEG, TTL)
    assert a2.bid == 10_300.0 and a2.tic == 720.0
    # the tab itself is allowed even when it is less than beg x bid
    a3 = flip.tend(flip.tend(a, 120.0, "k1", 10.0, 15_500.0, BEG, TTL), 130.0, "k2", 10.0, 15_820.0, BEG, TTL)
    assert a3.bid == 15_820.0
    for bid, reason in ((0.0, "bid-not-higher"), (16_000.0, "higher-than-tab")):
        with pytest.raises(FlipRevert, match=reason):
            flip.tend(fresh(), 0.0, "k1", 10.0, bid, BEG, TTL)
    with pytest.raises(FlipRevert, match="lot-not-matching"):
        flip.tend(fresh(), 0.0, "k1", 9.0, 5.0, BEG, TTL)


def test_dent_only_at_tab_and_by_at_least_beg():
    a = flip.tend(fresh(), 0.0, "k1", 10.0, 10_000.0, BEG, TTL)
    with pytest.raises(FlipRevert, match="tend-not-finished"):
        flip.dent(a, 10.0, "k2", 9.0, 10_000.0, BEG, TTL)
    a = flip.tend(a, 10.0, "k2", 10.0, 15_820.0, BEG, TTL)
    with pytest.raises(FlipRevert, match="insufficient-decrease"):
        flip.dent(a, 20.0, "k1", 9.8, 15_820.0, BEG, TTL)                  # 1.03 x 9.8 = 10.094 > 10
    d = flip.dent(a, 20.0, "k1", 10 / 1.03, 15_820.0, BEG, TTL)
    assert d.lot == pytest.approx(9.7087, abs=1e-4) and d.guy == "k1" and d.tic == 620.0
    with pytest.raises(FlipRevert, match="not-matching-bid"):
        flip.dent(d, 30.0, "k2", 9.0, 15_000.0, BEG, TTL)


def test_deal_after_ttl_or_at_the_end_and_never_without_a_bid():
    a = flip.tend(fresh(), 100.0, "k1", 10.0, 5_000.0, BEG, TTL)          # tic = 700
    assert not flip.dealable(a, 700.0) and flip.dealable(a, 701.0)      # strictly after tic
    with pytest.raises(FlipRevert, match="already-finished-tic"):
        flip.tend(a, 700.0, "k2", 10.0, 6_000.0, BEG, TTL)               # at tic the auction is over
    with pytest.raises(FlipRevert, match="not-finished"):
        flip.deal(a, 650.0)
    # the end (kick + tau) closes it even while bids keep the ttl alive
    late = flip.tend(fresh(), TAU - 10, "k1", 10.0, 5_000.0, BEG, TTL)
    with pytest.raises(FlipRevert, match="already-finished-end"):
        flip.tend(late, TAU, "k2", 10.0, 6_000.0, BEG, TTL)
    assert flip.dealable(late, TAU + 1)
    # no bid: cannot be dealt, however late; tick restarts it, only after its end
    assert not flip.dealable(fresh(), 10 * TAU)
    with pytest.raises(FlipRevert, match="not-finished"):
        flip.tick(fresh(), TAU, TAU)
    t = flip.tick(fresh(), TAU + 5, TAU)
    assert t.end == 2 * TAU + 5 and t.bid == 0 and t.tic == 0
    with pytest.raises(FlipRevert, match="bid-already-placed"):
        flip.tick(flip.tend(fresh(), 0.0, "k1", 10.0, 1.0, BEG, TTL), TAU + 5, TAU)


def test_loss_is_the_debt_the_bid_left_uncovered():
    a = fresh(tab=15_820.0, due=14_000.0)
    assert flip.loss(flip.tend(a, 0.0, "z", 10.0, 1e-18, BEG, TTL)) == pytest.approx(14_000.0)
    assert flip.loss(flip.tend(a, 0.0, "k", 10.0, 12_000.0, BEG, TTL)) == pytest.approx(2_000.0)
    assert flip.loss(flip.tend(a, 0.0, "k", 10.0, 15_000.0, BEG, TTL)) == 0.0      # the penalty is surplus


def test_exact_integers_follow_the_same_rules():
    one = WAD
    beg = 103 * WAD // 100
    a = flip.kick(1, 0, 15_820 * 10**45, 10 * WAD, 14_000 * 10**45, 259_200)
    a = flip.tend(a, 0, "k1", 10 * WAD, 10_000 * 10**45, beg, 600, one)
    with pytest.raises(FlipRevert, match="insufficient-increase"):
        flip.tend(a, 1, "k2", 10 * WAD, 10_299 * 10**45, beg, 600, one)
    assert flip.tend(a, 1, "k2", 10 * WAD, 10_300 * 10**45, beg, 600, one).tic == 601


# ----------------------------------------------------------------------------- parameters and the date switch

def test_the_date_picks_flip_in_march_2020_and_the_clipper_in_2022():
    assert uses_flip("ETH-A", np.datetime64("2020-03-12"), "auto")
    assert not uses_flip("ETH-A", np.datetime64("2022-05-09"), "auto")
    assert uses_flip("ETH-A", np.datetime64("2021-04-29"), "auto") and not uses_flip("ETH-A", np.datetime64("2021-04-30"), "auto")
    assert not uses_flip("WSTETH-A", np.datetime64("2020-03-12"), "auto")     # born on the Clipper
    assert uses_flip("USDT-A", np.datetime64("2021-06-03"), "auto") and not uses_flip("USDT-A", np.datetime64("2021-06-04"), "auto")
    assert uses_flip("WSTETH-A", np.datetime64("2024-01-01"), "flip") and not uses_flip("ETH-A", np.datetime64("2020-03-12"), "clip")
    with pytest.raises(InputError, match="liquidations must be one of"):
        uses_flip("ETH-A", np.datetime64("2020-03-12"), "dutch")


def test_eth_a_parameters_are_those_of_12_march_2020_and_the_spec_overrides_them():
    eth = FLIP_ILKS["ETH-A"]
    assert (eth.beg, eth.ttl, eth.tau, eth.lump) == (1.03, 600.0, 3 * 86_400.0, 50.0)
    p, (e, w) = FlipParams.from_spec({"flip": {"keeper_gwei": 300, "ETH-A": {"ttl": 21_600}}}, ["ETH-A", "WSTETH-A"])
    assert p.keeper_gwei == 300.0 and e.ttl == 21_600.0 and e.lump == 50.0 and w == FlipIlk()
    with pytest.raises(InputError, match="unknown ETH-A parameter 'begg'; did you mean beg"):
        FlipParams.from_spec({"flip": {"ETH-A": {"begg": 1.05}}}, ["ETH-A"])
    with pytest.raises(InputError, match="no Maker ilk"):
        FlipParams.from_spec({"flip": {"ETH-Z": {"beg": 1.05}}}, ["ETH-A"], strict=True)
    with pytest.raises(InputError, match="beg must be >= 1"):
        FlipParams.from_spec({"flip": {"ETH-A": {"beg": 0.9}}}, ["ETH-A"])


def test_the_largest_dent_the_contract_accepts_survives_float_rounding():
    # 11 / 1.03 x 1.03 rounds above 11: lot / beg itself would revert with insufficient-decrease
    a = flip.Auction(1, bid=100.0, lot=11.0, tab=100.0, due=90.0, end=1e9, tic=600.0, guy="k")
    assert (11.0 / 1.03) * 1.03 > 11.0
    most = flip.max_next_lot(a, 1.03)
    assert most < 11.0 / 1.03 and 1.03 * most <= 11.0
    assert flip.dent(a, 0.0, "z", most, 100.0, 1.03, 600.0).lot == most
    with pytest.raises(FlipRevert, match="insufficient-decrease"):
        flip.dent(a, 0.0, "z", 11.0 / 1.03, 100.0, 1.03, 600.0)
