"""One error type for bad input, so the CLI can print one line and exit non-zero."""

from __future__ import annotations


class InputError(Exception):
    """Bad input, located as precisely as we can: file, column, row (1-based data row)."""

    def __init__(self, message: str, *, file=None, column: str | None = None, row: int | None = None):
        self.message, self.file, self.column, self.row = message, file, column, row
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [str(self.file)] if self.file is not None else []
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        return f"{': '.join([', '.join(where), self.message]) if where else self.message}"
