"""Compound v3 (Comet): the contract's absorb/buyCollateral maths (exact.py), its market-wide parameters
(params.py) and its mechanism in the replay (mechanism.py)."""
