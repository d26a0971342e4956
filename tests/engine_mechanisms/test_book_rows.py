"""A lake written by `backtest snapshot` has Comet markets rows for its collateral assets only."""

import shutil

import numpy as np
import pyarrow.compute as pc
import pytest

from backtest.inputs.book import load_book
from backtest.run import make_config
from backtest.errors import InputError
from backtest.lake.io import read_table, write_table
from backtest.scenarios import load_scenario

SCENARIO = load_scenario("stylised-eth-crash")


def _without(small_lake, tmp_path, drop):
    lake = tmp_path / "lake"
    shutil.copytree(small_lake, lake)
    markets = read_table(lake, "markets")
    keep = pc.invert(pc.and_(pc.equal(markets["protocol"], drop[0]), pc.equal(markets["asset"], drop[1])))
    for f in (lake / "markets").glob("*.parquet"):
        f.unlink()
    write_table(lake, "markets", markets.filter(keep))
    return lake


@pytest.mark.parametrize("debt_row", [("comet", "USDC"), ("maker", "DAI")])
def test_the_debt_asset_of_comet_and_maker_needs_no_markets_row(small_lake, tmp_path, debt_row):
    lake = _without(small_lake, tmp_path, debt_row)
    book = load_book(lake, SCENARIO, make_config(SCENARIO, lake))
    full = load_book(small_lake, SCENARIO, make_config(SCENARIO, small_lake))
    # the sample's own rows for them are all zeros (not collateral): the same book either way
    j = list(zip(book.reserve_protocol, book.assets)).index(debt_row)
    assert book.liquidation_threshold[j] == 0.0 and book.liquidation_bonus[j] == 0.0
    for name in ("ltv", "liquidation_threshold", "liquidation_bonus", "protocol_fee"):
        assert np.array_equal(getattr(book, name), getattr(full, name)), name


def test_a_missing_collateral_row_is_still_refused(small_lake, tmp_path):
    lake = _without(small_lake, tmp_path, ("comet", "WETH"))
    with pytest.raises(InputError, match="no markets parameters for comet WETH"):
        load_book(lake, SCENARIO, make_config(SCENARIO, lake))
