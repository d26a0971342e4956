"""Progress bars for long commands (ingest, long replays, sweeps): tqdm, drawn on stderr only when
stderr is a terminal. Piped or redirected output, CI logs and `--json` consumers see nothing from it,
so files and captured output stay byte for byte the same. Use it around a loop:

    for step in progress(range(n_steps), label="replay"):
        ...

or, when the work is not a loop over one iterable, as a context manager:

    with Progress(total=n_blocks, label="ingest", unit="blocks") as bar:
        bar.update(len(batch))
"""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def is_terminal(stream) -> bool:
    """The one rule for every progress display: draw only when the stream is a terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """Counts work, `initial` of it done before (a resumed sweep: counted as done, not in the rate);
    redraws at most every `interval` seconds; silent unless `stream` is a terminal."""

    def __init__(self, total: int | None = None, label: str = "", unit: str = "it", stream: TextIO | None = None,
                 enabled: bool | None = None, interval: float = 0.2, initial: int = 0):
        stream = stream if stream is not None else sys.stderr
        self.enabled = is_terminal(stream) if enabled is None else enabled
        self._label = label
        # smoothing=0: the rate is the session's average (work done here / time), so ETA ignores `initial`
        self.bar = tqdm(total=total or None, desc=label or None, unit=unit, file=stream, disable=not self.enabled,
                        mininterval=interval, initial=initial, smoothing=0, dynamic_ncols=True, leave=True,
                        unit_scale=False)

    @property
    def done(self) -> int:
        return int(self.bar.n)

    @property
    def label(self) -> str:
        return self._label

    @label.setter
    def label(self, text: str) -> None:
        self._label = text
        self.bar.set_description_str(text, refresh=False)

    def update(self, n: int = 1) -> None:
        self.bar.update(n)

    def close(self) -> None:
        """Draw the final state and end the line (so the next output starts clean)."""
        self.bar.close()

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
