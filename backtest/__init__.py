"""Replay DeFi lending liquidation cascades on price paths, position by position."""

__version__ = "0.1.0"
