"""The sweep's progress bar: the shared bar (backtest.progress: drawn in place on a terminal,
nothing at all when stderr is piped, redirected or a CI log) with the sweep's own line, whose ETA
counts only the tasks run in this session (resumed ones cost nothing)."""

from __future__ import annotations

import time

from backtest.progress import Progress as Bar, duration


def clock(seconds: float | None) -> str:
    """backtest.progress.duration, or `--:--` before any task has set a pace."""
    return "--:--" if seconds is None else duration(seconds)


def eta(ran: int, remaining: int, elapsed: float) -> float | None:
    """Seconds left at the pace of the tasks run so far in this session (resumed ones cost nothing)."""
    if ran <= 0:
        return None
    return elapsed / ran * remaining


def line(done: int, total: int, ran: int, elapsed: float, width: int = 24) -> str:
    frac = done / total if total else 1.0
    filled = int(frac * width)
    bar = "#" * filled + "-" * (width - filled)
    return (f"sweep [{bar}] {done}/{total} tasks {frac:4.0%}  elapsed {clock(elapsed)}  "
            f"ETA {clock(eta(ran, total - done, elapsed))}")


class Progress(Bar):
    """Counts tasks, `already` of them done by an earlier session; redraws on every task."""

    def __init__(self, total: int, already: int = 0, stream=None, now=time.monotonic, enabled: bool | None = None):
        super().__init__(total=total, label="sweep", unit="tasks", stream=stream, enabled=enabled, interval=0.0,
                         clock=now)
        self.done, self.ran = already, 0
        if self.enabled:
            self._draw(self.clock())

    def update(self, n: int = 1) -> None:
        self.ran += n
        super().update(n)

    def line(self, elapsed: float) -> str:
        return line(self.done, self.total, self.ran, elapsed)
