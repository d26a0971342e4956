"""A progress bar for long commands (ingest, long replays, sweeps), without a dependency.

It draws on stderr, and only when stderr is a terminal: piped or redirected output, CI logs
and `--json` consumers see nothing from it. Use it around a loop:

    for step in progress(range(n_steps), label="replay"):
        ...

or, when the work is not a loop over one iterable, as a context manager:

    with Progress(total=n_blocks, label="ingest", unit="blocks") as bar:
        bar.update(len(batch))
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Iterable, Iterator, TextIO, TypeVar

T = TypeVar("T")


def duration(seconds: float) -> str:
    """7 -> '0:07', 125 -> '2:05', 3725 -> '1:02:05'."""
    seconds = int(round(max(seconds, 0.0)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def render(done: int, total: int | None, elapsed: float, label: str = "", unit: str = "it", width: int = 24) -> str:
    """One status line: label, bar, count, percent, rate, ETA (count and rate only when total is unknown)."""
    rate = done / elapsed if elapsed > 0 else 0.0
    speed = f"{rate:,.1f} {unit}/s" if rate < 100 else f"{rate:,.0f} {unit}/s"
    head = f"{label} " if label else ""
    if not total:
        return f"{head}{done:,} {unit}  {speed}  {duration(elapsed)}"
    frac = min(max(done / total, 0.0), 1.0)
    filled = int(frac * width)
    bar = "#" * filled + "-" * (width - filled)
    eta = duration((total - done) / rate) if rate > 0 and done < total else "0:00" if done >= total else "?"
    return f"{head}[{bar}] {done:,}/{total:,} {frac:4.0%}  {speed}  ETA {eta}"


class Progress:
    """Counts work and redraws at most every `interval` seconds; silent unless `stream` is a TTY."""

    def __init__(self, total: int | None = None, label: str = "", unit: str = "it", stream: TextIO | None = None,
                 enabled: bool | None = None, interval: float = 0.2, clock: Callable[[], float] = time.monotonic):
        self.total, self.label, self.unit = total, label, unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = is_terminal(self.stream) if enabled is None else enabled
        self.interval, self.clock = interval, clock
        self.done = 0
        self.start = self.clock()
        self._last = -float("inf")
        self._width = 0

    def update(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        if self.enabled and (now - self._last >= self.interval or (self.total and self.done >= self.total)):
            self._draw(now)

    def line(self, elapsed: float) -> str:
        """The status text; a command with its own notion of pace (sweep resumes) overrides it."""
        return render(self.done, self.total, elapsed, self.label, self.unit)

    def _draw(self, now: float) -> None:
        line = self.line(now - self.start)
        pad = max(self._width - len(line), 0)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._width, self._last = len(line), now

    def close(self) -> None:
        """Draw the final state and end the line (so the next output starts clean)."""
        if self.enabled:
            self._draw(self.clock())
            self.stream.write("\n")
            self.stream.flush()
            self.enabled = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(items: Iterable[T], total: int | None = None, **kwargs) -> Iterator[T]:
    """Yield `items`, counting each; total from len() when the iterable has one."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(total=total, **kwargs) as bar:
        for item in items:
            yield item
            bar.update()


def is_terminal(stream) -> bool:
    """The one rule for every progress display: draw only when the stream is a terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
