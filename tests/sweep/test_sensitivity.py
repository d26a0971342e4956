"""`backtest sensitivity`: one-key sweeps read back per value, spreads flagged, unknown keys named."""

from __future__ import annotations

import io

import pytest

from backtest.cli import main
from backtest.run import make_config, run
from backtest.errors import InputError
from backtest.sweep.sensitivity import Row, factor, parse_vary, render, run_sensitivity


def test_factor_is_max_over_min_with_zero_handled():
    assert factor([2.0, 5.0, 3.0]) == 2.5
    assert factor([0.0, 0.0]) == 1.0
    assert factor([0.0, 4.0]) == float("inf")


def test_parse_vary_rejects_a_key_without_values():
    assert parse_vary(" pool_depth_scale = 0.5,1 ") == ("pool_depth_scale", "0.5,1")
    with pytest.raises(InputError, match="--vary expects KEY=V1,V2"):
        parse_vary("pool_depth_scale")


def test_render_flags_a_headline_that_moves_more_than_2x():
    rows = [Row("s", "a", ("1", "2"), (1e6, 2.5e6), (10, 11), 1e6, 10),
            Row("s", "b", ("1", "2"), (1e6, 1.5e6), (10, 11), 1e6, 10)]
    lines = render(rows, [("c", "unknown parameter 'c'")]).splitlines()
    assert "2.50x **> 2x**" in lines[2] and "> 2x" not in lines[3]
    assert lines[2].startswith("| s | $1.00M, 10 | `a` | 1, 2 | $1.00M / $2.50M | 10 / 11 |")
    assert lines[-1] == "not parameters of this engine (yet), skipped: `c` (unknown parameter 'c')"


def test_each_value_is_the_replay_with_that_value(sweep_lake, crash, tmp_path):
    rows, skipped = run_sensitivity([crash], sweep_lake, tmp_path, [("pool_depth_scale", "0.25,1")],
                                    workers=1, progress_stream=io.StringIO())
    assert skipped == [] and len(rows) == 1
    row = rows[0]
    for value, bad_debt, liqs in zip(("0.25", "1"), row.bad_debt_usd, row.liquidations):
        m = run(make_config(crash, sweep_lake, [f"pool_depth_scale={value}"])).metrics
        assert (bad_debt, liqs) == (m["bad_debt_usd"], m["liquidations"])
    assert row.bad_debt_usd[0] > row.bad_debt_usd[1]       # a quarter of the depth leaves more bad debt
    base = run(make_config(crash, sweep_lake)).metrics
    assert (row.baseline_bad_debt_usd, row.baseline_liquidations) == (base["bad_debt_usd"], base["liquidations"])
    assert (tmp_path / "stylised-eth-crash" / "pool_depth_scale" / "comparison.parquet").exists()


def test_unknown_key_skipped_when_not_asked_for_and_an_error_when_asked(sweep_lake, crash, tmp_path, capsys):
    rows, skipped = run_sensitivity([crash, crash], sweep_lake, tmp_path, [("no_such.key", "1,2")], strict=False)
    assert rows == [] and skipped == [("no_such.key", "unknown parameter 'no_such.key'")]   # once, not per scenario
    code = main(["sensitivity", "stylised-eth-crash", "--lake", str(sweep_lake), "--vary", "no_such.key=1,2",
                 "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "--vary no_such.key" in err
    assert not (tmp_path / "x").exists()


def test_written_factors_are_what_the_replay_summary_reads(tmp_path):
    from backtest.metrics.sensitivity import flagged
    from backtest.sweep.sensitivity import to_toml
    rows = [Row("s", "a", ("1", "2"), (1e6, 2.5e6), (10, 11), 1e6, 10),
            Row("s", "b", ("0", "1"), (0.0, 1e6), (10, 10), 0.0, 10)]
    f = tmp_path / "sensitivity.toml"
    f.write_text(to_toml(rows, "test lake"))
    line = flagged("s", f)
    assert "bad debt 2.5x across a 1..2" in line and "bad debt from 0 across b 0..1" in line
    assert "liquidations" not in line and "test lake" in line
    assert flagged("other", f).startswith("not measured for this scenario")
    # nothing over 2x: the line still names the largest factor and where it was measured
    calm = [Row("s", "a", ("1", "2"), (1e6, 1.9e6), (10, 11), 1e6, 10),
            Row("s", "b", ("0", "1"), (1e6, 1.2e6), (10, 10), 1e6, 10)]
    f.write_text(to_toml(calm, "test lake"))
    line = flagged("s", f)
    assert line.startswith("no headline moves more than 2x") and "at most bad debt 1.90x across a 1..2" in line
