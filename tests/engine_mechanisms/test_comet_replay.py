"""Comet through the engine: absorb, then buyCollateral at the store-front price, hand-worked."""

import numpy as np
import pytest

from backtest.engine import reference, replay
from tests.engine_mechanisms.conftest import config, filtered_as_unfiltered, make_inputs

# cUSDCv3-like: WETH liquidateCollateralFactor 0.895, liquidationFactor 0.95 (bonus column 0.05);
# the base asset USDC is not collateral.
RESERVES = {"USDC": (0.0, 0.0), "WETH": (0.895, 0.05)}
# 10 WETH at $2,000 against 18,000 USDC: 10 x 2,000 x 0.895 = 17,900 < 18,000, absorbable at once.
ACCOUNT = {"0xa": {"WETH": (10.0, 0.0), "USDC": (0.0, 18_000.0)}}
FLAT = {"WETH": [2000.0] * 3, "USDC": [1.0] * 3}


def run(pool=(1_000.0, 2_000_000.0), spec=None, path=FLAT, loop=replay):
    inputs = make_inputs("comet", RESERVES, ACCOUNT, path, pool)
    return inputs, loop.replay(inputs, config(spec))


def test_absorb_takes_all_collateral_erases_the_debt_and_credits_the_surplus():
    _, out = run()
    liq = out.liquidations.to_pandas()
    assert list(liq["action"]) == ["absorb"] and liq["protocol"][0] == "comet"
    assert liq["debt_repaid"][0] == 18_000.0 and liq["collateral_seized"][0] == 10.0
    assert not out.collateral.any() and not out.debt.any()
    absorb = out.events.to_pandas().iloc[0]
    # deltaValue = 10 x 2,000 x 0.95 = 19,000; new balance = -18,000 + 19,000 = +1,000 (a base supply);
    # basePaidOut = 1,000 - (-18,000) = 19,000, out of reserves 3,000,000 -> 2,981,000
    assert absorb["action"] == "absorb" and absorb["base_amount"] == pytest.approx(19_000.0)
    assert absorb["reserves"] == pytest.approx(2_981_000.0)


def test_a_keeper_buys_the_inventory_at_the_store_front_price_and_sells_it_into_the_pool():
    _, out = run()
    buy = out.events.to_pandas().query("action == 'buyCollateral'")
    assert len(buy) == 1
    buy = buy.iloc[0]
    # store-front price: 2,000 x (1 - 0.5 x (1 - 0.95)) = 1,950 per WETH; all 10 for 19,500 USDC
    assert buy["price"] == pytest.approx(1_950.0) and buy["amount"] == pytest.approx(10.0)
    assert buy["base_amount"] == pytest.approx(19_500.0)
    # sold into 1,000 WETH / 2,000,000 USD at 0.3 %: 10 x 0.997 x 2e6 / (1,000 + 9.97) = 19,743.16
    assert buy["proceeds_usd"] == pytest.approx(19_743.16, abs=0.01)
    assert buy["profit_usd"] == pytest.approx(243.16, abs=0.01)          # no gas in this case
    assert buy["inventory"] == 0.0 and buy["reserves"] == pytest.approx(3_000_500.0)
    # the reserves paid 19,000 and got 19,500 back: no loss
    assert out.protocols["comet_reserves_loss_usd"] == 0.0 and out.protocols["comet_inventory_usd"] == 0.0


def test_the_sale_moves_the_pool_like_any_liquidation():
    _, out = run()
    steps = out.steps.to_pandas().query("asset == 'WETH'")
    assert steps["sold"].iloc[0] == pytest.approx(10.0)
    # the pool kept the whole 10 WETH paid in (fee included): (2e6 - 19,743.16) / 1,010 = 1,960.65, below
    # the path's 2,000; the next block's arbitrage brought it back to the edge of its fee band, 2,000 x 0.997
    assert steps["price_amm"].iloc[0] == pytest.approx(2_000.0 * 0.997, rel=1e-12)
    assert steps["price_market"].iloc[0] == 2_000.0          # impact.scale=0: the reference did not move


def test_nothing_is_for_sale_once_reserves_reach_the_target():
    # a protocol-run absorber absorbs anyway; 5,100,000 - 19,000 >= 5,000,000 target: no buyCollateral
    _, out = run(spec={"comet": {"reserves": 5_100_000.0, "absorb": "always"}})
    assert (out.events["action"].to_pylist()) == ["absorb"]
    assert out.protocols["comet_inventory_usd"] == pytest.approx(10 * 2000.0)
    assert out.protocols["comet_reserves_loss_usd"] == 0.0      # 10 WETH still worth 20,000 >= 19,000 paid


def test_unsold_inventory_that_falls_in_value_is_the_reserves_loss():
    # No venue depth to sell into (a 0.001 WETH pool) and WETH halves: the 10 WETH the protocol holds
    # are worth 10 x 1,000 = 10,000 against 19,000 paid out: loss 9,000.
    path = {"WETH": [2000.0, 1500.0, 1000.0], "USDC": [1.0] * 3}
    inputs, out = run(pool=(0.001, 2.0), path=path, spec={"comet": {"absorb": "always"}})
    assert out.events["action"].to_pylist() == ["absorb"]
    assert out.protocols["comet_reserves_loss_usd"] == pytest.approx(9_000.0)
    assert out.steps.to_pandas()["bad_debt_usd"].iloc[-1] == pytest.approx(9_000.0)


def test_a_profit_seeking_bot_absorbs_only_when_buying_the_collateral_back_pays():
    # no depth to sell into, or nothing for sale (reserves above target): the account stays
    # underwater, and its own shortfall is the bad debt: 18,000 - 10 x 1,000 = 8,000 at the end
    path = {"WETH": [2000.0, 1500.0, 1000.0], "USDC": [1.0] * 3}
    for pool, reserves in [((0.001, 2.0), 3_000_000.0), ((1_000.0, 2_000_000.0), 5_100_000.0)]:
        _, out = run(pool=pool, path=path, spec={"comet": {"reserves": reserves, "absorb": "when_buying_pays"}})
        assert out.events.num_rows == 0 and out.debt.sum() == 18_000.0
        assert out.steps.to_pandas()["bad_debt_usd"].iloc[-1] == pytest.approx(8_000.0)


def test_by_default_an_account_is_absorbed_even_when_buying_it_back_cannot_pay():
    # the same two cases under the default absorber (Compound's bot absorbs every isLiquidatable
    # account): absorbed at once, the debt erased, the absorber out of pocket by the absorb's gas
    path = {"WETH": [2000.0, 1500.0, 1000.0], "USDC": [1.0] * 3}
    for pool, reserves in [((0.001, 2.0), 3_000_000.0), ((1_000.0, 2_000_000.0), 5_100_000.0)]:
        inputs = make_inputs("comet", RESERVES, ACCOUNT, path, pool)
        inputs.gas_gwei[:] = 10.0
        out = replay.replay(inputs, config({"comet": {"reserves": reserves}}))
        ev = out.events.to_pandas()
        assert list(ev["action"]) == ["absorb"] and out.debt.sum() == 0.0
        assert ev["profit_usd"][0] == pytest.approx(-250_000 * 10e-9 * 2000.0)     # absorb_gas x 10 gwei x ETH
        assert ev["builder_usd"][0] == 0.0          # nothing to win, nothing to bid


def test_collateral_units_are_conserved_account_inventory_sold():
    for pool in [(1_000.0, 2_000_000.0), (0.001, 2.0), (30.0, 60_000.0)]:
        inputs, out = run(pool=pool, spec={"comet": {"absorb": "always"}})
        ev = out.events.to_pandas()
        bought = ev.loc[ev["action"] == "buyCollateral", "amount"].sum()
        left = out.collateral[:, inputs.book.assets.index("WETH")].sum()
        inventory = out.protocols["comet_inventory_usd"] / out.oracle[inputs.book.price_assets.index("WETH")]
        assert left + inventory + bought == pytest.approx(10.0, rel=1e-12)


def test_both_loops_agree_and_runs_repeat():
    _, a = run(loop=replay)
    _, b = run(loop=reference)
    _, c = run(loop=replay)
    assert a.events.to_pandas().equals(b.events.to_pandas()) and a.events.to_pandas().equals(c.events.to_pandas())
    assert a.liquidations.to_pandas().equals(b.liquidations.to_pandas()) and np.array_equal(a.collateral, b.collateral)


def test_an_absorb_of_two_collaterals_splits_the_debt_by_their_discounted_value():
    reserves = {**RESERVES, "WBTC": (0.77, 0.05)}
    # 5 x 2,000 x 0.895 + 0.2 x 40,000 x 0.77 = 8,950 + 6,160 = 15,110 < 16,000 owed
    account = {"0xb": {"WETH": (5.0, 0.0), "WBTC": (0.2, 0.0), "USDC": (0.0, 16_000.0)}}
    path = {"WETH": [2000.0] * 2, "WBTC": [40_000.0] * 2, "USDC": [1.0] * 2}
    out = replay.replay(make_inputs("comet", reserves, account, path, (1_000.0, 2_000_000.0)), config())
    liq = out.liquidations.to_pandas()
    # deltaValue = (10,000 + 8,000) x 0.95 = 17,100: WBTC's share (reserves in asset order) is
    # 8,000 x 0.95 / 17,100 of the 16,000 erased = 7,111.11
    assert list(liq["collateral_asset"]) == ["WBTC", "WETH"] and list(liq["action"]) == ["absorb", "absorb"]
    assert liq["debt_repaid"][0] == pytest.approx(16_000 * 7_600 / 17_100)
    # the last row takes the exact rest, so replaying the rows onto the book leaves exactly 0 owed
    assert liq["debt_repaid"][1] == 16_000.0 - liq["debt_repaid"][0]
    basepaid = out.events.to_pandas().query("action == 'absorb'")["base_amount"].sum()
    assert basepaid == pytest.approx(17_100.0)         # 16,000 of debt + 1,100 credited to the account


@pytest.mark.parametrize("loop", [replay, reference])
@pytest.mark.parametrize("pool, threshold, skips", [((1_000.0, 2_000_000.0), 0.0, False),   # bought at once
                                                    ((1_000.0, 2_000_000.0), 600.0, True),  # ~380 gross < 600
                                                    ((0.01, 20.0), 0.0, False)])            # quoted, never bought
def test_keepers_skip_quotes_only_for_purchases_no_one_could_be_awarded(monkeypatch, loop, pool, threshold, skips):
    # mechanism.none_can_clear skips the quotes of a buyCollateral whose sizes cannot gross the cheapest
    # ready keeper's threshold + gas at the venues' linear ceilings: the events are those of quoting them all.
    from backtest.protocols.comet import mechanism

    def go():
        inputs = make_inputs("comet", RESERVES, ACCOUNT, FLAT, pool)
        return loop.replay(inputs, config(None, f"liquidator.min_profit_usd={threshold}"))

    skipped, fast = filtered_as_unfiltered(monkeypatch, mechanism, "none_can_clear", go)
    assert skipped and any(skipped) == skips
    assert ("buyCollateral" in fast.events.to_pandas()["action"].tolist()) == (threshold == 0 and pool[0] > 1)


@pytest.mark.parametrize("loop", [replay, reference])
@pytest.mark.parametrize("pool, skips", [((1_000.0, 2_000_000.0), True),     # all 10 WETH at once: the rest skipped
                                         ((100.0, 200_000.0), True),         # a tenth at a time, some skipped
                                         ((0.01, 20.0), False)])             # quoted, never bought
def test_keepers_quote_a_later_purchase_size_only_where_its_ceiling_could_beat_the_best_quoted(monkeypatch, loop, pool,
                                                                                                skips):
    # mechanism.cannot_beat skips the quotes of a buyCollateral size whose ceiling cannot gross more than
    # the best size quoted before it (a later size is bought only when it grosses strictly more): the
    # events are those of quoting every size.
    from backtest.protocols.comet import mechanism

    def go():
        inputs = make_inputs("comet", RESERVES, ACCOUNT, FLAT, pool)
        return loop.replay(inputs, config(None))

    skipped, full = filtered_as_unfiltered(monkeypatch, mechanism, "cannot_beat", go)
    assert skipped and any(skipped) == skips
    if pool == (100.0, 200_000.0):          # the tenths bought are later sizes: a filter dropping them all is seen
        monkeypatch.setattr(mechanism, "cannot_beat", lambda *a: True)
        assert not go().events.to_pandas().equals(full.events.to_pandas())


@pytest.mark.parametrize("loop", [replay, reference])
def test_the_keepers_bar_and_award_are_told_python_floats_at_any_gas_price(monkeypatch, loop):
    # Field.bar, Field.award and none_can_clear are written for plain floats: a buyCollateral's wait is the
    # inventory's age as one (not the arrivals array's numpy scalar), and the bar is made one whatever the
    # round's gas price is (a numpy scalar in any replay: inputs.gas_gwei[step]). Before: numpy scalars both.
    import sys

    from backtest.agents.competition import Field
    from backtest.protocols.comet import mechanism
    told = []

    def spy(name, real, at):
        def call(*args):
            if name == "none_can_clear" or sys._getframe(1).f_globals["__name__"] == mechanism.__name__:
                told.append((name, type(args[at]).__name__))
            return real(*args)
        return call
    monkeypatch.setattr(Field, "bar", spy("bar", Field.bar, 1))                   # (self, waited, gas)
    monkeypatch.setattr(Field, "award", spy("award", Field.award, 3))             # (self, gross, outlay, waited, gas)
    monkeypatch.setattr(mechanism, "none_can_clear", spy("none_can_clear", mechanism.none_can_clear, 3))
    path = {"WETH": [2000.0] * 3 + [1900.0] * 3, "USDC": [1.0] * 6}     # bought at once, then later sizes
    for gwei, pool in [(0.0, (1_000.0, 2_000_000.0)), (10.0, (100.0, 200_000.0))]:
        inputs = make_inputs("comet", RESERVES, ACCOUNT, path, pool)
        inputs.gas_gwei[:] = gwei
        out = loop.replay(inputs, config(None))
        assert "buyCollateral" in out.events.to_pandas()["action"].tolist()
    assert {n for n, _ in told} == {"bar", "award", "none_can_clear"}
    assert [(n, t) for n, t in told if t != "float"] == []
