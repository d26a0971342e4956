"""The progress helper: silent off a terminal, rate and ETA from an injected clock."""

from __future__ import annotations

import io

from backtest.progress import Progress, duration, progress, render


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_durations_read_as_clock_time():
    assert duration(7) == "0:07" and duration(125) == "2:05" and duration(3725) == "1:02:05"


def test_a_status_line_has_bar_count_rate_and_eta():
    # 36 of 144 steps in 12 s: 3.0 steps/s, 108 left -> 36 s; 25 % of a 24-wide bar is 6 marks
    line = render(36, 144, 12.0, label="replay", unit="steps")
    assert line == "replay [######------------------] 36/144  25%  3.0 steps/s  ETA 0:36"


def test_without_a_total_it_counts_and_times():
    # 1,500 blocks in 3 s is 500 blocks/s (no decimals above 100/s)
    assert render(1500, None, 3.0, label="ingest", unit="blocks") == "ingest 1,500 blocks  500 blocks/s  0:03"


def test_it_draws_on_a_terminal_and_ends_the_line():
    clock = iter([0.0, 1.0, 2.0, 2.0]).__next__        # start, two updates, close
    out = Terminal()
    with Progress(total=2, label="sweep", unit="tasks", stream=out, clock=clock, interval=0.0) as bar:
        bar.update()
        bar.update()
    frames = out.getvalue().split("\r")[1:]
    assert frames[0].startswith("sweep [############------------] 1/2  50%  1.0 tasks/s  ETA 0:01")
    assert frames[-1].rstrip().endswith("ETA 0:00") and out.getvalue().endswith("\n")


def test_it_is_silent_when_the_output_is_not_a_terminal():
    out = io.StringIO()                                  # a pipe or a file: isatty() is False
    assert list(progress(range(5), label="x", stream=out)) == [0, 1, 2, 3, 4]
    assert out.getvalue() == ""


def test_redraws_are_throttled():
    ticks = iter([0.0] + [0.01 * i for i in range(1, 101)] + [1.0]).__next__
    out = Terminal()
    with Progress(total=100, stream=out, clock=ticks, interval=0.25) as bar:
        for _ in range(100):
            bar.update()
    # a redraw at 0.01 s (the first), then every 0.25 s, and the last one at 100/100, plus close
    assert 4 <= out.getvalue().count("\r") <= 7
