"""The engine's e-mode equals the protocol maths: on random books, the HF the replay computes from
its reserves equals aave_v3.emode_params + the per-account-LT health factor; and a lake without
the e-mode column replays exactly as one that says 0 everywhere."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest.inputs.book import load_book
from backtest.protocols.rules import health_factor
from backtest.run import make_config, run
from backtest.lake.io import read_table, write_parquet, write_table
from backtest.protocols.aave import v3 as aave_v3
from backtest.protocols.aave import v33 as aave_v33
from backtest.results import write_results
from backtest.scenarios import load_scenario
from tests.engine_emode.conftest import BLOCK, WHEN, scenario_file

ASSETS = ["DAI", "USDC", "WETH", "wstETH"]
PRICES = [1.0, 1.0, 2000.0, 2300.0]
bps = st.integers(min_value=1, max_value=9000).map(lambda b: b / 10_000)


@st.composite
def books(draw):
    n = draw(st.integers(1, 6))
    asset_cat = draw(st.lists(st.integers(0, 2), min_size=4, max_size=4))
    user_cat = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    lt = draw(st.lists(bps, min_size=4, max_size=4))
    cat_lt = [0.0] + sorted(draw(st.lists(st.integers(9000, 9800), min_size=2, max_size=2)))
    cat_lt = [x / 10_000 for x in cat_lt]
    amount = st.sampled_from([0.0, 0.5, 3.0, 1234.5, 9e5])
    coll = np.array(draw(st.lists(st.lists(amount, min_size=4, max_size=4), min_size=n, max_size=n)))
    debt = np.array(draw(st.lists(st.lists(amount, min_size=4, max_size=4), min_size=n, max_size=n)))
    return asset_cat, np.array(user_cat), lt, cat_lt, coll, debt


def _write(lake: Path, asset_cat, user_cat, lt, cat_lt, coll, debt):
    write_table(lake, "markets", pa.Table.from_pylist([
        dict(protocol="aave-v3", market="m", asset=a, decimals=18, ltv=lt[j] * 0.9, liquidation_threshold=lt[j],
             liquidation_bonus=0.05, close_factor=0.5, protocol_fee=0.1, emode_category=asset_cat[j],
             valid_from_block=1) for j, a in enumerate(ASSETS)]))
    write_table(lake, "emode_categories", pa.Table.from_pylist([
        dict(protocol="aave-v3", market="m", category=k, ltv=cat_lt[k] - 0.02, liquidation_threshold=cat_lt[k],
             liquidation_bonus=0.01 * k, label=f"cat {k}", valid_from_block=1) for k in (1, 2)]))
    rows = [(f"0x{i:040x}", a, coll[i, j], debt[i, j], int(user_cat[i]))
            for i in range(len(user_cat)) for j, a in enumerate(ASSETS) if coll[i, j] or debt[i, j] or j == 0]
    write_table(lake, "positions", pa.table({
        "protocol": ["aave-v3"] * len(rows), "account": [r[0] for r in rows], "asset": [r[1] for r in rows],
        "collateral": [r[2] for r in rows], "debt": [r[3] for r in rows],
        "block_number": pa.array([BLOCK] * len(rows), pa.int64()),
        "timestamp": pa.array([WHEN] * len(rows), pa.timestamp("us", tz="UTC")),
        "emode_category": pa.array([r[4] for r in rows], pa.int32())}))
    write_table(lake, "prices", pa.table({"asset": ASSETS,
                                          "timestamp": pa.array([WHEN] * 4, pa.timestamp("us", tz="UTC")),
                                          "price_usd": PRICES}))


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(books())
def test_engine_hf_and_bonus_equal_emode_params_and_health_factor(book_spec):
    asset_cat, user_cat, lt, cat_lt, coll, debt = book_spec
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        _write(lake, *book_spec)
        scenario = load_scenario(scenario_file(Path(tmp), 0.0))
        book = load_book(lake, scenario, make_config(scenario, lake))
    # what the protocol says, on the dense [account, asset] book
    cat_ltv, cat_bonus = [0.0] + [x - 0.02 for x in cat_lt[1:]], [0.0, 0.01, 0.02]
    _, lt_eff, bonus_eff = aave_v3.emode_params(asset_cat, user_cat, [x * 0.9 for x in lt], lt, [0.05] * 4,
                                                cat_ltv, cat_lt, cat_bonus)
    price = np.array(PRICES)
    expected = aave_v33.health_factor(coll * price, debt * price, lt_eff)
    # what the engine computes from its reserve columns
    p = book.prices[book.reserve_asset]
    got = health_factor(book.collateral * p, book.debt * p, book.liquidation_threshold, np.ones(len(user_cat), bool))
    order = [int(a, 16) for a in book.accounts]          # accounts are sorted by address: 0x..00, 0x..01, ...
    np.testing.assert_allclose(got, expected[order], rtol=1e-12)
    # each position sits on a reserve whose bonus is the one the protocol would pay for it
    for i, acct in enumerate(order):
        for r in np.flatnonzero(book.collateral[i] > 0):
            j = ASSETS.index(book.assets[r])
            assert book.liquidation_bonus[r] == bonus_eff[acct, j]
            assert book.collateral[i, r] == coll[acct, j]


def test_a_lake_without_the_emode_column_replays_byte_for_byte_as_one_with_zeros(small_lake, tmp_path):
    """The sample's positions with their e-mode accounts removed: once with no emode_category column
    and no emode_categories table (an older lake, a cryo or Dune import), once with a column of
    zeros and the categories table. Same book, same liquidations, steps and metrics."""
    import pyarrow.compute as pc
    import shutil
    positions = read_table(small_lake, "positions")
    plain = positions.filter(pc.equal(positions["emode_category"], 0))
    assert plain.num_rows < positions.num_rows              # the sample does have e-mode accounts
    outs = []
    for name, table, categories in (("old", plain.drop_columns(["emode_category"]), False), ("zeros", plain, True)):
        lake = tmp_path / name
        shutil.copytree(small_lake, lake)
        shutil.rmtree(lake / "positions")
        shutil.rmtree(lake / "emode_categories")
        write_parquet(table, lake / "positions" / "positions.parquet")
        if categories:
            shutil.copytree(small_lake / "emode_categories", lake / "emode_categories")
        assert ("emode_category" in read_table(lake, "positions").column_names)   # read as nulls when absent
        scenario = load_scenario("stylised-eth-crash")
        result = run(make_config(scenario, lake, ["pool_depth_scale=0.3"]), scenario)
        write_results(tmp_path / f"out-{name}", result.config, result.outcome, result.metrics, result.inputs)
        outs.append(result)
    old, zeros = outs
    assert old.inputs.book.reserve_emode.tolist() == [0] * len(old.inputs.book.assets)
    assert old.outcome.liquidations.num_rows > 0
    for f in ("liquidations.parquet", "steps.parquet", "events.parquet", "accounts.parquet", "metrics.json"):
        assert (tmp_path / "out-old" / f).read_bytes() == (tmp_path / "out-zeros" / f).read_bytes(), f
