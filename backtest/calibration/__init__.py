"""Calibration of the reference market's impact model on real data (docs/calibration.md).

`fits` holds the pure estimators (arrays in, numbers out), `read` the file readers that turn
../shared/data/real into those arrays, and `table` the assembly into `markets.impact_params`.
"""
