"""The positions checks name the first offending row (1-based, as the file holds them)."""

import pyarrow as pa
import pytest

from backtest.inputs.book import _check_positions
from backtest.errors import InputError

MARKETS = {"WETH", "USDC"}


def book(rows):
    cols = ("protocol", "account", "asset", "collateral", "debt", "block_number", "emode_category")
    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    return pa.table(data, schema=pa.schema([("protocol", pa.string()), ("account", pa.string()),
                                            ("asset", pa.string()), ("collateral", pa.float64()),
                                            ("debt", pa.float64()), ("block_number", pa.int64()),
                                            ("emode_category", pa.int32())]))


def check(rows):
    with pytest.raises(InputError) as err:
        _check_positions([("positions.parquet", book(rows))], MARKETS)
    return str(err.value)


def test_a_clean_book_passes_and_a_mechanisms_debt_asset_needs_no_markets_row():
    _check_positions([("p", book([("aave-v3", "a", "WETH", 1.0, 0.0, 1, None),
                                  ("maker", "m", "WETH", 2.0, 0.0, 1, None),
                                  ("maker", "m", "DAI", 0.0, 900.0, 1, None)]))], MARKETS)


def test_an_unknown_asset_is_named_at_its_first_row():
    msg = check([("aave-v3", "a", "WETH", 1.0, 0.0, 1, None), ("aave-v3", "b", "DOGE", 1.0, 0.0, 1, None),
                 ("aave-v3", "c", "DOGE", 1.0, 0.0, 1, None)])
    assert "row 2" in msg and "'DOGE' is not in the markets table" in msg


def test_the_first_repeated_key_is_named_not_its_first_occurrence():
    rows = [("aave-v3", a, "WETH", 1.0, 0.0, 1, None) for a in "abcb"] + [("aave-v3", "a", "WETH", 1.0, 0.0, 1, None)]
    msg = check(rows)
    assert "row 4" in msg and "duplicated (account, asset, block_number)" in msg


def test_an_account_whose_rows_disagree_on_its_emode_category_is_named_at_the_row_that_differs():
    msg = check([("aave-v3", "a", "WETH", 1.0, 0.0, 1, 1), ("aave-v3", "b", "WETH", 1.0, 0.0, 1, 0),
                 ("aave-v3", "b", "USDC", 0.0, 5.0, 1, 0), ("aave-v3", "a", "USDC", 0.0, 5.0, 1, None)])
    assert "row 4" in msg and "one e-mode category per snapshot" in msg      # null reads as 0, a's first row is 1


def test_emode_outside_aave_v3_is_refused_at_its_row():
    msg = check([("aave-v3", "a", "WETH", 1.0, 0.0, 1, 1), ("aave-v2", "b", "WETH", 1.0, 0.0, 1, 1)])
    assert "row 2" in msg and "aave-v2 has no e-mode categories" in msg
