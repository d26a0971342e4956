"""Every verb's --help ends with an example that names the verb (issue 8, part 4)."""

from __future__ import annotations

import argparse
import re

from backtest.cli import build_parser


def _verbs() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_verb_has_an_example_in_its_help():
    missing = [name for name, p in _verbs().items()
               if not re.search(rf"^\s*(examples?:\s*)?backtest {re.escape(name)}\b", p.format_help(), re.M)]
    assert missing == []


def test_report_help_shows_the_compare_and_sweep_forms():
    text = _verbs()["report"].format_help()
    assert "--compare" in text and "backtest report results/my-sweep" in text
