"""One error type for bad input, so the CLI can print one line and exit non-zero; and the helpers
every error message uses: the closest known names for a typo, numbers as plain numbers."""

from __future__ import annotations

import difflib
import re

# numpy's scalar reprs (numpy >= 2): np.float64(-5.0), np.int64(3), np.str_('x'), np.True_
_NUMPY_REPR = re.compile(r"\bnp\.(?:float|int|uint|complex)\d*\(([^()]*)\)|\bnp\.str_\(([^()]*)\)|\bnp\.(True|False)_")


def plain(text: str) -> str:
    """A message with numpy scalar reprs written as the plain values they hold."""
    return _NUMPY_REPR.sub(lambda m: next(g for g in m.groups() if g is not None), text)


def closest(word: str, known, n: int = 3) -> str:
    """'; did you mean a, b?' for a mistyped name (empty when nothing is close)."""
    near = difflib.get_close_matches(str(word), [str(k) for k in known], n=n, cutoff=0.6)
    return f"; did you mean {', '.join(near)}?" if near else ""


class InputError(Exception):
    """Bad input, located as precisely as we can: file, column, row (1-based data row)."""

    def __init__(self, message: str, *, file=None, column: str | None = None, row: int | None = None):
        self.message, self.file, self.column, self.row = plain(str(message)), file, column, row
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [str(self.file)] if self.file is not None else []
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        return f"{': '.join([', '.join(where), self.message]) if where else self.message}"
