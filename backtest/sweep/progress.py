"""A one-line progress bar over tasks with an ETA, on stderr."""

from __future__ import annotations

import sys
import time


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


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


class Progress:
    """Redraws in place on a terminal; elsewhere (CI logs) prints a line every 10 %."""

    def __init__(self, total: int, already: int = 0, stream=None, now=time.monotonic):
        self.total, self.done, self.ran = total, already, 0
        self.stream = stream if stream is not None else sys.stderr
        self.now, self.start = now, now()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._shown = -1
        self._show(force=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        self.ran += n
        self._show(force=self.done == self.total)

    def _show(self, force: bool = False) -> None:
        text = line(self.done, self.total, self.ran, self.now() - self.start)
        if self.tty:
            self.stream.write("\r" + text + ("\n" if self.done == self.total else ""))
        else:
            decile = int(10 * self.done / self.total) if self.total else 10
            if decile == self._shown and not force:
                return
            self._shown = decile
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.done != self.total:
            self.stream.write("\n")
            self.stream.flush()
