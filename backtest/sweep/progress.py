"""The sweep's progress bar: backtest.progress (tqdm, drawn in place on a terminal, nothing at all
when stderr is piped, redirected or a CI log), counting tasks; tasks an earlier session finished
count as done but not in the pace, so the ETA is that of the tasks run in this session."""

from __future__ import annotations

from backtest.progress import Progress as Bar


class Progress(Bar):
    """Counts tasks, `already` of them done by an earlier session; redraws on every task."""

    def __init__(self, total: int, already: int = 0, stream=None, enabled: bool | None = None):
        super().__init__(total=total, label="sweep", unit="tasks", stream=stream, enabled=enabled, interval=0.0,
                         initial=already)
        self.ran = 0

    def update(self, n: int = 1) -> None:
        self.ran += n
        super().update(n)
