"""The Markdown summary: the headline numbers and tables, short enough for a governance forum post."""

from __future__ import annotations

import pandas as pd


def md_table(df: pd.DataFrame) -> str:
    """GitHub/Discourse pipe table; numbers right-aligned, first column left."""
    cols = [str(c) for c in df.columns]
    clean = lambda v: str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(clean(c) for c in cols) + " |",
             "|" + "|".join([":---"] + ["---:"] * (len(cols) - 1)) + "|"]
    lines += ["| " + " | ".join(clean(v) for v in row) + " |" for row in df.itertuples(index=False, name=None)]
    return "\n".join(lines)


def summary(title: str, subtitle: str, banner: str | None, blocks: list[tuple[str, str | pd.DataFrame]],
            reproduce: str) -> str:
    """`blocks` are (heading, paragraph or table) in order; the reproduce command closes the post."""
    out = [f"## {title}", "", f"_{subtitle}_", ""]
    if banner:
        out += [f"> **{banner}**", ""]
    for heading, content in blocks:
        out += [f"### {heading}", ""]
        out += [md_table(content) if isinstance(content, pd.DataFrame) else content, ""]
    out += ["### Reproduce", "", "```sh", reproduce, "```", ""]
    return "\n".join(out)
