"""Aave v2, v3.0 and v3.3+: the exact integer maths of each version (v2.py, v3.py, v33.py), held equal to
the deployed contracts by tests/chain."""
