"""The round's compiled pass (liquidator.Prescreen, screen.next_to_liquidate) skips exactly the rows
`liquidate` would return None for before any quote: a replay gives the same bytes with it (compiled)
and without it (the Python path calling liquidate row by row)."""

from dataclasses import replace

import numpy as np
import pytest

from backtest import compiled
from backtest.agents import screen
from backtest.config import LiquidatorConfig
from backtest.engine import replay
from backtest.inputs.book import load_inputs
from backtest.lake.io import write_parquet
from backtest.run import make_config
from backtest.scenarios import load_scenario

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
    agents = np.array([[0.0, 500_000.0, 0.0, 0.0005]])
    out = np.empty((2 * 2 * 2, 6))
    rows, hf = np.array([1, 0]), np.array([0.7, 0.9])

    def first(waited, gas_left, start=0):
        return screen.next_to_liquidate(start, rows, hf, waited, np.zeros(2, dtype=np.int64), np.zeros(2), coll,
                                        debt, price, asset_of, lt, bonus, fee, close, floor, ceiling, sizes, agents,
                                        gas_left, 2e-5, out)
    assert first(np.zeros(2), 30e6) == 1
    assert first(np.zeros(2), 30e6, start=2) == 2
    assert first(np.zeros(2), 400_000.0) == 2
    agents[0, 0] = 3.0
    assert first(np.array([2.0, 2.0]), 30e6) == 2 and first(np.array([3.0, 3.0]), 30e6) == 1
