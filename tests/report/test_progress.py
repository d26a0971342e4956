"""The progress bars (tqdm): silent off a terminal, drawn in place on one, the line ended once."""

from __future__ import annotations

import io

from backtest.progress import Progress, progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_it_draws_on_a_terminal_and_ends_the_line():
    out = Terminal()
    assert list(progress(range(144), label="replay", unit="steps", stream=out)) == list(range(144))
    frames = out.getvalue().split("\r")[1:]
    assert frames[0].startswith("replay:   0%") and "0/144" in frames[0]
    assert "144/144" in frames[-1] and "100%" in frames[-1] and "steps/s" in frames[-1]
    assert out.getvalue().count("\n") == 1 and out.getvalue().endswith("\n")


def test_it_is_silent_when_the_output_is_not_a_terminal():
    out = io.StringIO()                                  # a pipe or a file: isatty() is False
    assert list(progress(range(5), label="x", stream=out)) == [0, 1, 2, 3, 4]
    with Progress(total=3, label="ingest", stream=out) as bar:
        bar.update(3)
    assert out.getvalue() == ""


def test_redraws_are_throttled():
    out = Terminal()
    with Progress(total=100_000, stream=out, interval=60.0) as bar:
        for _ in range(100_000):
            bar.update()
    # the first frame, then none until a minute has passed, then the last one on close
    assert out.getvalue().count("\r") <= 3 and "100000/100000" in out.getvalue()


def test_a_changed_label_shows_on_the_next_frame():
    out = Terminal()
    with Progress(total=10, label="ingest aave-v3", unit="blocks", stream=out, interval=0.0) as bar:
        bar.label = "ingest aave-v3: 12 logs"
        bar.update(10)
    assert out.getvalue().split("\r")[-1].startswith("ingest aave-v3: 12 logs: 100%")
