"""Aave v2, v3.0 and v3.3+ (and SparkLend, a v3.0 fork): the exact integer maths of each version (v2.py,
v3.py, v33.py, held equal to the deployed contracts by tests/chain), the float terms the engine runs
(terms.py) and the e-mode reserves of the book (emode.py)."""
