"""--grid parsing: the cartesian product in a fixed order, ranges without float noise, clear errors."""

import pytest

from backtest.errors import InputError
from backtest.sweep.grid import expand_values, parse_grid


def test_two_grids_make_a_product_with_the_first_grid_varying_slowest():
    keys, combos = parse_grid(["liquidation_threshold.CRV=0.3,0.4", "oracle.deviation=0.005,0.01,0.02"])
    assert keys == ["liquidation_threshold.CRV", "oracle.deviation"]
    # 2 x 3 = 6 sets
    assert combos == [("0.3", "0.005"), ("0.3", "0.01"), ("0.3", "0.02"),
                      ("0.4", "0.005"), ("0.4", "0.01"), ("0.4", "0.02")]


def test_a_range_includes_both_ends_and_has_no_float_noise():
    # 0.20, 0.25, ..., 0.45: (0.45 - 0.20) / 0.05 + 1 = 6 values; 0.2 + 0.05 in floats is 0.25000000000000006
    assert expand_values("liquidation_threshold.CRV", "0.20:0.45:0.05") == ["0.2", "0.25", "0.3", "0.35", "0.4", "0.45"]


def test_a_range_that_does_not_land_on_stop_stops_before_it():
    assert expand_values("k", "1:2:0.4") == ["1", "1.4", "1.8"]


def test_no_grid_means_only_the_baseline():
    assert parse_grid([]) == ([], [])


@pytest.mark.parametrize("grids, message", [
    (["liquidation_threshold"], "KEY=V1,V2"),
    (["liquidation_threshold="], "no values"),
    (["liquidation_threshold=0.3,,0.4"], "empty value"),
    (["liquidation_threshold=0.3,0.3"], "repeated"),
    (["liquidation_threshold=0.5:0.3:0.1"], "STOP >= START"),
    (["liquidation_threshold=0.3:x:0.1"], "three numbers"),
    (["close_factor=0.5", "close_factor=1"], "given twice"),
])
def test_bad_grids_are_input_errors(grids, message):
    with pytest.raises(InputError, match=message):
        parse_grid(grids)


def test_a_grid_too_large_is_refused_before_any_work():
    with pytest.raises(InputError, match="parameter sets"):
        parse_grid(["a=0:99:1", "b=0:99:1", "c=0:1:1"])   # 100 * 100 * 2 = 20,000 > 10,000
