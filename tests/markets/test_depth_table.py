"""The depth_curves table is conformed as the core lake tables are (backtest.lake.io.conform)."""

import pyarrow as pa
import pytest

from backtest.errors import InputError
from backtest.inputs.depth_table import SCHEMA, conform, read_depth_curves, write_depth_curves

ROW = dict(venue="cex", asset="WETH", impact=0.01, amount=100.0, valid_from_block=1)


def test_optional_columns_are_added_as_nulls_and_types_cast_to_the_schema():
    t = conform(pa.table({**{k: [v] for k, v in ROW.items()}, "valid_from_block": pa.array([1], pa.int32())}), "x")
    assert t.schema == SCHEMA
    assert t["fee"].to_pylist() == [None] and t["source"].to_pylist() == [None]


def test_numbers_stored_as_text_are_refused_like_in_any_lake_table(tmp_path):
    # "0.01" would parse, but a text column where the schema says double is a wrong type
    with pytest.raises(InputError, match="expected double, found string") as err:
        write_depth_curves(tmp_path, pa.table({**{k: [v] for k, v in ROW.items()}, "impact": ["0.01"]}))
    assert err.value.column == "impact"
    assert read_depth_curves(tmp_path).num_rows == 0          # nothing was written


def test_a_missing_required_column_names_the_table_and_the_column():
    with pytest.raises(InputError, match="missing required column of table 'depth_curves'") as err:
        conform(pa.table({k: [v] for k, v in ROW.items() if k != "amount"}), "x")
    assert err.value.column == "amount"
