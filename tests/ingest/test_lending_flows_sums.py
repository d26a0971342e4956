"""queries/lending_flows_at_block.sql: token amounts from the exact raw sums, the same bytes every run."""

import duckdb
import pyarrow as pa

from backtest.ingest.tables import chain_query

A = "0x" + "aa" * 20
TOKEN = "0x" + "11" * 20


def lake_con(amounts: list[float], raws: list[int | None]) -> duckdb.DuckDBPyConnection:
    n = len(amounts)
    rows = pa.table({
        "blockchain": ["ethereum"] * n, "project": ["aave"] * n, "version": ["3"] * n,
        "on_behalf_of": [A] * n, "borrower": [A] * n, "depositor": [A] * n,
        "token_address": [TOKEN] * n, "symbol": ["WETH"] * n,
        "amount_raw": pa.array([None if r is None else str(r) for r in raws], pa.string()),
        "amount": amounts, "block_number": list(range(n)),
    })
    con = duckdb.connect()
    con.register("rows", rows)
    con.execute("CREATE VIEW lending_supply AS SELECT * FROM rows")
    con.execute("CREATE VIEW lending_borrow AS SELECT * FROM rows WHERE false")
    return con


def test_token_amount_is_the_raw_sum_scaled_not_a_float_sum():
    # 0.1 + 0.2 as floats is 0.30000000000000004; the raw sum 3e17 / 1e18 is 0.3
    con = lake_con([0.1, 0.2], [10**17, 2 * 10**17])
    row = chain_query(con, "lending_flows_at_block", {"block": 10}).to_pylist()[0]
    assert row["net_supplied_raw"] == str(3 * 10**17)
    assert row["net_supplied"] == 0.3 and 0.1 + 0.2 != 0.3


def test_rows_without_raw_amounts_fall_back_to_the_float_sum():
    con = lake_con([0.1, 0.2], [None, None])
    row = chain_query(con, "lending_flows_at_block", {"block": 10}).to_pylist()[0]
    assert row["net_supplied"] == 0.1 + 0.2


def test_many_rows_give_the_same_bytes_every_run():
    # 200k rows of 6-decimal amounts added in whatever order DuckDB's threads take them
    raws = [(i * 7919) % 10**9 + 1 for i in range(200_000)]
    con = lake_con([r / 10**6 for r in raws], raws)
    con.execute("SET threads = 4")
    runs = {chain_query(con, "lending_flows_at_block", {"block": 10**6})["net_supplied"].to_pylist()[0]
            for _ in range(5)}
    assert runs == {sum(raws) / 10**6}
