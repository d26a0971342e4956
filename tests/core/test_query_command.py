"""`backtest query NAME --param KEY=VALUE` (issue 20, item 5): every listed query runs on the sample
lake or is refused in one line naming what is missing and the command that fills it."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backtest import queries
from backtest.cli import main

# A value for every parameter any query takes, inside the sample's month (2023-12) of prices.
VALUES = {"block": "100", "ts": "1703030400", "source": "aave-v3", "at": "2023-12-20", "start": "2023-12-20",
          "end": "2023-12-21", "step_seconds": "3600", "asset": "WETH", "reference": "WBTC", "heartbeat": "3600"}
# The tables the sample lake has (backtest sample-data): a query reading only these must run on it;
# one reading chain events must be refused with the ingest that fills them.
SAMPLE_TABLES = {"positions", "markets", "prices", "gas", "pools", "pool_ticks", "emode_categories", "depth_curves"}


@pytest.fixture
def rounds_csv(tmp_path):
    path = tmp_path / "rounds.csv"
    path.write_text("round,answer,start,update\n1,100,0,0\n2,101,1800,1800\n3,101,5400,5400\n4,99,9000,9000\n")
    return path


def _args(name: str, **more) -> list[str]:
    values = {**VALUES, **more}
    assert set(queries.spec(name).params) <= set(values), f"give VALUES a value for {name}'s parameters"
    return [a for p in queries.spec(name).params for a in ("--param", f"{p}={values[p]}")]


@pytest.mark.parametrize("name", queries.names())
def test_every_query_runs_on_the_sample_or_is_refused_in_one_line(name, small_lake, rounds_csv, capsys):
    code = main(["query", name, "--lake", str(small_lake), "--limit", "2", *_args(name, csv=rounds_csv)])
    out, err = capsys.readouterr()
    spec = queries.spec(name)
    if not spec.needs_results and set(spec.lake_tables) <= SAMPLE_TABLES:      # chainlink_round_rules: none
        assert code == 0 and err == "" and out.strip()
        return
    assert code == 2 and out == "" and err.count("\n") == 1
    if queries.spec(name).needs_results:
        assert "--results RUN_DIR" in err
    else:
        assert "this lake does not have" in err and ("`backtest ingest --source " in err or "`backtest ingest --dune " in err)
        source = name.split("_at_block")[0].replace("_", "-")
        for known in queries.CHAIN_SOURCES:           # a source's own query names its own --source
            if source.startswith(known):
                assert f"--source {known} ..." in err


def test_help_lists_each_query_with_its_parameters_and_results():
    from backtest.cli import build_parser
    import argparse
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = sub.choices["query"].format_help()
    line = {ln.split()[0]: ln for ln in text.splitlines() if ln.startswith("  ") and ln.split()[0] in queries.names()}
    assert sorted(line) == queries.names()
    assert "--param asset=..." in line["price_path"] and "--param step_seconds=..." in line["price_path"]
    assert "--results RUN_DIR" in line["liquidations_by_hour"] and "--param" not in line["liquidations_by_hour"]
    assert "(no parameters)" in line["health"]


def test_the_placeholders_come_from_the_code_not_its_comments():
    # aave_v3_positions_at_block's header comment names $block and $ts; gas_path's names all three
    assert queries.spec("gas_path").params == ("start", "end", "step_seconds")
    assert queries.spec("liquidations_by_hour").tables == ("liquidations",)
    # account data reads the positions query's output, so it takes that query's block time too
    assert queries.spec("aave_account_data_at_block").params == ("source", "block", "ts")


def test_a_missing_parameter_is_named_with_the_flag_to_add(small_lake, capsys):
    assert main(["query", "price_path", "--lake", str(small_lake), "--param", "asset=WETH"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs start, end, step_seconds" in err and "--param start=..." in err


def test_a_mistyped_parameter_or_query_gets_the_closest_names(small_lake, capsys):
    assert main(["query", "book_prices", "--lake", str(small_lake), "--param", "att=2023-12-20"]) == 2
    assert "did you mean at?" in capsys.readouterr().err
    assert main(["query", "helth", "--lake", str(small_lake)]) == 2
    assert "did you mean health" in capsys.readouterr().err


def test_a_lake_that_does_not_exist_is_refused_not_an_empty_table(tmp_path, capsys):
    assert main(["query", "health", "--lake", str(tmp_path / "nope")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "lake folder does not exist" in err and "BACKTEST_LAKE" in err


def test_parameters_bind_as_numbers_and_text(small_lake, tmp_path):
    out = tmp_path / "p.parquet"
    assert main(["query", "price_path", "--lake", str(small_lake), "--out", str(out), *_args("price_path")]) == 0
    t = pq.read_table(out)
    assert t.num_rows == 25 and t["price_usd"].null_count == 0       # 24 hourly steps, both ends included


def test_over_a_results_folder(small_lake, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    ts = pa.array([1703030400_000_000, 1703030460_000_000, 1703034000_000_000], pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table({"timestamp": ts, "protocol": ["aave-v3"] * 3, "collateral_asset": ["WETH"] * 3,
                             "debt_repaid_usd": [1.0, 2.0, 4.0], "collateral_seized_usd": [1.1, 2.2, 4.4],
                             "profit_usd": [0.1, 0.2, 0.4], "round": [1, 2, 1]}), run / "liquidations.parquet")
    pq.write_table(pa.table({"timestamp": ts}), run / "steps.parquet")
    assert main(["query", "liquidations_by_hour", "--lake", str(small_lake), "--results", str(run),
                 "--out", str(tmp_path / "h.parquet")]) == 0
    assert pq.read_table(tmp_path / "h.parquet")["liquidations"].to_pylist() == [2, 1]


def test_duckdb_draws_no_progress_bar_into_the_output():
    # DuckDB prints its own bar on stdout for queries over ~2 s, into files and pipes too
    from backtest.lake.catalog import connect
    assert connect(None).sql("SELECT current_setting('enable_progress_bar')").fetchall() == [(False,)]
