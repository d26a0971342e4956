"""Generators of the synthetic sample lake (`backtest sample-data`): what tests and the README's quick start run on."""
