"""The comparison table (hand-worked numbers) and the progress line."""

import io

import pyarrow as pa
import pytest

from backtest.sweep.compare import compare, render
from backtest.sweep.progress import Progress, clock, eta, line


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


def test_eta_is_the_pace_of_this_sessions_tasks_times_what_is_left():
    # 4 tasks in 20 s this session, 6 left -> 30 s; nothing run yet -> unknown
    assert eta(4, 6, 20.0) == 30.0
    assert eta(0, 10, 5.0) is None
    assert clock(30.0) == "0:30" and clock(3725) == "1:02:05" and clock(None) == "--:--"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_counts_resumed_tasks_as_done_but_not_in_the_pace():
    t = [0.0]
    out = Terminal()
    bar = Progress(total=10, already=6, stream=out, now=lambda: t[0])
    t[0] = 8.0
    bar.update()            # 7/10 done, 1 task in 8 s this session, 3 left -> ETA 24 s
    assert out.getvalue().split("\r")[-1].rstrip() == line(7, 10, 1, 8.0)
    assert "7/10 tasks" in out.getvalue() and "ETA 0:24" in out.getvalue()


def test_progress_on_a_terminal_redraws_in_place_on_every_task_and_ends_the_line():
    out = Terminal()
    bar = Progress(total=3, stream=out, now=lambda: 0.0)
    for _ in range(3):
        bar.update()
    bar.close()
    text = out.getvalue()
    assert text.count("\r") == 5                              # the start, three tasks, the close
    assert text.count("\n") == 1 and text.endswith("\n")     # one line, ended once
    assert "3/3 tasks 100%" in text.split("\r")[-1]


def test_progress_off_a_terminal_prints_nothing():
    # piped, redirected or a CI log: not one line (issue #8), as for every other progress bar
    out = io.StringIO()
    bar = Progress(total=100, stream=out, now=lambda: 0.0)
    for _ in range(100):
        bar.update()
    bar.close()
    assert out.getvalue() == ""


def test_a_sweep_with_stderr_not_a_terminal_writes_nothing_to_it(sweep_lake, crash, tmp_path, capfd):
    from backtest.sweep import run_sweep
    run_sweep(crash, sweep_lake, tmp_path, grids=["liquidation_threshold.CRV=0.30"], workers=1)
    assert capfd.readouterr().err == ""

