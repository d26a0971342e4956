"""Loaders: the lake's tables -> the arrays and venues a replay starts from (see docs/architecture.md)."""
