"""The watchlist engine liquidates exactly what the full-book engine does, byte for byte."""

from dataclasses import replace

import numpy as np
import pytest

from backtest.config import LiquidatorConfig
from backtest.engine import reference, replay
from backtest.inputs.book import load_inputs
from backtest.run import make_config
from backtest.lake.io import write_parquet
from backtest.scenarios import load_scenario

CASES = {
    "default crash": ("stylised-eth-crash", ()),
    "thin pools, cascades": ("stylised-eth-crash", ("pool_depth_scale=0.05",)),
    "no feedback": ("stylised-eth-crash", ("feedback=false",)),
    "lower thresholds, slow oracle": ("stylised-eth-crash", ("liquidation_threshold.WETH=0.78",
                                                            "oracle.deviation=0.02")),
    "aave v3.3 deficit burning": ("stylised-eth-crash", ("protocol=aave-v3.3", "pool_depth_scale=0.05")),
    "bigger bonus, aave v2 rules": ("stylised-eth-crash", ("protocol=aave-v2", "liquidation_bonus=0.08")),
    "profit threshold": ("stylised-eth-crash", ("liquidator.min_profit_usd=500",)),
    "latency (the liquidatable-since clock)": ("stylised-eth-crash", ("liquidator.latency_blocks=150",)),
    "twap oracle on CRV, flash-loan fee": ("stylised-eth-crash", ("oracle.CRV.kind=twap", "liquidator.capital_usd=1",
                                                                  "liquidator.flash_loan_fee=0.01")),
    "two competing liquidators": ("stylised-eth-crash", ("liquidator.gas_units=900000", "liquidator.name=heavy")),
    # Comet absorbs and buyCollateral, Maker barks, takes and redos with venues too thin to clear them all
    "comet and maker, thin pools": ("stylised-eth-crash", ("pool_depth_scale=0.02",)),
    "keeper drought: comet absorbs always, maker redos": ("stylised-keeper-drought", ()),
    # a block holding four 500k-gas liquidations: the rest wait for the next block, in both loops alike
    "block gas limit binds, comet buys back only when it pays": ("stylised-eth-crash", (
        "competition.block_gas_limit=2000000", "comet.absorb=when_buying_pays")),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def both(request, small_lake):
    name, overrides = CASES[request.param]
    scenario = load_scenario(name)
    config = make_config(scenario, small_lake, overrides)
    if request.param == "two competing liquidators":
        config = replace(config, competitors=(LiquidatorConfig(name="lean", gas_units=200_000, latency_blocks=25),))
    inputs = load_inputs(config, scenario)
    return inputs, reference.replay(inputs, config), replay.replay(inputs, config)


def test_the_liquidations_parquet_is_byte_identical(both, tmp_path):
    _, slow, quick = both
    assert slow.liquidations.num_rows > 0
    a = write_parquet(slow.liquidations, tmp_path / "slow.parquet")
    b = write_parquet(quick.liquidations, tmp_path / "fast.parquet")
    assert a.read_bytes() == b.read_bytes()


def test_the_comet_and_maker_events_are_byte_identical(both, tmp_path):
    inputs, slow, quick = both
    assert slow.events.num_rows > 0 or not {"comet", "maker"} & set(inputs.book.protocol)
    a = write_parquet(slow.events, tmp_path / "slow.parquet")
    b = write_parquet(quick.events, tmp_path / "fast.parquet")
    assert a.read_bytes() == b.read_bytes() and slow.protocols == quick.protocols


def test_the_final_book_is_identical(both):
    _, slow, quick = both
    assert np.array_equal(slow.collateral, quick.collateral) and np.array_equal(slow.debt, quick.debt)
    assert np.array_equal(slow.oracle, quick.oracle)


def test_the_steps_agree_and_bad_debt_to_rounding(both):
    # Bad debt is summed over the candidates instead of the whole book: the same terms, added
    # in another order, so equal to float rounding; every other column is identical.
    _, slow, quick = both
    for name in slow.steps.column_names:
        if name != "bad_debt_usd":
            np.testing.assert_array_equal(quick.steps[name].to_numpy(), slow.steps[name].to_numpy(), err_msg=name)
    np.testing.assert_allclose(quick.steps["bad_debt_usd"].to_numpy(), slow.steps["bad_debt_usd"].to_numpy(),
                               rtol=1e-12, atol=1e-9)


def test_candidate_rows_get_the_same_bits_as_the_whole_book():
    from backtest.engine.health import rows_health_factor
    from backtest.protocols.rules import health_factor
    rng = np.random.default_rng(11)
    n, r = 3001, 26                          # 26 reserves as the sample; 3001 = 750 blocks of 4 + a tail of 1
    coll = rng.random((n, r)) * rng.random((n, 1)) * 1e4 * (rng.random((n, r)) < 0.3)
    debt = rng.random((n, r)) * 5e3 * (rng.random((n, r)) < 0.1)
    price, lt = rng.uniform(0.5, 5e4, r), rng.uniform(0.0, 0.9, r)
    floors = rng.random(n) < 0.7
    coll[:8], debt[:8] = 0.0, 0.0                                        # rows 0-7: no debt (inf), no collateral,
    debt[1:8, 3], coll[2, 5], coll[3, 5], debt[4, 2] = 100.0, -0.0, np.nan, np.inf  # -0.0, NaN and inf cells
    coll[5:8, 1], debt[5:8, 1] = 1e300, 1e-300                          # huge and tiny values
    with np.errstate(invalid="ignore", over="ignore"):
        whole = health_factor(coll * price, debt * price, lt, floors)
    for k in (1, 2, 3, 5, 8, 17, 64, 999):
        rows = np.sort(rng.choice(n, k, replace=False))
        rows[-1] = n - 1 if k > 3 else rows[-1]                                # include the tail row
        rows = np.unique(np.concatenate([rows, np.arange(8)]) if k == 8 else rows)
        with np.errstate(invalid="ignore", over="ignore"):
            assert rows_health_factor(coll, debt, rows, price, lt, floors).tobytes() == whole[rows].tobytes()


def test_candidate_rows_read_from_their_packed_cells_get_the_whole_books_bits():
    """rows_health_factor given BookState.cells (the packed cells, RowHealth's way on a book with no -0.0
    cell) gives the whole-book bits, for rows read whole after a cell grew from zero too; a price not finite
    or not > 0 reads the book."""
    from backtest.engine.health import rows_health_factor
    from backtest.engine.state import BookState
    from backtest.protocols.rules import health_factor, rules_for
    rng = np.random.default_rng(12)
    n, r = 1001, 26
    coll = rng.random((n, r)) * 1e4 * (rng.random((n, r)) < 0.2)
    debt = rng.random((n, r)) * 5e3 * (rng.random((n, r)) < 0.1)
    coll[3, 4], debt[5, 6] = np.nan, np.inf
    book = BookState(coll, debt, [rules_for("aave-v3")] * n, np.arange(r))
    price, lt = rng.uniform(0.5, 5e4, r), rng.uniform(0.0, 0.9, r)
    floors = rng.random(n) < 0.7
    book.watch(lt, price)
    for i in rng.choice(n, 30, replace=False).tolist():              # cells grown from zero: read whole
        book._coll[i, np.flatnonzero(book.coll[i] == 0)[:3]] = 2.0
        book._touched.append(i)
    for odd in (None, np.nan, 0.0):
        p = price.copy()
        if odd is not None:
            p[7] = odd
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            whole = health_factor(book.coll * p, book.debt * p, lt, floors)
            for k in (1, 5, 64, 999):
                rows = np.unique(np.append(rng.choice(n, k, replace=False), [3, 5, n - 1]))
                got = rows_health_factor(book.coll, book.debt, rows, p, lt, floors, book.cells(rows))
                assert got.tobytes() == whole[rows].tobytes()
