"""Maker Liquidations 2.0 through the engine: bark, a falling auction price, take; Black Thursday."""

import numpy as np
import pytest

from backtest.engine import reference, replay
from tests.engine_mechanisms.conftest import config, filtered_as_unfiltered, make_inputs

# ETH-A-like: mat 1.45 (liquidation_threshold 1/1.45), chop 1.13 (bonus column 0.13); DAI is the debt.
RESERVES = {"DAI": (0.0, 0.0), "WETH": (1 / 1.45, 0.13)}
# 10 WETH at $2,000 owing 14,000 DAI: 10 x 2,000 / 1.45 = 13,793.10 < 14,000, unsafe at once.
VAULT = {"0xv": {"WETH": (10.0, 0.0), "DAI": (0.0, 14_000.0)}}
ILK = {"maker": {"WETH": {"buf": 1.2, "curve": "stairstep", "step": 90, "cut": 0.99, "tail": 8_400, "cusp": 0.4,
                          "tip": 250, "chip": 0.001, "dust": 7_500}}}


def run(pool=(1_000.0, 2_000_000.0), weth=(2000.0,) * 6, spec=ILK, loop=replay):
    path = {"WETH": list(weth), "DAI": [1.0] * len(weth)}
    inputs = make_inputs("maker", RESERVES, VAULT, path, pool)
    return inputs, loop.replay(inputs, config(spec))


def test_bark_moves_the_whole_vault_into_an_auction_and_pays_the_keeper():
    _, out = run()
    liq = out.liquidations.to_pandas()
    assert list(liq["action"]) == ["bark"] and liq["step"][0] == 0
    assert liq["debt_repaid"][0] == 14_000.0 and liq["collateral_seized"][0] == 10.0
    bark = out.events.to_pandas().iloc[0]
    # tab = 14,000 x 1.13 = 15,820; top = 2,000 x 1.2 = 2,400; coin = 250 + 0.001 x 15,820 = 265.82
    assert bark["action"] == "bark" and bark["tab"] == pytest.approx(15_820.0) and bark["lot"] == 10.0
    assert bark["price"] == pytest.approx(2_400.0) and bark["reward_usd"] == pytest.approx(265.82)
    assert not out.collateral.any() and not out.debt.any()


def test_the_keeper_takes_the_block_the_auction_price_falls_below_what_the_pool_pays():
    _, out = run()
    take = out.events.to_pandas().query("action == 'take'")
    assert len(take) == 3
    first, second, last = (take.iloc[k] for k in range(3))
    # Price 2,400 x 0.99^floor(dur / 90). The 19th cut (1,710 s): 1,982.80, first below what the pool pays
    # for part of the lot; the loop plays the first block at or after it (12-s blocks: 1,716 s, step 2),
    # not the next step.
    cut19, cut20 = 2400 * 0.99 ** 19, 2400 * 0.99 ** 20
    assert first["step"] == 2 and first["price"] == pytest.approx(cut19)
    assert (first["timestamp"] - first["timestamp"].normalize()).total_seconds() == 1_716
    # the whole tab (a slice of 7.98 WETH) does not pay at that price, half the lot would leave less than
    # chost = dust x chop = 8,475 of tab (not allowed); a quarter pays:
    # 2.5 WETH for 4,957.01 DAI, sold for 2.5 x 0.997 x 2e6 / (1,000 + 2.5 x 0.997) = 4,972.61
    assert first["amount"] == pytest.approx(2.5) and first["base_amount"] == pytest.approx(2.5 * cut19)
    assert first["proceeds_usd"] == pytest.approx(2.5 * 0.997 * 2e6 / (1_000 + 2.5 * 0.997))
    # the next block: a take may not leave less than chost of tab, so the most that pays is the slice
    # raising 10,862.99 - 8,475 = 2,387.99 DAI
    assert (second["timestamp"] - first["timestamp"]).total_seconds() == 12
    assert second["base_amount"] == pytest.approx(15_820 - 2.5 * cut19 - 8_475) and second["tab"] == pytest.approx(8_475)
    # the 20th cut (1,800 s, step 3's first block): 1,962.98, the rest of the tab in one take
    assert last["step"] == 3 and last["price"] == pytest.approx(cut20) and last["base_amount"] == pytest.approx(8_475)
    # the tab is raised: the lot left after it goes back to the vault owner -- more than one take at the
    # 20th cut would leave (10 - 15,820 / 1,962.98 = 1.9408 WETH)
    left = 10 - 2.5 - (15_820 - 2.5 * cut19 - 8_475) / cut19 - 8_475 / cut20
    assert last["tab"] == 0.0 and last["returned"] == pytest.approx(left) and left > 10 - 15_820 / cut20
    assert out.protocols["maker_uncovered_tab_usd"] == 0.0 and out.protocols["maker_auctions_open"] == 0


def test_black_thursday_no_depth_no_take_and_the_tab_is_not_covered():
    # A pool of 0.001 WETH: no sale pays, so no keeper takes; the auction resets (redo) whenever it
    # passes tail or cusp; ETH halves. At the end (6 h) Maker's OSM still shows the price observed at
    # 5 h (one hop late: step 30, 2,000 - 1,000 x 30/36 = 1,166.67): tab 15,820 open against a lot of
    # 10 WETH x 1,166.67 = 11,666.67, 4,153.33 of tab not covered.
    weth = list(np.linspace(2000.0, 1000.0, 37))          # 6 hours of 10-minute steps
    _, out = run(pool=(0.001, 2.0), weth=weth)
    ev = out.events.to_pandas()
    assert "take" not in set(ev["action"]) and "redo" in set(ev["action"])
    assert out.protocols["maker_auctions_open"] == 1 and out.protocols["maker_open_tab_usd"] == pytest.approx(15_820.0)
    assert out.protocols["maker_uncovered_tab_usd"] == pytest.approx(15_820.0 - 10 * weth[30])
    # the Vow is owed the debt (due = 14,000 DAI), not the tab: the 1,820 of chop is revenue not raised, not a loss
    assert out.protocols["maker_vow_loss_usd"] == pytest.approx(14_000.0 - 10 * weth[30])
    assert out.steps.to_pandas()["bad_debt_usd"].iloc[-1] == pytest.approx(14_000.0 - 10 * weth[30])
    # with the pool's depth the same path clears the auction early and leaves nothing uncovered
    _, deep = run(weth=weth)
    assert deep.protocols["maker_uncovered_tab_usd"] == 0.0 and deep.protocols["maker_takes"] >= 1


def test_a_reset_restarts_the_price_from_the_feed_and_pays_the_keeper_again():
    _, out = run(pool=(0.001, 2.0), weth=(2000.0,) * 20, spec={"maker": {"WETH": {**ILK["maker"]["WETH"],
                                                                                   "tail": 1_800}}})
    redo = out.events.to_pandas().query("action == 'redo'").iloc[0]
    # older than tail (1,800 s) first at the block after it (1,812 s, step 3; at 1,800 s it is not older):
    # top = 2,000 x 1.2 again, coin 265.82 again
    assert (redo["timestamp"] - redo["timestamp"].normalize()).total_seconds() == 1_812
    assert redo["step"] == 3 and redo["price"] == pytest.approx(2_400.0) and redo["reward_usd"] == pytest.approx(265.82)


def test_a_linear_curve_falls_to_zero_over_tau():
    spec = {"maker": {"WETH": {**ILK["maker"]["WETH"], "curve": "linear", "tau": 3_600}}}
    _, out = run(spec=spec)
    take = out.events.to_pandas().query("action == 'take'").iloc[0]
    # 2,400 x (3,600 - dur) / 3,600: 2,000 at 600 s (step 1's first block), above what the pool pays; it
    # falls every second, so the keeper looks every block: 1,992 at 612 s is the first price that pays
    assert take["step"] == 1 and take["price"] == pytest.approx(2_400 * (3_600 - 612) / 3_600)
    assert (take["timestamp"] - take["timestamp"].normalize()).total_seconds() == 612 and take["profit_usd"] > 0


def test_a_partial_bark_within_hole_and_the_dust_rule():
    # hole 10,000 DAI of tab: dart = 10,000 / 1.13 = 8,849.56; the rest 5,150.44 < dust 7,500, so the
    # whole vault goes (dog.sol: a dusty remainder is liquidated whole).
    spec = {"maker": {"WETH": {**ILK["maker"]["WETH"], "hole": 10_000}}}
    _, out = run(spec=spec)
    assert out.liquidations["debt_repaid"].to_pylist()[0] == 14_000.0
    # with dust 1,000 the remainder stays in the vault: 8,849.56 DAI and 10 x 8,849.56 / 14,000 WETH leave
    spec = {"maker": {"WETH": {**ILK["maker"]["WETH"], "hole": 10_000, "dust": 1_000}}}
    _, out = run(spec=spec)
    first = out.liquidations.to_pandas().iloc[0]
    assert first["debt_repaid"] == pytest.approx(10_000 / 1.13)
    assert first["collateral_seized"] == pytest.approx(10 * (10_000 / 1.13) / 14_000)


def test_collateral_units_are_conserved_vault_auction_taken_returned():
    for pool in [(1_000.0, 2_000_000.0), (0.001, 2.0), (20.0, 40_000.0)]:
        inputs, out = run(pool=pool, weth=list(np.linspace(2000.0, 1200.0, 13)))
        ev = out.events.to_pandas()
        taken = ev.loc[ev["action"] == "take", "amount"].sum()
        returned = ev["returned"].fillna(0.0).sum()
        open_lot = out.protocols["maker_lot_left_usd"] / out.oracle[inputs.book.price_assets.index("WETH")]
        left = out.collateral[:, inputs.book.assets.index("WETH")].sum()
        assert left + open_lot + taken + returned == pytest.approx(10.0, rel=1e-12)


def test_both_loops_agree_and_runs_repeat():
    weth = list(np.linspace(2000.0, 1200.0, 13))
    _, a = run(weth=weth, pool=(20.0, 40_000.0))
    _, b = run(weth=weth, pool=(20.0, 40_000.0), loop=reference)
    _, c = run(weth=weth, pool=(20.0, 40_000.0))
    assert a.events.num_rows > 2
    assert a.events.to_pandas().equals(b.events.to_pandas()) and a.events.to_pandas().equals(c.events.to_pandas())
    assert a.liquidations.to_pandas().equals(b.liquidations.to_pandas())


def test_unknown_ilk_parameters_are_refused():
    from backtest.errors import InputError
    with pytest.raises(InputError, match="unknown WETH parameter 'bufff'"):
        run(spec={"maker": {"WETH": {"bufff": 1.1}}})


@pytest.mark.parametrize("loop", [replay, reference])
@pytest.mark.parametrize("pool, weth, skips", [((1_000.0, 2_000_000.0), (2000.0,) * 6, False),
                                                ((20.0, 40_000.0), tuple(np.linspace(2000.0, 1400.0, 12)), True),
                                                ((1.0, 2_000.0), (2000.0,) * 12, False)])     # quoted, never taken
def test_keepers_skip_quotes_only_for_takes_no_one_could_be_awarded(monkeypatch, loop, pool, weth, skips):
    # mechanism.none_can_clear skips the quotes of an auction whose takes cannot gross the cheapest
    # ready keeper's threshold + gas at the venues' linear ceilings: the events are those of quoting them all.
    from backtest.protocols.maker import mechanism

    skipped, _ = filtered_as_unfiltered(monkeypatch, mechanism, "none_can_clear",
                                        lambda: run(pool=pool, weth=weth, loop=loop)[1])
    assert skipped and any(skipped) == skips


@pytest.mark.parametrize("loop", [replay, reference])
def test_keepers_quote_a_later_take_size_only_where_its_ceiling_could_beat_the_best_quoted(monkeypatch, loop):
    # mechanism.cannot_beat skips the quotes of a take size whose ceiling cannot gross more than the best
    # size quoted before it (a later size is chosen only when it grosses strictly more): the events are
    # those of quoting every size, in a case where a later size (a quarter of the lot) is the one taken.
    from backtest.protocols.maker import mechanism

    skipped, fulls = [], []
    for case in (dict(), dict(pool=(20.0, 40_000.0), weth=tuple(np.linspace(2000.0, 1400.0, 12))),
                 dict(weth=tuple(np.linspace(2000.0, 1200.0, 13)))):
        answers, full = filtered_as_unfiltered(monkeypatch, mechanism, "cannot_beat",
                                               lambda case=case: run(**case, loop=loop)[1])
        skipped, fulls = skipped + answers, fulls + [full]
    assert any(skipped) and not all(skipped)
    monkeypatch.setattr(mechanism, "cannot_beat", lambda *a: True)      # a filter that dropped every later size
    assert not run(loop=loop)[1].events.to_pandas().equals(fulls[0].events.to_pandas())


@pytest.mark.parametrize("loop", [replay, reference])
def test_the_ilks_floors_skip_only_auctions_the_mid_filter_skips(monkeypatch, loop):
    # floors.Floors.skipped names the ilks whose every auction trade's mid filter would skip (their least
    # price over a window of price steps): the events are those of looking at every auction, in cases where
    # it skips (an auction dearer than the pool for a while) and where the auction is taken at once.
    from backtest.protocols.maker.floors import Floors

    real, answers = Floors.skipped, []

    def counted(self, *a):
        answers.append(real(self, *a))
        return answers[-1]

    for case in (dict(pool=(20.0, 40_000.0), weth=tuple(np.linspace(2000.0, 1400.0, 12))), dict()):
        monkeypatch.setattr(Floors, "skipped", counted)
        fast = run(**case, loop=loop)[1]
        monkeypatch.setattr(Floors, "skipped", lambda self, *a: set())
        full = run(**case, loop=loop)[1]
        for got, want in ((fast.events, full.events), (fast.liquidations, full.liquidations)):
            assert got.to_pandas().equals(want.to_pandas())
        assert fast.protocols == full.protocols
    assert any(answers) and not all(answers)


@pytest.mark.parametrize("loop", [replay, reference])
def test_the_one_auction_maths_is_told_python_floats_after_a_reset_and_at_any_gas_price(loop, monkeypatch):
    # clip's *_one functions and the take bounds are written for plain floats: a reset's new top is the
    # feed's price as a float (not the oracle array's numpy scalar), and the keepers' bar is made one whatever
    # the round's gas price is. Before: after a redo every later price and take was numpy scalars.
    from backtest.protocols.maker import clip
    told = []
    for name in ("stairstep_one", "stairstep_least", "take_one", "no_take_clears", "needs_redo_one"):
        def spy(*args, real=getattr(clip, name), name=name):
            told.append((name, tuple(type(x).__name__ for x in args)))
            return real(*args)
        monkeypatch.setattr(clip, name, spy)
    reset = {"maker": {"WETH": {**ILK["maker"]["WETH"], "tail": 1_800}}}
    _, out = run(pool=(0.001, 2.0), weth=(2000.0,) * 20, spec=reset, loop=loop)
    assert out.protocols["maker_redos"] >= 1
    _, out = run(loop=loop)                                       # a deep pool: the keepers' bar, then a take
    assert out.protocols["maker_takes"] >= 1
    assert {n for n, _ in told} == {"stairstep_one", "stairstep_least", "take_one", "no_take_clears", "needs_redo_one"}
    assert [(n, t) for n, t in told if set(t) != {"float"}] == []
