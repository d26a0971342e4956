"""Both loops start from backtest.engine.start: a governance change after the snapshot lands in
both alike, and Comet and Maker rows reach their own mechanism through a row map. Also the
reserve split Comet (and later Maker) read from mechanisms.own_reserves."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from backtest.engine import reference, replay
from backtest.inputs.book import load_inputs
from backtest.run import make_config
from backtest.protocols.shared import own_reserves
from backtest.engine.start import start
from backtest.errors import InputError
from backtest.lake.io import write_parquet
from backtest.scenarios import load_scenario


@pytest.fixture(scope="module")
def crash(small_lake):
    scenario = load_scenario("stylised-eth-crash")
    config = make_config(scenario, small_lake)
    return config, load_inputs(config, scenario)


def scheduled(inputs, *changes):
    """The same inputs with governance changes [(step, {asset: factor})] in force from those steps'
    blocks: each listed asset's liquidation threshold times `factor`, on every protocol's reserve."""
    book = inputs.book
    schedule = []
    for step, factors in changes:
        lt = book.liquidation_threshold.copy()
        for asset, factor in factors.items():
            lt[[j for j, a in enumerate(book.assets) if a == asset]] *= factor
        schedule.append((int(inputs.step_blocks[step]), {
            "liquidation_threshold": lt, "liquidation_bonus": book.liquidation_bonus.copy(),
            "protocol_fee": book.protocol_fee.copy(), "close_factor": book.close_factor.copy()}))
    return replace(inputs, book=replace(book, schedule=schedule))


def liquidations_bytes(outcome, path) -> bytes:
    return write_parquet(outcome.liquidations, path).read_bytes()


def test_a_governance_change_mid_run_lands_alike_in_both_loops_and_bites(crash, tmp_path):
    # WETH's liquidation thresholds cut by 10 % from step 20 (Aave v3's 0.83 -> 0.747): more accounts
    # fall below HF 1 from then on, so the run must liquidate more than without the change, and
    # exactly as much before it.
    config, inputs = crash
    changed = scheduled(inputs, (20, {"WETH": 0.9}))
    slow, quick = reference.replay(changed, config), replay.replay(changed, config)
    assert liquidations_bytes(slow, tmp_path / "a.parquet") == liquidations_bytes(quick, tmp_path / "b.parquet")
    assert np.array_equal(slow.collateral, quick.collateral) and np.array_equal(slow.debt, quick.debt)
    unchanged = replay.replay(inputs, config)
    # more accounts liquidated and more debt repaid (not necessarily more rows: an account liquidated
    # earlier can need fewer, larger liquidations)
    got, want = quick.liquidations.to_pandas(), unchanged.liquidations.to_pandas()
    assert got["account"].nunique() > want["account"].nunique()
    assert got["debt_repaid_usd"].sum() > want["debt_repaid_usd"].sum()
    before = quick.liquidations.filter(quick.liquidations["step"].to_numpy() < 20)
    assert before.num_rows == unchanged.liquidations.filter(unchanged.liquidations["step"].to_numpy() < 20).num_rows


def test_changes_due_by_the_same_step_leave_the_last_in_force(crash, tmp_path):
    # Two changes at step 20's block: both are due before the step, so the first (WETH x 0.6) is
    # overridden by the second (WETH x 0.9) and the run is as with the second alone.
    config, inputs = crash
    both = scheduled(inputs, (20, {"WETH": 0.6}), (20, {"WETH": 0.9}))
    last = scheduled(inputs, (20, {"WETH": 0.9}))
    for loop in (replay, reference):
        assert liquidations_bytes(loop.replay(both, config), tmp_path / "both.parquet") == \
            liquidations_bytes(loop.replay(last, config), tmp_path / "last.parquet"), loop.__name__


def test_comet_and_maker_rows_reach_their_own_mechanism_in_the_order_given(crash):
    config, inputs = crash
    s = start(inputs, config, replay.initial_venues(inputs, True))
    comet, maker = s.mech.parts
    assert (comet.kind, maker.kind) == ("absorb", "auction")
    got = {}

    def recorder(kind):
        def liquidate(r, rows, hf, rounds, waited):
            got[kind] = (rows.tolist(), hf.tolist(), rounds.tolist(), waited.tolist())
            return 0
        return liquidate

    for part in (comet, maker):
        part.liquidate = recorder(part.kind)
    # interleaved, worst first as the loops hand them: maker, comet, comet, maker
    rows = np.array([maker.rows[3], comet.rows[0], comet.rows[5], maker.rows[1]])
    hf, rounds, waited = np.array([0.5, 0.6, 0.7, 0.8]), np.array([0, 1, 2, 3]), np.array([4.0, 5.0, 6.0, 7.0])
    s.mech.liquidate(None, rows, hf, rounds, waited)
    assert got["absorb"] == ([int(comet.rows[0]), int(comet.rows[5])], [0.6, 0.7], [1, 2], [5.0, 6.0])
    assert got["auction"] == ([int(maker.rows[3]), int(maker.rows[1])], [0.5, 0.8], [0, 3], [4.0, 7.0])
    assert (s.mech.part_of[comet.rows] == 0).all() and (s.mech.part_of[maker.rows] == 1).all()
    assert (s.mech.part_of[~s.mech.owned] == -1).all()


def test_a_protocol_borrows_one_reserve_and_the_rest_are_its_collateral():
    # Reserves: 0 aave USDC, 1 comet USDC, 2 comet WETH, 3 comet WBTC. Comet rows 1 and 2 borrow
    # comet USDC only (row 0, an Aave account, borrows Aave USDC and WETH: not Comet's business).
    book = SimpleNamespace(reserve_protocol=["aave-v3", "comet", "comet", "comet"],
                           assets=["USDC", "USDC", "WETH", "WBTC"])
    debt = np.array([[5.0, 0.0, 1.0, 0.0], [0.0, 100.0, 0.0, 0.0], [0.0, 50.0, 0.0, 0.0]])
    rule = "comet accounts borrow {}: one base asset"
    assert own_reserves(book, debt, np.array([1, 2]), "comet", rule) == (1, [2, 3])
    assert own_reserves(book, debt, np.array([1, 2]), "maker", rule) == (None, [])     # no maker reserve
    assert own_reserves(book, np.zeros((3, 4)), np.array([1, 2]), "comet", rule) == (None, [1, 2, 3])
    debt[2, 2] = 0.5                                                     # row 2 also borrows comet WETH
    with pytest.raises(InputError, match="comet accounts borrow USDC, WETH: one base asset"):
        own_reserves(book, debt, np.array([1, 2]), "comet", rule)
