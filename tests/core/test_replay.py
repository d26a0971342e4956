"""The replay on the stylised crash: conservation, the feedback loop, determinism."""

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from backtest.run import make_config, run
from backtest.results import write_results
from backtest.scenarios import load_scenario

SCENARIO = load_scenario("stylised-eth-crash")


def replay(lake, *overrides, feedback=True):
    return run(make_config(SCENARIO, lake, overrides, feedback=feedback), SCENARIO)


@pytest.fixture(scope="module")
def crash(small_lake):
    return replay(small_lake)


def test_the_crash_liquidates_and_every_liquidation_was_due(crash):
    liq = crash.outcome.liquidations
    assert crash.metrics["liquidations"] == liq.num_rows > 100
    assert pc.max(liq["health_factor_before"]).as_py() < 1.0
    rows = liq.to_pandas()
    repaid, absorbed, barked = (rows[rows["action"] == a] for a in ("liquidate", "absorb", "bark"))
    assert len(repaid) + len(absorbed) + len(barked) == len(rows) and len(absorbed) and len(barked)
    assert repaid["profit_usd"].min() >= -1e-6            # the default liquidator needs profit >= 0
    assert (barked["profit_usd"] >= 0).all()              # a keeper barks when tip + chip x tab pays its gas
    # absorb pays nothing by itself: the absorber pays gas (liquidatorPoints aside)
    assert np.array_equal(absorbed["profit_usd"].to_numpy(), -absorbed["gas_usd"].to_numpy())
    assert set(absorbed["protocol"]) == {"comet"} and set(barked["protocol"]) == {"maker"}


def _per_reserve(book, liq, asset_col, amount_col):
    """Per (protocol, asset): a liquidation row names those, not the e-mode category of the reserve."""
    keys = list(dict.fromkeys(zip(book.reserve_protocol, book.assets)))
    return liq.groupby(["protocol", asset_col])[amount_col].sum().reindex(keys, fill_value=0.0).to_numpy()


def _book_per_reserve(book, amounts):
    """[N, R] book columns summed per (protocol, asset), e-mode reserves with their asset's own."""
    keys = list(dict.fromkeys(zip(book.reserve_protocol, book.assets)))
    of = [keys.index(k) for k in zip(book.reserve_protocol, book.assets)]
    out = np.zeros(len(keys))
    np.add.at(out, of, amounts.sum(axis=0))
    return out


def test_collateral_is_conserved_per_reserve(crash):
    book, liq, out = crash.inputs.book, crash.outcome.liquidations.to_pandas(), crash.outcome
    seized = _per_reserve(book, liq, "collateral_asset", "collateral_seized")
    np.testing.assert_allclose(_book_per_reserve(book, out.collateral) + seized, _book_per_reserve(book, book.collateral),
                               rtol=1e-9)
    assert (out.collateral >= 0).all() and seized.sum() > 0


def test_debt_is_conserved_except_what_aave_v33_burns(crash):
    book, liq, out = crash.inputs.book, crash.outcome.liquidations.to_pandas(), crash.outcome
    repaid = _per_reserve(book, liq, "debt_asset", "debt_repaid")
    left = _book_per_reserve(book, book.debt) - _book_per_reserve(book, out.debt) - repaid
    burns = np.array([p == "aave-v3.3" for p, _ in dict.fromkeys(zip(book.reserve_protocol, book.assets))])
    np.testing.assert_allclose(left[~burns], 0.0, atol=1e-6 * _book_per_reserve(book, book.debt)[~burns].max())
    assert (left[burns] >= -1e-6).all() and (out.debt >= 0).all()
    # what vanished from v3.3 reserves is exactly the deficit burned, valued when it was burned
    burned_accounts = set(liq.loc[liq["deficit_usd"] > 0, "account"])
    assert (left[burns].sum() > 0) == bool(burned_accounts)
    rows = np.isin(book.accounts, list(burned_accounts)) & (book.protocol == "aave-v3.3")
    assert not out.debt[rows].any() and not out.collateral[rows].any()


def test_a_thin_pool_cascades_and_amplifies(small_lake):
    m = replay(small_lake, "pool_depth_scale=0.05").metrics
    assert m["cascade_depth"] >= 1
    assert m["amplification"] > 1.0
    assert m["max_drawdown_effective"]["WETH"] > m["max_drawdown_exogenous"]["WETH"]


def test_without_price_impact_there_is_no_cascade_and_no_amplification(small_lake):
    m = replay(small_lake, "pool_depth_scale=10000", "impact.scale=0").metrics
    assert m["cascade_depth"] == 0
    assert m["amplification"] == pytest.approx(1.0, abs=1e-3)


def test_the_no_feedback_run_is_its_own_counterfactual(small_lake):
    m = replay(small_lake, feedback=False).metrics
    assert m["cascade_depth"] == 0
    assert m["amplification"] == 1.0
    assert m["max_drawdown_effective"] == m["max_drawdown_exogenous"]


def test_unprofitable_liquidations_are_left_undone_and_show_in_bad_debt(small_lake, crash):
    m = replay(small_lake, "liquidator.min_profit_usd=1e12", "competitors=none", "comet.absorb=when_buying_pays").metrics
    # no liquidation, no Comet absorb (nobody would buy the collateral back), no Maker bark or take
    assert m["liquidations"] == 0
    assert m["comet_absorbs"] == m["comet_buy_collateral"] == m["maker_barks"] == m["maker_takes"] == 0
    assert m["bad_debt_usd"] > crash.metrics["bad_debt_usd"]


def test_a_cascade_round_is_a_block_no_account_is_counted_in_a_later_round_than_the_block_it_was_taken_in(crash):
    liq = crash.outcome.liquidations.to_pandas()
    step_start = crash.inputs.times[liq["step"].to_numpy()].astype("datetime64[us]")
    block = (liq["timestamp"].dt.tz_localize(None).to_numpy() - step_start) / np.timedelta64(12, "s")
    assert (block == np.round(block)).all() and (block >= 0).all() and (block < 50).all()
    assert (liq["round"].to_numpy() <= block).all()
    assert liq["round"].max() >= 1 and (block > liq["round"].to_numpy()).any()


def test_same_inputs_give_byte_identical_results(small_lake, tmp_path, crash):
    again = replay(small_lake)
    a = write_results(tmp_path / "a", crash.config, crash.outcome, crash.metrics)
    b = write_results(tmp_path / "b", again.config, again.outcome, again.metrics)
    assert crash.outcome.events.num_rows > 0                # Comet and Maker acted in this run
    for name in ("config.toml", "liquidations.parquet", "steps.parquet", "events.parquet", "metrics.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
