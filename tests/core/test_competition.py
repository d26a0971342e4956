"""Liquidators as they compete: the builder's share of a contested job, the block's gas limit,
the flash-loan fee on a capital shortfall, and the era's gas limits."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest.agents.competition import BlockGas, Field, gas_limit_at, rank
from backtest.config import LiquidatorConfig, RunConfig
from backtest.overrides import apply_overrides
from backtest.engine import reference, replay
from backtest.errors import InputError
from tests.engine_mechanisms.conftest import make_inputs

LOOPS = [replay, reference]
AAVE = {"WETH": (0.825, 0.05), "USDC": (0.0, 0.0)}
# 10 WETH at 2,000 against 17,000 USDC: HF 0.97, half the debt repayable, 5 % bonus
ONE = {"0xa": {"WETH": (10.0, 0.0), "USDC": (0.0, 17_000.0)}}
FLAT = {"WETH": [2_000.0] * 3, "USDC": [1.0] * 3}
FAST = LiquidatorConfig(name="fast", latency_blocks=0)
RIVAL = LiquidatorConfig(name="rival", latency_blocks=0, gas_units=600_000)
LATE = LiquidatorConfig(name="late", latency_blocks=5)


def cfg(competitors, *overrides) -> RunConfig:
    config = apply_overrides(RunConfig(scenario="hand-made", lake=""), ["impact.scale=0", *overrides])
    return dataclasses.replace(config, liquidator=FAST, competitors=tuple(competitors))


def field(*agents, share=0.9, gas=30e6) -> Field:
    return Field(agents, share, BlockGas(np.array([gas])))


def test_a_contested_job_pays_the_builder_its_share_and_a_lone_one_does_not():
    # gross 1,000, gas 500,000 x 1e-6 USD = 0.5 (the fast one), 0.6 (the rival)
    won = field(FAST, RIVAL, share=0.9).award(1_000.0, 0.0, 0.0, 1e-6)
    assert won.name == "fast" and won.gas_usd == pytest.approx(0.5)
    assert won.builder_usd(1_000.0, 0.0) == pytest.approx(0.9 * 999.5)      # realised as quoted
    assert won.builder_usd(900.0, 0.0) == pytest.approx(0.9 * 899.5)        # realised less: pays less
    assert won.builder_usd(0.0, 10.0) == 0.0                                # nothing out of a loss
    alone = field(FAST, LATE, share=0.9).award(1_000.0, 0.0, 0.0, 1e-6)      # the late one is not ready
    assert alone.builder_usd(1_000.0, 0.0) == 0.0
    # a rival whose threshold the job does not clear does not bid
    picky = dataclasses.replace(RIVAL, min_profit_usd=5_000.0)
    assert field(FAST, picky).award(1_000.0, 0.0, 0.0, 1e-6).builder_usd(1_000.0, 0.0) == 0.0
    # a job whose gas does not fit in what is left of the block goes to nobody in this block
    assert field(FAST, RIVAL, gas=400_000).award(1_000.0, 0.0, 0.0, 1e-6) is None


@pytest.mark.parametrize("loop", LOOPS)
def test_in_a_replay_the_builder_takes_the_stated_part_of_the_winners_profit(loop):
    inputs = make_inputs("aave-v3", AAVE, ONE, FLAT, (1_000.0, 2e6))
    inputs.gas_gwei[:] = 20.0
    for share in (0.9, 0.5):
        liq = loop.replay(inputs, cfg([RIVAL], f"competition.builder_share={share}")).liquidations.to_pandas()
        assert len(liq) == 1 and liq["liquidator"][0] == "fast"
        before = liq["proceeds_usd"][0] - liq["cost_usd"][0] - liq["gas_usd"][0] - liq["flash_fee_usd"][0]
        assert before > 0
        assert liq["builder_usd"][0] == pytest.approx(share * before, rel=1e-12)
        assert liq["profit_usd"][0] == pytest.approx((1 - share) * before, rel=1e-12)
    alone = loop.replay(inputs, cfg([])).liquidations.to_pandas()
    assert alone["builder_usd"][0] == 0.0


@pytest.mark.parametrize("loop", LOOPS)
def test_the_block_gas_limit_caps_liquidations_per_block_and_the_rest_wait(loop):
    accounts = {f"0x{k:02d}": {"WETH": (10.0, 0.0), "USDC": (0.0, 17_000.0)} for k in range(10)}
    inputs = make_inputs("aave-v3", AAVE, accounts, FLAT, (10_000.0, 2e7))
    free = loop.replay(inputs, cfg([])).liquidations.to_pandas()
    capped = loop.replay(inputs, cfg([], "competition.block_gas_limit=1500000")).liquidations.to_pandas()
    assert free["timestamp"].value_counts().max() == 10                 # all ten in the first block
    per_block = capped["timestamp"].value_counts()
    assert per_block.max() == 3 and len(capped) == 10                    # 1.5M / 500k gas: three a block
    waited = (capped["timestamp"].max() - capped["timestamp"].min()).total_seconds()
    assert len(per_block) == 4 and waited == 36.0                        # the tenth waits three blocks
    assert (capped["round"] == 0).all()            # all fell below 1 in the first block: no cascade


@pytest.mark.parametrize("loop", LOOPS)
def test_the_flash_loan_fee_is_charged_on_the_repayment_above_capital(loop):
    inputs = make_inputs("aave-v3", AAVE, ONE, FLAT, (1_000.0, 2e6))
    poor = dataclasses.replace(FAST, capital_usd=1_000.0, flash_loan_fee=0.01)
    config = dataclasses.replace(cfg([]), liquidator=poor)
    liq = loop.replay(inputs, config).liquidations.to_pandas()
    repay = liq["debt_repaid_usd"][0]
    assert repay > 1_000.0
    assert liq["flash_fee_usd"][0] == pytest.approx((repay - 1_000.0) * 0.01, rel=1e-12)
    assert liq["profit_usd"][0] == pytest.approx(liq["proceeds_usd"][0] - liq["cost_usd"][0] - liq["gas_usd"][0]
                                                 - liq["flash_fee_usd"][0], rel=1e-12)
    rich = dataclasses.replace(cfg([]), liquidator=dataclasses.replace(poor, capital_usd=1e9))
    assert loop.replay(inputs, rich).liquidations["flash_fee_usd"].to_pylist() == [0.0]


def test_the_gas_limit_is_the_one_in_force_on_the_paths_day():
    days = np.array(["2020-03-12T12:00", "2020-09-05", "2021-05-19", "2021-08-05", "2022-06-13", "2025-03-01",
                     "2025-10-10", "2026-01-01"], dtype="datetime64[us]")
    assert gas_limit_at(days).tolist() == [10e6, 12.5e6, 15e6, 30e6, 30e6, 36e6, 45e6, 60e6]


def test_the_default_field_has_several_agents_and_a_builder_share_and_checks_its_range():
    config = RunConfig(scenario="x", lake="")
    assert len(config.competitors) >= 2 and 0 < config.competition.builder_share <= 1
    assert any(a.latency_blocks == 0 for a in config.competitors)          # someone races the lead
    assert apply_overrides(config, ["competitors=none"]).competitors == ()
    back = RunConfig.from_toml(config.to_toml())
    assert back.competitors == config.competitors and back.competition == config.competition
    for bad in ("competition.builder_share=1.5", "competition.builder_share=-0.1"):
        with pytest.raises(InputError):
            apply_overrides(config, [bad])


_AGENT = st.builds(LiquidatorConfig, min_profit_usd=st.floats(0.0, 1e4), gas_units=st.integers(100_000, 2_000_000),
                   latency_blocks=st.integers(0, 3), capital_usd=st.sampled_from([0.0, 1e3, 1e6]),
                   flash_loan_fee=st.sampled_from([0.0, 0.0005, 0.01, -0.001]))


@settings(max_examples=400, deadline=None)
@given(st.lists(_AGENT, min_size=1, max_size=4), st.floats(0.0, 1e5), st.floats(0.0, 1e6), st.integers(0, 4),
       st.floats(1e-9, 1e-4), st.floats(0.0, 3e6))
def test_bar_is_a_gross_below_which_award_gives_the_job_to_no_one(agents, gross, outlay, waited, gas_price, left):
    f = field(*agents, gas=left)
    f.bar(waited, gas_price)
    f.gas.spend(left / 2)                 # a job took gas since the bar was last asked: the bar follows it
    bar = f.bar(waited, gas_price)
    assert bar == field(*agents, gas=f.gas.left).bar(waited, gas_price)      # kept = asked afresh
    ready = [a for a in agents if waited >= a.latency_blocks]
    assert (bar == float("inf")) == (not ready or min(a.gas_units for a in ready) > f.gas.left)
    if gross + 1e-9 * (gross + abs(bar)) < bar:
        assert f.award(gross, outlay, waited, gas_price) is None
    if bar == float("inf"):          # nobody ready or the leanest does not fit: nothing is awarded at any gross
        assert f.award(1e12, 0.0, waited, gas_price) is None
    elif bar > -float("inf"):        # and at the bar, with no flash loan, the cheapest ready agent takes it
        assert f.award(bar * (1 + 1e-9) + 1e-6, 0.0, waited, gas_price) is not None or not f.gas.fits(
            min(a.gas_units for a in agents if waited >= a.latency_blocks and
                a.min_profit_usd + gas_price * a.gas_units <= bar * (1 + 1e-9) + 1e-6))


@settings(max_examples=300, deadline=None)
@given(st.lists(_AGENT, min_size=1, max_size=4),
       st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 7.0, -1.0, float("nan"), float("inf"), -float("inf")]),
                max_size=12),
       st.floats(1e-9, 1e-4), st.booleans())
def test_lean_bars_is_lean_bar_of_every_wait(agents, waited, gas_price, nan_latency):
    # The per-row arrays Prescreen reads are Field.lean_bar's values bit for bit, NaN waits (every agent
    # ready) and a NaN latency (always passed: asked per wait) included.
    if nan_latency:
        agents = [dataclasses.replace(agents[0], latency_blocks=float("nan")), *agents[1:]]
    f = field(*agents)
    lean, bar = f.lean_bars(np.array(waited, dtype=float), gas_price)
    want = [field(*agents).lean_bar(w, gas_price) for w in waited]
    assert lean.tobytes() == np.array([w[0] for w in want], dtype=float).tobytes()
    assert bar.tobytes() == np.array([w[1] for w in want], dtype=float).tobytes()
    assert f.lean_bars(np.array(waited, dtype=float), gas_price)[1].tobytes() == bar.tobytes()     # kept = afresh


_LATENCY = st.sampled_from([0, 1, 2, 0.5, 2.5, 3.0, float("nan")])
_WAIT = st.one_of(st.sampled_from([0.0, 0.5, 1.0, 2.0, 2.5, 3.0, -1.0, float("nan"), float("inf"), -float("inf")]),
                  st.floats(-2.0, 6.0))


def _plain_bar(agents, waited, gas_price, left):
    """Field.bar written out: the ready agents of this very wait, no memo."""
    ready = [a for a in agents if not waited < a.latency_blocks]
    if not ready:
        return float("inf")
    need = float("inf")
    for a in ready:
        if not a.flash_loan_fee >= 0:
            need = -float("inf")
            break
        need = min(need, a.min_profit_usd + gas_price * a.gas_units)
    return need if min(a.gas_units for a in ready) <= left else float("inf")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_AGENT, _LATENCY), min_size=1, max_size=4),
       st.lists(st.tuples(_WAIT, st.floats(0.0, 1e5), st.floats(0.0, 1e6), st.sampled_from([1e-9, 3e-8, 1e-4]),
                          st.sampled_from([None, 80_000.0]), st.sampled_from([0.0, 50_000.0])), min_size=1, max_size=10),
       st.floats(0.0, 3e6))
def test_bar_and_award_kept_per_latencies_reached_are_the_plain_ones_of_each_wait(agents, jobs, left):
    # Field.bar, lean_bar and award keep their answers per (how many of the sorted latencies a wait reached, gas
    # price): a continuous wait (a Maker auction's or a Comet inventory's age in blocks) asks a handful, not
    # one per wait. Each answer, asked again and again on one field, is the plain one for its own wait: the
    # bar written out, award as `rank` chooses; waits between and at latencies (a wait equal to a latency
    # has passed it), NaN waits (every agent ready), NaN latencies (always passed), +-inf.
    agents = tuple(dataclasses.replace(a, name=f"a{k}", latency_blocks=lat) for k, (a, lat) in enumerate(agents))
    f = field(*agents, share=0.9, gas=left)
    for waited, gross, outlay, gas_price, units, extra in jobs * 2:
        bar = f.bar(waited, gas_price)
        assert np.float64(bar).tobytes() == np.float64(_plain_bar(agents, waited, gas_price, left)).tobytes()
        ready = [a for a in agents if not waited < a.latency_blocks]
        lean = f.lean_bar(waited, gas_price)
        assert lean[0] == (min(a.gas_units for a in ready) if ready else float("inf"))
        best, rivals = rank(agents, gross, outlay, waited, gas_price, units, extra)
        want = None if best is None or not best[4] <= left else (best[0], best[1], best[4], best[3],
                                                                 0.9 if rivals > 1 else 0.0)
        got = f.award(gross, outlay, waited, gas_price, units, extra)
        assert (got is None) == (want is None)
        if want is not None:
            assert got.agent is want[0] and np.array(got[1:]).tobytes() == np.array(want[1:], dtype=float).tobytes()
