"""The round's compiled pass (prescreen.Prescreen, screen.next_to_liquidate) skips exactly the rows
`liquidate` would return None for before any quote: a replay gives the same bytes with it (compiled)
and without it (the Python path calling liquidate row by row)."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest import compiled
from backtest.agents import screen
from backtest.agents.competition import BlockGas, Field
from backtest.agents.liquidator import best_plan
from backtest.config import LiquidatorConfig
from backtest.engine import replay
from backtest.inputs.book import load_inputs
from backtest.lake.io import write_parquet
from backtest.run import make_config
from backtest.protocols.rules import RULES
from backtest.scenarios import load_scenario
from tests.perf.test_screen import PROTOCOLS, account
from tests.perf.test_best_plan import market

pytestmark = pytest.mark.skipif(screen.next_to_liquidate is None, reason="numba not installed")

CASES = {
    # the default field: four agents, latencies 0/0/1/3 blocks, flash-loan fees, thresholds
    "default field": ("stylised-eth-crash", (), None),
    # a block holding four liquidations: the pass must read the gas left after each one
    "block gas binds": ("stylised-eth-crash", ("competition.block_gas_limit=2000000",), None),
    # an agent with a negative flash-loan fee: `needed` is -inf, nothing is rejected for profit
    "negative flash fee, thin pools": ("stylised-eth-crash", ("pool_depth_scale=0.05",),
                                       LiquidatorConfig(name="odd", flash_loan_fee=-0.001, latency_blocks=2)),
    "aave v3.3 rules, high thresholds": ("stylised-eth-crash", ("protocol=aave-v3.3", "liquidator.min_profit_usd=400"),
                                         None),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def both(request, small_lake):
    name, overrides, extra = CASES[request.param]
    scenario = load_scenario(name)
    config = make_config(scenario, small_lake, overrides)
    if extra is not None:
        config = replace(config, competitors=(*config.competitors, extra))
    inputs = load_inputs(config, scenario)
    with compiled.python_path():
        python = replay.replay(inputs, config)
    return python, replay.replay(inputs, config)


def test_the_outputs_are_the_python_paths_bytes(both, tmp_path):
    python, fast = both
    assert python.liquidations.num_rows > 0
    for table in ("liquidations", "events", "steps"):
        a = write_parquet(getattr(python, table), tmp_path / f"{table}-python.parquet")
        b = write_parquet(getattr(fast, table), tmp_path / f"{table}-fast.parquet")
        assert a.read_bytes() == b.read_bytes(), table
    assert np.array_equal(python.collateral, fast.collateral) and np.array_equal(python.debt, fast.debt)


def test_the_pass_stops_at_a_row_it_cannot_reject():
    # One Aave v3 row that pays handsomely and one that cannot pay the gas: the pass skips the second,
    # stops at the first; with no agent ready (latency) or no gas left it skips both.
    coll = np.array([[0.0, 10.0], [0.0, 0.001]])
    debt = np.array([[15_000.0, 0.0], [2.0, 0.0]])
    price, asset_of, lt = np.array([1.0, 2_000.0]), np.array([0, 1]), np.array([0.8, 0.8])
    bonus, fee, close = np.array([0.05, 0.10]), np.zeros(2), np.array([0.5, 0.5])
    floor, ceiling = np.array([1.0, 2_000.0]), np.array([1.0, 2_000.0])
    sizes = np.array([1.0, 0.5])
    agent = LiquidatorConfig(name="a", gas_units=500_000, min_profit_usd=0.0, flash_loan_fee=0.0005)
    out = np.empty((2 * 2 * 2, 6))
    rows, hf = np.array([1, 0]), np.array([0.7, 0.9])

    def first(waited, gas_left, start=0):
        bars = np.array([Field((agent,), 0.0, BlockGas(np.array([gas_left]))).lean_bar(w, 2e-5) for w in waited])
        k, n = screen.next_to_liquidate(start, rows, hf, bars[:, 0], bars[:, 1], np.zeros(2, dtype=np.int64),
                                        np.zeros(2), coll, debt, price, asset_of, lt, bonus, fee, close, floor,
                                        ceiling, sizes, gas_left, out)
        assert n == (screen.NOT_SCREENED if k == 2 else 2)        # row 0: 1 debt x 1 collateral x 2 sizes
        if k == 1:                                               # its tries: Aave v3 closes all below HF 0.95, then half
            assert out[0, 1:4].tolist() == [0.0, 1.0, 15_000.0] and out[1, 1:4].tolist() == [0.0, 1.0, 7_500.0]
        return k
    assert first(np.zeros(2), 30e6) == 1
    assert first(np.zeros(2), 30e6, start=2) == 2
    assert first(np.zeros(2), 400_000.0) == 2
    agent = replace(agent, latency_blocks=3)
    assert first(np.array([2.0, 2.0]), 30e6) == 2 and first(np.array([3.0, 3.0]), 30e6) == 1


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), protocol=st.sampled_from(PROTOCOLS), feedback=st.booleans(),
       depth=st.sampled_from([5.0, 50.0, 5_000.0]), rich=st.booleans(), bar=st.sampled_from([0.0, 50.0, 1e4]))
def test_the_tries_the_pass_leaves_are_the_screens_and_give_the_python_plan(seed, protocol, feedback, depth, rich,
                                                                           bar):
    # Every row the pass stops at: its try count and tries are the ones best_plan's own screen builds, and
    # best_plan handed them returns the Python path's plan (compiled.ON off, no screen, no pass).
    rules, sizes = RULES[protocol], (1.0, 0.5, 0.25, 0.1)
    accounts = [account(seed + j, rich) for j in range(6)]
    rng, reserve_asset, price, _, _, lt, params = accounts[0]
    coll, debt = np.array([a[3] for a in accounts]), np.array([a[4] for a in accounts])
    venues = market(depth, feedback)
    venues.sell(2, rng.uniform(0, 0.3) * depth)
    rows, hf = rng.permutation(6), rng.uniform(0.5, 1.0, 6)
    kind = screen.KIND[rules.terms]
    total = np.array([float(debt[i] @ price) if kind == 2 else 0.0 for i in rows])
    unit = 2e-5
    needed = bar + unit * 500_000.0
    out, k = np.full((64, 6), np.nan), 0
    while True:
        k, n = screen.next_to_liquidate(k, rows, hf, np.full(6, 500_000.0), np.full(6, needed),
                                        np.full(6, kind, dtype=np.int64), total, coll, debt, price, reserve_asset, lt,
                                        params.bonus, params.protocol_fee, params.close_factor,
                                        *venues.ceilings()[:2], np.array(sizes), 30e6, out)
        if k >= len(rows):
            break
        i = rows[k]
        _, want_n, want = screen.screen(kind, hf[k], coll[i], debt[i], price, reserve_asset, lt, params.bonus,
                                        params.protocol_fee, params.close_factor, *venues.ceilings()[:2],
                                        np.array(sizes), total[k], needed)
        assert n == want_n and out[:max(n, 0)].tobytes() == want[:max(n, 0)].tobytes()
        args = (coll[i], debt[i], hf[k], price, venues, reserve_asset, lt, params, rules, 0.0, sizes, needed)
        with compiled.python_path():
            plan = best_plan(*args)
        assert best_plan(*args, built=(n, out)) == plan
        k += 1
