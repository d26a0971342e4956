"""The lake: schemas, atomic writes, one-line errors, DuckDB views over every table."""

from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backtest.errors import InputError
from backtest.lake import SCHEMAS, connect, read_table, run_query, write_table
from backtest.lake.io import atomic_path

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def prices(values, assets=None):
    n = len(values)
    return pa.table({"asset": assets or ["WETH"] * n, "timestamp": [T0] * n, "price_usd": values})


def test_written_table_reads_back_in_the_lake_schema(tmp_path):
    write_table(tmp_path, "prices", prices([2000.0, 2001.0]))
    t = read_table(tmp_path, "prices")
    assert t.schema == SCHEMAS["prices"]
    assert t["price_usd"].to_pylist() == [2000.0, 2001.0]
    assert t["outlier"].null_count == 2          # optional column filled with nulls


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_table(tmp_path, "prices", prices([2000.0]))
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"half a parquet fi")
            raise RuntimeError("killed mid-write")
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_negative_price_is_refused_with_file_column_and_row(tmp_path):
    f = tmp_path / "prices" / "bad.parquet"
    f.parent.mkdir()
    pq.write_table(prices([2000.0, 1999.0, -5.0]), f)
    with pytest.raises(InputError) as err:
        read_table(tmp_path, "prices")
    assert str(err.value).startswith(f"{f}, column 'price_usd', row 3:")
    assert "\n" not in str(err.value)


def test_a_nan_price_is_refused(tmp_path):
    f = tmp_path / "prices" / "nan.parquet"
    f.parent.mkdir()
    pq.write_table(prices([float("nan")]), f)
    with pytest.raises(InputError, match="row 1: must be a finite number"):
        read_table(tmp_path, "prices")


def test_a_missing_column_is_named(tmp_path):
    f = tmp_path / "positions" / "p.parquet"
    f.parent.mkdir()
    pq.write_table(pa.table({"protocol": ["aave-v3"], "account": ["0x1"], "asset": ["WETH"], "collateral": [1.0],
                             "debt": [0.0], "block_number": [1]}), f)
    with pytest.raises(InputError, match="column 'timestamp'.*missing required column"):
        read_table(tmp_path, "positions")


def test_a_truncated_parquet_file_is_an_input_error(tmp_path):
    path = write_table(tmp_path, "prices", prices([2000.0]))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_table(tmp_path, "prices")


def test_markets_refuse_a_bonus_that_would_seize_more_than_the_collateral(tmp_path):
    row = dict(protocol="aave-v3", asset="CRV", decimals=18, ltv=0.5, liquidation_threshold=0.95,
               liquidation_bonus=0.10, valid_from_block=1)
    with pytest.raises(InputError, match=r"liquidation_bonus.*row 1: liquidation_threshold \* \(1 \+ liquidation_bonus\)"):
        write_table(tmp_path, "markets", pa.Table.from_pylist([row]))


def test_every_table_is_a_view_even_when_the_lake_lacks_it(tmp_path):
    write_table(tmp_path, "prices", prices([2000.0, 3000.0], ["WETH", "WBTC"]))
    con = connect(tmp_path)
    assert con.execute("SELECT count(*) FROM prices").fetchall()[0][0] == 2
    for name in SCHEMAS:
        cols = [r[0] for r in con.sql(f"DESCRIBE {name}").fetchall()]
        assert set(SCHEMAS[name].names) <= set(cols), name
    assert con.execute("SELECT count(*) FROM logs").fetchall()[0][0] == 0


def test_an_unknown_query_lists_the_known_ones(tmp_path):
    with pytest.raises(InputError, match="no query named 'nope'.*health_distribution"):
        run_query(connect(tmp_path), "nope")
