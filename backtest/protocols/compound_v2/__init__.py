"""Compound v2: the Comptroller's liquidation maths in exact mantissas with float twins (exact.py) and the
float terms the engine runs (terms.py)."""
