"""Bad input corpus: every malformed input ends in one stderr line naming what and where, a
non-zero exit (2 for InputError), and leaves the lake untouched with no results or temp files.

Each case breaks a private copy of a 500-account sample lake (or writes a bad scenario / price
file next to it), then runs the CLI in-process. The lake is hashed after the breakage and
after the run: the command must not have written to it.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from backtest.cli import main
from tests.reliability.conftest import REPO, folder_hash, folder_listing

SCENARIO = REPO / "data" / "scenarios" / "stylised-eth-crash.toml"


# ---------------------------------------------------------------- helpers to break a lake

def _path(lake: Path, table: str) -> Path:
    return lake / table / f"{table}.parquet"


def _edit(lake: Path, table: str, fn) -> None:
    """Rewrite one lake file with fn(table) -> table, bypassing every check the product makes."""
    p = _path(lake, table)
    pq.write_table(fn(pq.read_table(p)), p)


def _set(col: str, row: int, value, type_=None):
    def fn(t: pa.Table) -> pa.Table:
        vals = t[col].to_pylist()
        vals[row] = value
        i = t.schema.get_field_index(col)
        return t.set_column(i, col, pa.array(vals, type=type_ or t.schema.field(col).type))
    return fn


def _first_row(lake, table, col, value) -> int:
    t = pq.read_table(_path(lake, table))
    return t[col].to_pylist().index(value)


def _drop(col: str):
    return lambda t: t.drop_columns([col])


def _replay(lake: Path, tmp: Path, *extra, scenario=str(SCENARIO)) -> list[str]:
    return ["replay", scenario, "--lake", str(lake), "--out", str(tmp / "out"), *extra]


def _scenario(tmp: Path, text: str) -> str:
    f = tmp / "bad.toml"
    f.write_text(text)
    return str(f)


def _good_scenario_with(**replace) -> str:
    text = SCENARIO.read_text()
    for old, new in replace.items():
        text = text.replace(old.replace("__", " "), new)
    return text


def _import(lake: Path, f: Path, *extra) -> list[str]:
    return ["import-prices", str(f), "--lake", str(lake), "--asset", "ETH", "--format", "ohlcv", *extra]


def _csv(tmp: Path, text: str, name="prices.csv") -> Path:
    f = tmp / name
    f.write_text(text)
    return f


GOOD_CSV_ROWS = ["2020-03-12T00:00:00Z,200.0", "2020-03-12T01:00:00Z,190.0", "2020-03-12T02:00:00Z,180.0"]


# ---------------------------------------------------------------- the corpus
# Each case: (lake, tmp) -> (argv, [substrings the one stderr line must contain]).
# "where" is the file name, and the column and 1-based row when the input has them.

def markets_missing_column(lake, tmp):
    _edit(lake, "markets", _drop("liquidation_threshold"))
    return _replay(lake, tmp), ["markets.parquet", "'liquidation_threshold'", "missing"]


def markets_threshold_above_one(lake, tmp):
    _edit(lake, "markets", _set("liquidation_threshold", 4, 1.2))
    return _replay(lake, tmp), ["markets.parquet", "'liquidation_threshold'", "row 5"]


def markets_bonus_seizes_more_than_collateral(lake, tmp):
    # LT 0.83 * (1 + 0.30) = 1.079 > 1: at HF just below 1 the seizure exceeds the collateral.
    row = _first_row(lake, "markets", "liquidation_threshold", 0.83)
    _edit(lake, "markets", _set("liquidation_bonus", row, 0.30))
    return _replay(lake, tmp), ["markets.parquet", "'liquidation_bonus'", f"row {row + 1}", "(1 + liquidation_bonus)"]


def markets_ltv_above_threshold(lake, tmp):
    row = _first_row(lake, "markets", "liquidation_threshold", 0.83)
    _edit(lake, "markets", _set("ltv", row, 0.9))
    return _replay(lake, tmp), ["markets.parquet", "'ltv'", f"row {row + 1}"]


def markets_negative_bonus(lake, tmp):
    _edit(lake, "markets", _set("liquidation_bonus", 2, -0.05))
    return _replay(lake, tmp), ["markets.parquet", "'liquidation_bonus'", "row 3", ">= 0"]


def markets_threshold_as_text(lake, tmp):
    _edit(lake, "markets", lambda t: t.set_column(t.schema.get_field_index("liquidation_threshold"),
                                                  "liquidation_threshold",
                                                  pc.cast(t["liquidation_threshold"], pa.string())))
    return _replay(lake, tmp), ["markets.parquet", "'liquidation_threshold'", "expected"]


def markets_nan_threshold(lake, tmp):
    _edit(lake, "markets", _set("liquidation_threshold", 0, math.nan))
    return _replay(lake, tmp), ["markets.parquet", "'liquidation_threshold'", "row 1", "finite"]


def positions_negative_collateral(lake, tmp):
    _edit(lake, "positions", _set("collateral", 10, -1.0))
    return _replay(lake, tmp), ["positions.parquet", "'collateral'", "row 11"]


def positions_nan_debt(lake, tmp):
    _edit(lake, "positions", _set("debt", 7, math.nan))
    return _replay(lake, tmp), ["positions.parquet", "'debt'", "row 8", "finite"]


def positions_duplicated_key(lake, tmp):
    # row 2 becomes a copy of row 1: same (account, asset, block_number)
    def dup(t):
        return pa.concat_tables([t.slice(0, 1), t.slice(0, 1), t.slice(2)])
    _edit(lake, "positions", dup)
    return _replay(lake, tmp), ["positions.parquet", "'account'", "row 2", "duplicated"]


def positions_unknown_asset(lake, tmp):
    _edit(lake, "positions", _set("asset", 3, "DOGE"))
    return _replay(lake, tmp), ["positions.parquet", "'asset'", "row 4", "DOGE"]


def positions_missing_debt_column(lake, tmp):
    _edit(lake, "positions", _drop("debt"))
    return _replay(lake, tmp), ["positions.parquet", "'debt'", "missing"]


def positions_null_account(lake, tmp):
    _edit(lake, "positions", _set("account", 5, None))
    return _replay(lake, tmp), ["positions.parquet", "'account'", "row 6", "empty"]


def positions_truncated_parquet(lake, tmp):
    p = _path(lake, "positions")
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return _replay(lake, tmp), ["positions.parquet", "Parquet"]


def positions_empty_file(lake, tmp):
    _path(lake, "positions").write_bytes(b"")
    return _replay(lake, tmp), ["positions.parquet", "Parquet"]


def markets_not_parquet(lake, tmp):
    _path(lake, "markets").write_text("protocol,asset\naave-v3,WETH\n")
    return _replay(lake, tmp), ["markets.parquet", "Parquet"]


def positions_no_files(lake, tmp):
    _path(lake, "positions").unlink()
    return _replay(lake, tmp), ["positions", "no Parquet files"]


def prices_nan(lake, tmp):
    _edit(lake, "prices", _set("price_usd", 12, math.nan))
    return _replay(lake, tmp), ["prices.parquet", "'price_usd'", "row 13", "finite"]


def prices_zero(lake, tmp):
    _edit(lake, "prices", _set("price_usd", 0, 0.0))
    return _replay(lake, tmp), ["prices.parquet", "'price_usd'", "row 1", "> 0"]


def prices_negative(lake, tmp):
    _edit(lake, "prices", _set("price_usd", 99, -2280.0))
    return _replay(lake, tmp), ["prices.parquet", "'price_usd'", "row 100", "> 0"]


def prices_missing_price_column(lake, tmp):
    _edit(lake, "prices", _drop("price_usd"))
    return _replay(lake, tmp), ["prices.parquet", "'price_usd'", "missing"]


def pools_zero_liquidity(lake, tmp):
    row = pq.read_table(_path(lake, "pools"))["dex"].to_pylist().index("uniswap-v2")
    _edit(lake, "pools", _set("reserve0", row, 0.0))
    return _replay(lake, tmp), ["pools.parquet", "'reserve0'", f"row {row + 1}", "empty pool"]


def pools_fee_above_half(lake, tmp):
    _edit(lake, "pools", _set("fee", 0, 0.9))
    return _replay(lake, tmp), ["pools.parquet", "'fee'", "row 1"]


def gas_negative(lake, tmp):
    # the stylised scenario fixes gas at 120 gwei; without its [gas] table the replay reads the
    # lake's. Row 720 is 2024-01-01T00:00Z, the scenario's first step.
    text = SCENARIO.read_text().split("[gas]")[0] + "[assets" + SCENARIO.read_text().split("[assets", 1)[1]
    _edit(lake, "gas", _set("gas_price_gwei", 719, -25.0))
    return (_replay(lake, tmp, scenario=_scenario(tmp, text)),
            ["gas.parquet", "'gas_price_gwei'", "row 720"])


def lake_folder_missing(lake, tmp):
    return _replay(tmp / "no-such-lake", tmp), ["no-such-lake", "lake folder not found"]


# ---- scenarios

def scenario_empty_file(lake, tmp):
    return _replay(lake, tmp, scenario=_scenario(tmp, "")), ["bad.toml"]


def scenario_not_toml(lake, tmp):
    return _replay(lake, tmp, scenario=_scenario(tmp, "name = [unclosed\n")), ["bad.toml"]


def scenario_end_before_start(lake, tmp):
    text = _good_scenario_with(**{"end = 2024-01-02T00:00:00Z": "end = 2023-12-31T00:00:00Z"})
    return _replay(lake, tmp, scenario=_scenario(tmp, text)), ["bad.toml", "end"]


def scenario_zero_step(lake, tmp):
    text = _good_scenario_with(**{"step_seconds = 600": "step_seconds = 0"})
    return _replay(lake, tmp, scenario=_scenario(tmp, text)), ["bad.toml", "step_seconds"]


def scenario_unknown_lake_asset(lake, tmp):
    # WETH's path is read from a lake series that does not exist
    text = _good_scenario_with(**{'[assets.WETH]\nsource = "stylised"': '[assets.WETH]\nsource = "lake"\nlake_asset = "DOGE"'})
    text = text.replace("legs = [[2.0, -0.03], [5.0, -0.28], [5.0, 0.06], [6.0, -0.29], [6.0, 0.04]]\n", "")
    return _replay(lake, tmp, scenario=_scenario(tmp, text)), ["bad.toml", "assets.WETH", "DOGE"]


def scenario_unknown_name(lake, tmp):
    return _replay(lake, tmp, scenario="no-such-crash"), ["no-such-crash"]


# ---- CLI arguments

def set_unknown_key(lake, tmp):
    return _replay(lake, tmp, "--set", "oracle.nonsense=3"), ["oracle.nonsense"]


def set_without_equals(lake, tmp):
    return _replay(lake, tmp, "--set", "pool_depth_scale"), ["pool_depth_scale"]


def set_threshold_above_one(lake, tmp):
    return _replay(lake, tmp, "--set", "liquidation_threshold.WETH=1.5"), ["liquidation_threshold"]


def set_bonus_exceeding_collateral(lake, tmp):
    # WETH LT 0.83 * (1 + 0.25) = 1.0375 > 1
    return _replay(lake, tmp, "--set", "liquidation_bonus.WETH=0.25"), ["WETH", "liquidation_bonus"]


def set_negative_depth(lake, tmp):
    return _replay(lake, tmp, "--set", "pool_depth_scale=-1"), ["pool_depth_scale"]


def set_not_a_number(lake, tmp):
    return _replay(lake, tmp, "--set", "oracle.deviation=abc"), ["oracle.deviation"]


def sweep_bad_grid_value(lake, tmp):
    return (["sweep", str(SCENARIO), "--lake", str(lake), "--out", str(tmp / "out"), "--workers", "1",
             "--grid", "liquidation_bonus=0.05,oops"], ["liquidation_bonus"])


def set_unknown_asset(lake, tmp):
    return _replay(lake, tmp, "--set", "liquidation_bonus.NOPE=0.1"), ["NOPE"]


def sweep_zero_workers(lake, tmp):
    return (["sweep", str(SCENARIO), "--lake", str(lake), "--out", str(tmp / "out"), "--workers", "0",
             "--grid", "close_factor=1"], ["--workers"])


def sweep_zero_paths(lake, tmp):
    return (["sweep", str(SCENARIO), "--lake", str(lake), "--out", str(tmp / "out"), "--workers", "1",
             "--paths", "0", "--grid", "close_factor=1"], ["--paths"])


# ---- price files (backtest import-prices)

def price_file_empty(lake, tmp):
    return _import(lake, _csv(tmp, "")), ["prices.csv"]


def price_file_nan(lake, tmp):
    f = _csv(tmp, "time,close\n" + "\n".join(GOOD_CSV_ROWS[:2] + ["2020-03-12T02:00:00Z,nan"]) + "\n")
    return _import(lake, f), ["prices.csv", "row 3"]


def price_file_negative(lake, tmp):
    f = _csv(tmp, "time,close\n" + "\n".join(GOOD_CSV_ROWS[:1] + ["2020-03-12T01:00:00Z,-190.0"]) + "\n")
    return _import(lake, f), ["prices.csv", "row 2"]


def price_file_zero(lake, tmp):
    f = _csv(tmp, "time,close\n" + "\n".join(["2020-03-12T00:00:00Z,0"] + GOOD_CSV_ROWS[1:]) + "\n")
    return _import(lake, f), ["prices.csv", "row 1"]


def price_file_no_price_column(lake, tmp):
    f = _csv(tmp, "time,volume\n2020-03-12T00:00:00Z,5\n2020-03-12T01:00:00Z,6\n")
    return _import(lake, f), ["prices.csv"]


def price_file_bad_time(lake, tmp):
    f = _csv(tmp, "time,close\n2020-03-12T00:00:00Z,200\nnot-a-date,190\n")
    return _import(lake, f), ["prices.csv", "row 2"]


def price_file_overlaps_lake(lake, tmp):
    # a first file imports 00:00..02:00; a second file from 01:30 overlaps it (the same file again
    # would replace itself, by design)
    f = _csv(tmp, "time,close\n" + "\n".join(GOOD_CSV_ROWS) + "\n")
    assert main(_import(lake, f)) == 0
    g = _csv(tmp, "time,close\n2020-03-12T01:30:00Z,185.0\n2020-03-12T03:00:00Z,170.0\n", name="later.csv")
    return _import(lake, g), ["later.csv", "overlapping", "--fill"]


def price_file_divide_by_missing(lake, tmp):
    f = _csv(tmp, "time,close\n" + "\n".join(GOOD_CSV_ROWS) + "\n")
    return _import(lake, f, "--divide-by", str(tmp / "missing.csv")), ["missing.csv"]


def price_file_garbage_json(lake, tmp):
    f = _csv(tmp, '{"prices": [[1584000000000, "x"', name="prices.json")
    return ["import-prices", str(f), "--lake", str(lake), "--asset", "ETH"], ["prices.json"]


CASES = [v for k, v in dict(globals()).items()
         if callable(v) and getattr(v, "__module__", None) == __name__ and not k.startswith(("_", "test"))
         and v.__code__.co_varnames[:2] == ("lake", "tmp")]


def test_corpus_is_at_least_thirty_cases():
    assert len(CASES) >= 30


# a case decorated with xfail carries a product bug (see the reason); the mark moves onto its test
PARAMS = [pytest.param(c, id=c.__name__, marks=getattr(c, "pytestmark", [])) for c in CASES]


@pytest.mark.parametrize("case", PARAMS)
def test_bad_input_is_one_line_nonzero_and_touches_nothing(case, lake, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)              # a default results/ folder would land here, not in the repo
    work = tmp_path / "work"
    work.mkdir()
    argv, expected = case(lake, work)
    capsys.readouterr()
    before_lake, before_tree = folder_hash(lake), folder_listing(tmp_path)

    try:
        code = main(argv)
    except SystemExit as exc:                # argparse usage errors
        code = exc.code
    err = capsys.readouterr().err

    assert code == 2, f"exit {code}, stderr {err!r}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    for s in expected:
        assert s in lines[0], f"{s!r} not in {lines[0]!r}"
    assert "Traceback" not in err
    assert folder_hash(lake) == before_lake, "the lake changed"
    assert folder_listing(tmp_path) == before_tree, "a results folder or temp file was left"


def test_bad_input_through_a_real_process(lake, tmp_path):
    """The installed entry point, not just main(): exit 2, one line on stderr, nothing written."""
    _edit(lake, "markets", _set("liquidation_threshold", 4, 1.2))
    before = folder_hash(lake)
    proc = subprocess.run([sys.executable, "-m", "backtest", *_replay(lake, tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "markets.parquet" in lines[0] and "row 5" in lines[0], proc.stderr
    assert folder_hash(lake) == before
    assert not (tmp_path / "out").exists()


USAGE_ERRORS = {
    "not_an_int": (["sweep", "--workers", "abc"], "argument --workers"),
    "bad_calibrate_window": (["sweep", "--calibrate", "nonsense"], "argument --calibrate"),
    "unknown_model": (["sweep", "--model", "brownian"], "argument --model"),
    "unknown_flag": (["replay", "--no-such-flag"], "--no-such-flag"),
    "unknown_verb": (["explode"], "explode"),
}


@pytest.mark.parametrize("argv, named", USAGE_ERRORS.values(), ids=USAGE_ERRORS.keys())
def test_usage_errors_exit_2_and_end_with_one_error_line(argv, named, tmp_path, capsys, monkeypatch):
    # argparse prints its usage first, then one "backtest VERB: error: ..." line: the usage
    # block is argparse's convention, the last line is what names the argument
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2
    assert "error:" in lines[-1] and named in lines[-1]
    assert list(tmp_path.iterdir()) == []


def test_a_failing_run_leaves_an_earlier_results_folder_as_it_was(lake, tmp_path, capsys, monkeypatch):
    """--out pointing at an existing results folder: a bad replay or sweep must not clobber it."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert main(_replay(lake, tmp_path)) == 0
    before = folder_hash(out)
    assert main(_replay(lake, tmp_path, "--set", "liquidation_threshold.WETH=1.5")) == 2
    assert main(["sweep", str(SCENARIO), "--lake", str(lake), "--out", str(out), "--workers", "1",
                 "--grid", "liquidation_bonus=oops"]) == 2
    assert folder_hash(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake", "out"]
