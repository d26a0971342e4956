"""`backtest --help` and every verb's --help build their parsers without the engine's heavy modules
(issue 19, item 4); the light copies of heavy modules' constants match their sources."""

from __future__ import annotations

import argparse

from backtest.bench.cli_help import HEAVY, after_parser
from backtest.cli import COMMANDS, build_parser
from backtest.commands import common


def test_building_every_parser_imports_no_heavy_module():
    heavy, rss = after_parser()                 # a fresh interpreter: this test process has them all
    assert heavy == [], f"building the parser imported {heavy}: import them inside the command's run function"
    assert 0 < rss < 60                         # numpy + pandas alone take ~100 MB


def test_every_listed_command_is_a_verb_of_the_parser():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(COMMANDS)


def test_the_light_copies_match_the_heavy_modules():
    from backtest import run
    from backtest.ingest import fetch_prices, price_files, sources
    from backtest.lake import catalog
    from backtest.scenarios import montecarlo
    from backtest.sweep import executors
    from backtest.commands import ingest
    assert common.PATH_MODELS == montecarlo.MODELS
    assert common.EXECUTORS == executors.EXECUTORS
    assert common.PRICE_FORMATS == price_files.FORMATS
    assert common.KLINE_INTERVALS == tuple(fetch_prices.INTERVAL_MS)
    assert common.QUERIES == catalog.QUERIES
    assert common.DEFAULT_SCENARIO == run.DEFAULT_SCENARIO and common.default_lake() == run.default_lake()
    assert ingest.SOURCES == sources.SOURCES
    assert set(HEAVY) >= {"numpy", "pandas", "duckdb", "pyarrow"}


def _options():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [(verb, a) for verb, p in sub.choices.items() for a in p._actions if not isinstance(a, argparse._HelpAction)]


def test_every_option_of_every_command_has_help_text():
    assert [(verb, a.option_strings or a.dest) for verb, a in _options() if not a.help] == []


def test_every_lake_option_says_its_default_and_backtest_lake():
    lakes = [(verb, a.help) for verb, a in _options() if a.dest == "lake"]
    assert len(lakes) >= 8
    assert [(verb, text) for verb, text in lakes if "default" not in text or "$BACKTEST_LAKE" not in text] == []
