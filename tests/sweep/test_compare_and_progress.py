"""The comparison table (hand-worked numbers) and the progress line."""

import io

import pyarrow as pa
import pytest

from backtest.sweep.compare import compare, render
from backtest.sweep.progress import Progress


def _results():
    # baseline (set 0) and one set, 4 paths each; paths are paired by index
    return pa.table({
        "set_id": pa.array([0, 0, 0, 0, 1, 1, 1, 1], pa.int32()),
        "path": pa.array([0, 1, 2, 3] * 2, pa.int32()),
        "liquidation_threshold.CRV": [None] * 4 + [0.3] * 4,
        "bad_debt_usd": [0.0, 100.0, 0.0, 300.0, 0.0, 50.0, 0.0, 0.0],
        "liquidations": pa.array([10, 12, 9, 20, 14, 15, 11, 25], pa.int64()),
        "cascade_depth": pa.array([0, 1, 0, 2, 0, 1, 0, 1], pa.int64()),
        "collateral_seized_usd": [1e6, 2e6, 1e6, 4e6, 1.5e6, 2.5e6, 1.2e6, 5e6],
    })


def test_comparison_against_the_baseline_hand_worked():
    c = compare(_results(), ["liquidation_threshold.CRV"]).to_pylist()
    base, lower = c[0], c[1]
    # baseline bad debt 0, 100, 0, 300: mean 100; sorted 0, 0, 100, 300, p95 at rank 0.95 * 3 = 2.85:
    # 100 + 0.85 * (300 - 100) = 270; bad debt on 2 of 4 paths
    assert base["bad_debt_usd_mean"] == 100.0
    assert base["bad_debt_usd_p95"] == pytest.approx(270.0)
    assert base["prob_bad_debt"] == 0.5
    # set 1: 0, 50, 0, 0 -> mean 12.5, p95 rank 2.85 in 0, 0, 0, 50 -> 0.85 * 50 = 42.5, P = 1/4
    assert lower["bad_debt_usd_mean"] == 12.5
    assert lower["delta_bad_debt_usd_mean"] == -87.5
    assert lower["delta_bad_debt_usd_p95"] == pytest.approx(42.5 - 270.0)
    assert lower["delta_prob_bad_debt"] == -0.25
    # liquidations 14+15+11+25 = 65 vs 10+12+9+20 = 51 over 4 paths: +3.5 per path
    assert lower["delta_liquidations_mean"] == 3.5
    assert lower["delta_cascade_depth_mean"] == pytest.approx((2 - 3) / 4)
    assert base["delta_bad_debt_usd_mean"] == 0.0 and base["paths"] == 4
    assert lower["liquidation_threshold.CRV"] == 0.3


def test_render_names_the_baseline_and_shows_the_changes():
    text = render(compare(_results(), ["liquidation_threshold.CRV"]), ["liquidation_threshold.CRV"])
    lines = text.splitlines()
    assert lines[1].strip().startswith("baseline")
    assert "$-88" in lines[2] and "50%" in lines[1] and "25%" in lines[2]
    # liquidations: a whole mean prints whole (51 / 4 = 12.75 is not; one path's 10 is)
    assert "12.8" in lines[1] and "+3.5" in lines[2]
    one = _results().filter(pa.compute.equal(_results()["path"], 0))
    one_text = render(compare(one, ["liquidation_threshold.CRV"]), ["liquidation_threshold.CRV"])
    assert " 10 " in one_text.splitlines()[1] + " " and "10.0" not in one_text and "+4 " in one_text + " "


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_counts_resumed_tasks_as_done_but_not_in_the_pace():
    import re
    import time
    out = Terminal()
    bar = Progress(total=10, already=6, stream=out)
    time.sleep(1.0)
    bar.update()            # 7/10 done; 1 task in >= 1 s this session, 3 left -> ETA >= 3 s (not 3/7 s)
    last = out.getvalue().split("\r")[-1]
    assert "7/10" in last and "70%" in last and bar.ran == 1
    minutes, seconds = map(int, re.search(r"<(\d+):(\d+)", last).groups())
    assert minutes * 60 + seconds >= 2
    bar.close()


def test_progress_on_a_terminal_redraws_in_place_on_every_task_and_ends_the_line():
    out = Terminal()
    bar = Progress(total=3, stream=out)
    for _ in range(3):
        bar.update()
    bar.close()
    text = out.getvalue()
    assert text.count("\r") >= 4                             # the start and each of the three tasks
    assert text.count("\n") == 1 and text.endswith("\n")     # one line, ended once
    assert "3/3" in text.split("\r")[-1] and "100%" in text.split("\r")[-1]


def test_progress_off_a_terminal_prints_nothing():
    # piped, redirected or a CI log: not one line (issue #8), as for every other progress bar
    out = io.StringIO()
    bar = Progress(total=100, stream=out)
    for _ in range(100):
        bar.update()
    bar.close()
    assert out.getvalue() == ""


def test_a_sweep_with_stderr_not_a_terminal_writes_nothing_to_it(sweep_lake, crash, tmp_path, capfd):
    from backtest.sweep import run_sweep
    run_sweep(crash, sweep_lake, tmp_path, grids=["liquidation_threshold.CRV=0.30"], workers=1)
    assert capfd.readouterr().err == ""

