"""Compound v2: the Comptroller's liquidation maths in exact integers (exact.py)."""
