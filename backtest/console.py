"""Terminal tables, aligned by rich: one look for `scenarios`, `sweep` and `bench`, and the same bytes
on a terminal, in a pipe or in a file (no colour, no box characters, no terminal width), so output
that scripts and tests read never depends on where it goes."""

from __future__ import annotations

import io


def _rule_box():
    """No lines but dashes under the header, columns apart: `name  kind` over `----  ----`."""
    from rich.box import Box
    return Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)


def table(head, rows, right=(), rule: bool = False) -> str:
    """Columns of `head` and `rows` (strings) aligned; the columns named in `right` right-aligned;
    `rule`: a line of dashes under the header."""
    from rich.console import Console
    from rich.table import Table
    t = Table(box=_rule_box() if rule else None, show_edge=False, pad_edge=False, header_style="", highlight=False,
              show_lines=False, padding=(0, 1))
    for name in head:
        t.add_column(name, justify="right" if name in right else "left", no_wrap=True)
    for row in rows:
        t.add_row(*(str(c) for c in row))
    out = io.StringIO()
    Console(file=out, width=100_000, color_system=None, force_terminal=False, force_jupyter=False,
            legacy_windows=False, emoji=False, markup=False, highlight=False).print(t)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())
